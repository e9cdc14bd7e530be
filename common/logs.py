"""What every log line says about where it comes from: the request, or the delivery a worker
is running.

    RequestIdMiddleware   takes the request's `X-Request-ID` (or makes one up), keeps it for
                          the request's log lines and echoes it in the response.
    delivery_logging      `with delivery_logging(delivery_id=...):` around a delivery's run.
    ContextFilter         puts both on every record (`request_id`, `delivery_id`), so that
                          formatters may print them; settings.LOGGING installs it.
"""

import logging
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

REQUEST_ID_HEADER = "X-Request-ID"
request_id_var: ContextVar[str] = ContextVar("request_id", default="")
delivery_id_var: ContextVar[str] = ContextVar("delivery_id", default="")
# What a proxy or client may set: letters, digits and a few separators, 200 at most.
_ACCEPTABLE_ID = re.compile(r"^[A-Za-z0-9._:@/+=-]{1,200}$")


class ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        record.delivery_id = delivery_id_var.get()
        return True


@contextmanager
def delivery_logging(*, delivery_id: int | str) -> Iterator[None]:
    """Log lines written inside the block name the delivery."""
    token = delivery_id_var.set(str(delivery_id))
    try:
        yield
    finally:
        delivery_id_var.reset(token)


class RequestIdMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        given = request.headers.get(REQUEST_ID_HEADER, "")
        request_id = given if _ACCEPTABLE_ID.match(given) else uuid.uuid4().hex
        request.request_id = request_id
        token = request_id_var.set(request_id)
        try:
            response = self.get_response(request)
        finally:
            request_id_var.reset(token)
        response[REQUEST_ID_HEADER] = request_id
        return response
