"""What every log line says about where it comes from: the request, or the delivery a worker
is running.

    RequestIdMiddleware   takes the request's `X-Request-ID` (or makes one up), keeps it for
                          the request's log lines and echoes it in the response.
    delivery_logging      `with delivery_logging(delivery_id=...):` around a delivery's run.
    ContextFilter         puts both on every record (`request_id`, `delivery_id`), so that
                          formatters may print them; settings.LOGGING installs it.

And what no log line may say: an endpoint id, which for Openvolt is the credential.

    EndpointIdFilter      on every handler (settings.LOGGING; gunicorn's error and access logs
                          in config/gunicorn.py): the message, its arguments, its traceback
                          and stack keep the first 8 characters of an endpoint id only.
    JsonFormatter         the JSON lines' formatter, which also masks what it adds itself (a
                          traceback, the extra attributes of a record, such as Django's request).
"""

import json
import logging
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from urllib.parse import unquote

from pythonjsonlogger import json as jsonlogger

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
        acceptable = _ACCEPTABLE_ID.match(given) and not _holds_endpoint_id(request.path, given)
        request_id = given if acceptable else uuid.uuid4().hex
        request.request_id = request_id
        token = request_id_var.set(request_id)
        try:
            response = self.get_response(request)
        finally:
            request_id_var.reset(token)
        response[REQUEST_ID_HEADER] = request_id
        return response


def _holds_endpoint_id(path: str, request_id: str) -> bool:
    """Whether a request id repeats the endpoint id of the request's path: it would carry it
    into every line of the request (a request id is logged whole, JsonFormatter)."""
    match = _WEBHOOK_PATH.search(path)
    if match is None:
        return False
    endpoint_id = match.group(2).lower().replace("-", "")
    return endpoint_id in request_id.lower().replace("-", "")


# --- Endpoint ids -----------------------------------------------------------------------------

# How much of an endpoint id a log line keeps: enough to tell endpoints apart. Anything longer
# after `/webhooks/` is cut.
ENDPOINT_ID_SHOWN = 8
# Whatever follows `/webhooks/`: an id, a mistyped or percent-encoded one too.
_WEBHOOK_PATH = re.compile(r"(/webhooks/)([^/\s?#\"'<>\\]{9,})")
# An endpoint id anywhere else, with or without its dashes, in any case. It is the only uuid
# Switchboard has, and free text cannot tell it from any other: every uuid is cut short.
_UUID = re.compile(
    r"(?<![0-9A-Za-z])[0-9A-Fa-f]{8}(?:-?[0-9A-Fa-f]{4}){3}-?[0-9A-Fa-f]{12}(?![0-9A-Za-z])"
)
# A request line as gunicorn logs it is not decoded: `%30b3c9d12-...` is an id too.
_PERCENT_ENCODED = re.compile(r"[0-9A-Za-z%-]*%[0-9A-Fa-f]{2}[0-9A-Za-z%-]*")


def endpoint_ids_masked(text: str) -> str:
    """The text with every endpoint id cut to its first 8 characters: `/webhooks/0b3c9d12…/`."""
    text = _WEBHOOK_PATH.sub(lambda match: match.group(1) + _shortened(match.group(2)), text)
    text = _UUID.sub(lambda match: _shortened(match.group(0)), text)
    if "%" in text:
        text = _PERCENT_ENCODED.sub(_encoded_masked, text)
    return text


def _shortened(text: str) -> str:
    return text[:ENDPOINT_ID_SHOWN] + "…"


def _encoded_masked(match: re.Match) -> str:
    encoded = match.group(0)
    return _shortened(encoded) if _UUID.search(unquote(encoded)) else encoded


# Tracebacks as logging writes them by default, for the filter to mask before any formatter.
_TRACEBACKS = logging.Formatter()


class EndpointIdFilter(logging.Filter):
    """Masks endpoint ids in a record before any handler writes it (see endpoint_ids_masked).

    A record that holds none is left as it was, its arguments unformatted.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:
            # Arguments that do not fit the message: logging would print them as they are.
            message = f"{record.msg} {record.args!r}"
        masked = endpoint_ids_masked(message)
        if masked != message:
            record.msg, record.args = masked, ()
        if record.exc_info and not record.exc_text:
            text = _TRACEBACKS.formatException(record.exc_info)
            if endpoint_ids_masked(text) != text:
                record.exc_text = text
        if record.exc_text:
            record.exc_text = endpoint_ids_masked(record.exc_text)
        if record.stack_info:
            record.stack_info = endpoint_ids_masked(record.stack_info)
        return True


class JsonFormatter(jsonlogger.JsonFormatter):
    """JSON lines: python-json-logger's, with endpoint ids masked in every field it writes.

    It writes more than the message: the traceback, formatted afresh from the exception, and
    every extra attribute of the record (Django's `request`, whose text is its path). The
    request id is kept whole, to find a request's lines by: RequestIdMiddleware never keeps
    one that repeats the endpoint id.
    """

    def process_log_record(self, log_data: dict) -> dict:
        return {
            key: value if key == "request_id" else self._masked(value)
            for key, value in super().process_log_record(log_data).items()
        }

    def _masked(self, value):
        if isinstance(value, str):
            return endpoint_ids_masked(value)
        if value is None or isinstance(value, bool | int | float):
            return value
        # Anything else as the line will hold it (an object as its text), then masked.
        return _masked_json(json.loads(self.jsonify_log_record(value)))


def _masked_json(value):
    if isinstance(value, str):
        return endpoint_ids_masked(value)
    if isinstance(value, dict):
        return {key: _masked_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_masked_json(item) for item in value]
    return value
