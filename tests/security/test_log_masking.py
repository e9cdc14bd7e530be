"""No log line carries an endpoint id in clear (CONTRACT.md 4): for Openvolt it is the
credential. Django's lines, Switchboard's and gunicorn's (its error and access logs) keep its
first 8 characters only, in text and in JSON."""

import io
import json
import logging
import os
import subprocess
import sys
import urllib.error
import urllib.request
from contextlib import contextmanager
from types import SimpleNamespace

import pytest
from django.conf import settings

from common import logs
from tests.factories import OpenvoltEndpointFactory
from tests.support.servers import gunicorn_serving
from tests.support.webhooks import post_json

UNKNOWN = "0b3c9d12-7e5f-4a1b-9c8d-2e3f4a5b6c7d"


def in_clear(endpoint_id: str) -> list[str]:
    """What may not be written: the id in either form, or any part of it past the 8th
    character that is long enough to be told apart."""
    text = str(endpoint_id)
    return [text, text.upper(), text.replace("-", ""), text[9:]]


def readable(log: str) -> str:
    """The log with its JSON lines' escapes (`\\u2026`) read."""
    lines = []
    for line in log.splitlines():
        try:
            lines.append(json.dumps(json.loads(line), ensure_ascii=False))
        except ValueError:
            lines.append(line)
    return "\n".join(lines)


def assert_masked(log: str, *endpoint_ids: str) -> None:
    log = readable(log)
    for endpoint_id in endpoint_ids:
        for form in in_clear(endpoint_id):
            assert form not in log, log
        assert str(endpoint_id)[:8] + "…" in log, log


def console_handler() -> logging.Handler:
    """The handler settings.LOGGING gives the root logger."""
    return next(h for h in logging.getLogger().handlers if h.get_name() == "console")


@contextmanager
def console_output(log_format: str):
    """What the settings' console handler writes, with the formatter of LOG_FORMAT."""
    handler = console_handler()
    stream = io.StringIO()
    saved_stream, saved_formatter = handler.setStream(stream), handler.formatter
    if log_format == "json":
        config = settings.LOGGING["formatters"]["json"]
        handler.setFormatter(
            logs.JsonFormatter(config["fmt"], rename_fields=config["rename_fields"])
        )
    try:
        yield stream
    finally:
        handler.setStream(saved_stream)
        handler.setFormatter(saved_formatter)


@pytest.mark.django_db
@pytest.mark.parametrize("log_format", ["text", "json"])
def test_djangos_lines_of_a_404_and_a_400_keep_8_characters_of_the_id(
    api_client, caplog, log_format
):
    endpoint = OpenvoltEndpointFactory()

    with console_output(log_format) as output, caplog.at_level(logging.INFO):
        unknown = post_json(api_client, SimpleNamespace(path=f"/webhooks/{UNKNOWN}/"), {})
        invalid = post_json(api_client, endpoint, b"{not json")
        rejected = api_client.get(f"/webhooks/{UNKNOWN.upper()}/")

    assert (unknown.status_code, invalid.status_code, rejected.status_code) == (404, 400, 405)
    log = output.getvalue()
    assert "Not Found" in log and "Bad Request" in log and "Method Not Allowed" in log
    assert_masked(log, UNKNOWN, str(endpoint.id))
    assert_masked(caplog.text, UNKNOWN, str(endpoint.id))
    if log_format == "json":
        messages = [json.loads(line)["message"] for line in log.splitlines()]
        assert f"Bad Request: /webhooks/{str(endpoint.id)[:8]}…/" in messages


@pytest.mark.django_db
@pytest.mark.parametrize("log_format", ["text", "json"])
def test_an_id_in_arguments_a_traceback_or_a_bare_uuid_is_masked(log_format):
    logger = logging.getLogger("switchboard.test")

    with console_output(log_format) as output:
        logger.warning("Endpoint %s refused", UNKNOWN)
        logger.warning("Path %(path)s", {"path": f"/webhooks/{UNKNOWN}/?x=1"})
        logger.warning("As sent: /webhooks/%s/", UNKNOWN.replace("0b", "%30b", 1))
        try:
            raise RuntimeError(f"Key (endpoint_id)=({UNKNOWN}) is not present")
        except RuntimeError:
            logger.exception("Failed")
        logger.warning("Stack", stack_info=True, extra={"endpoint": UNKNOWN})

    assert_masked(output.getvalue(), UNKNOWN)
    assert "RuntimeError: Key (endpoint_id)=(0b3c9d12…) is not present" in readable(
        output.getvalue()
    )


# Run where Django has configured logging and nothing else has touched it: every handler
# that writes somewhere, with whether it masks.
HANDLERS_SCRIPT = """
import logging
from common.logs import EndpointIdFilter
loggers = [logging.getLogger()] + [
    logger for logger in logging.Logger.manager.loggerDict.values()
    if isinstance(logger, logging.Logger)
]
for logger in loggers:
    for handler in logger.handlers:
        if not isinstance(handler, logging.NullHandler):
            masks = any(isinstance(f, EndpointIdFilter) for f in handler.filters)
            print("handler:", logger.name, type(handler).__name__, masks)
"""


@pytest.mark.parametrize("debug", ["false", "true"])
def test_every_handler_masks_endpoint_ids(debug):
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", HANDLERS_SCRIPT],
        cwd=settings.BASE_DIR,
        env={**os.environ, "DEBUG": debug, "SECRET_KEY": "x", "ALLOWED_HOSTS": "localhost"},
        capture_output=True,
        text=True,
        timeout=60,
    )

    handlers = [
        line.split()[1:] for line in result.stdout.splitlines() if line.startswith("handler:")
    ]
    assert handlers, result.stderr
    assert [h for h in handlers if h[-1] != "True"] == []


def test_masking_keeps_what_is_not_an_id():
    text = "Delivery 42 of meter 65c361949ecb86c35d5ef1c0 at /webhooks/short/ (sha 1f2e3d)"

    assert logs.endpoint_ids_masked(text) == text
    once = logs.endpoint_ids_masked(f"/webhooks/{UNKNOWN}/ and {UNKNOWN}")
    assert once == logs.endpoint_ids_masked(once) == "/webhooks/0b3c9d12…/ and 0b3c9d12…"


def test_a_request_id_that_repeats_the_endpoint_id_is_not_kept(client, db):
    response = client.get(f"/webhooks/{UNKNOWN}/", HTTP_X_REQUEST_ID=f"trace-{UNKNOWN}")

    assert UNKNOWN not in response["X-Request-ID"]


def test_gunicorns_own_error_log_masks_ids(tmp_path):
    from gunicorn.config import Config

    from config.gunicorn import logger_class

    config = Config()
    config.set("errorlog", str(tmp_path / "error.log"))
    config.set("accesslog", str(tmp_path / "access.log"))
    log = logger_class(config)

    log.error("Error handling request /webhooks/%s/", UNKNOWN)
    for handler in log.error_log.handlers + log.access_log.handlers:
        handler.flush()

    assert_masked((tmp_path / "error.log").read_text(), UNKNOWN)


def request(base: str, path: str, body: bytes | None = None) -> int:
    call = urllib.request.Request(
        base + path, data=body, method="POST", headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(call, timeout=20) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def percent_encoded(path: str) -> str:
    """The path with the first character of the endpoint id percent-encoded."""
    head, _, endpoint_id = path.rstrip("/").rpartition("/")
    return f"{head}/%{ord(endpoint_id[0]):02x}{endpoint_id[1:]}/"


@pytest.mark.live
@pytest.mark.usefixtures("live_database")
@pytest.mark.parametrize("log_format", ["text", "json"])
def test_gunicorn_serving_as_the_procfile_says_logs_no_id(tmp_path, log_format):
    endpoint = OpenvoltEndpointFactory()
    log_file = tmp_path / "gunicorn.log"

    with (
        log_file.open("w") as output,
        gunicorn_serving(
            arguments=("--access-logfile", "-"),
            output=output,
            LOG_FORMAT=log_format,
            LOG_LEVEL="INFO",
        ) as base,
    ):
        statuses = [
            request(base, f"/webhooks/{UNKNOWN}/", b"{}"),
            request(base, endpoint.path, b"{not json"),
            # As a sender may spell it: gunicorn's request line is not decoded.
            request(base, percent_encoded(endpoint.path), b"{"),
        ]

    assert statuses == [404, 400, 400]
    log = log_file.read_text()
    assert "Not Found" in log and "Bad Request" in log and '"POST /webhooks/' in log
    assert_masked(log, UNKNOWN, str(endpoint.id))


def test_sentry_events_carry_no_endpoint_id_in_exceptions_params_or_breadcrumbs():
    from config.sentry import before_send

    event = {
        "logentry": {
            "message": "Endpoint %s failed",
            "params": [UNKNOWN],
            "formatted": f"Endpoint {UNKNOWN} failed",
        },
        "exception": {
            "values": [{"type": "IntegrityError", "value": f"Key (endpoint_id)=({UNKNOWN})"}]
        },
        "breadcrumbs": {
            "values": [{"category": "httplib", "data": {"url": f"http://x/webhooks/{UNKNOWN}/"}}]
        },
    }

    sent = json.dumps(before_send(event), ensure_ascii=False)

    assert_masked(sent, UNKNOWN)
