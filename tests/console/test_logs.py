"""Log lines and error reports: the request id, JSON lines with LOG_FORMAT=json, the delivery
a worker runs, and Sentry's events redacted as storage is."""

import io
import json
import logging
import logging.config
import os
import subprocess
import sys
import uuid
from pathlib import Path

from django.conf import settings

from common.logs import delivery_logging
from config.sentry import before_send

BASE_DIR = Path(__file__).resolve().parents[2]


def test_the_request_id_given_is_echoed(client, db):
    response = client.get("/health/live", HTTP_X_REQUEST_ID="trace-abc-123")

    assert response["X-Request-ID"] == "trace-abc-123"


def test_a_request_id_is_made_up_when_none_or_an_unusable_one_is_given(client, db):
    made_up = client.get("/health/live")["X-Request-ID"]
    replaced = client.get("/health/live", HTTP_X_REQUEST_ID="no spaces\nor newlines")[
        "X-Request-ID"
    ]

    assert uuid.UUID(made_up) and uuid.UUID(replaced)
    assert made_up != replaced


def json_lines(emit) -> list[dict]:
    """Lines written through the JSON formatter and the context filter of the settings."""
    stream = io.StringIO()
    config = {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": settings.LOGGING["filters"],
        "formatters": {"json": settings.LOGGING["formatters"]["json"]},
        "handlers": {
            "memory": {
                "class": "logging.StreamHandler",
                "stream": stream,
                "formatter": "json",
                "filters": ["context"],
            }
        },
        "loggers": {"switchboard.test": {"handlers": ["memory"], "level": "INFO"}},
    }
    logging.config.dictConfig(config)
    emit(logging.getLogger("switchboard.test"))
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_json_lines_say_time_level_logger_message_request_and_delivery(client, db, monkeypatch):
    def emit(logger):
        with delivery_logging(delivery_id=42):
            logger.warning("Delivery %s failed", 42)
        logger.info("outside")

    first, second = json_lines(emit)

    assert set(first) >= {"time", "level", "logger", "message", "request_id", "delivery_id"}
    assert (first["level"], first["logger"], first["message"]) == (
        "WARNING",
        "switchboard.test",
        "Delivery 42 failed",
    )
    assert (first["delivery_id"], second["delivery_id"]) == ("42", "")


def test_log_format_json_is_one_object_a_line_and_text_stays_the_default():
    script = "import logging; logging.getLogger('switchboard.try').warning('hello')"
    env = {**os.environ, "DEBUG": "false", "SECRET_KEY": "x", "ALLOWED_HOSTS": "localhost"}

    as_json = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", script],
        cwd=BASE_DIR,
        env={**env, "LOG_FORMAT": "json"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    as_text = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", script],
        cwd=BASE_DIR,
        env={key: value for key, value in env.items() if key != "LOG_FORMAT"},
        capture_output=True,
        text=True,
        timeout=60,
    )

    line = json.loads(as_json.stderr.strip().splitlines()[-1])
    assert (line["level"], line["logger"], line["message"]) == (
        "WARNING",
        "switchboard.try",
        "hello",
    )
    assert as_text.stderr.strip().splitlines()[-1].endswith("WARNING switchboard.try: hello")


def test_sentry_events_are_redacted_as_storage_is():
    endpoint = "0b3f6d5e-8f3e-4a45-9b9a-1c2d3e4f5a6b"
    event = {
        "transaction": f"/webhooks/{endpoint}/",
        "request": {
            "url": f"https://switchboard.example.org/webhooks/{endpoint}/",
            "headers": {"svix-signature": "v1,abc", "X-Api-Key": "key", "Accept": "*/*"},
            "data": {"event_id": "api_keys.rotated", "payload": {"live_api_key": "k" * 40}},
        },
        "logentry": {
            "message": f'Failed: {{"live_api_key": "{"z" * 30}"}} at /webhooks/{endpoint}/'
        },
        "breadcrumbs": {"values": [{"message": f"POST /webhooks/{endpoint}/"}]},
    }

    redacted = json.dumps(before_send(event))

    assert endpoint not in redacted
    assert "k" * 40 not in redacted and "z" * 30 not in redacted
    assert "v1,abc" not in redacted and '"key"' not in redacted
    assert "/webhooks/<endpoint>/" in redacted and "****kkkk" in redacted


def test_sentry_dsn_turns_sentry_on_without_personal_data():
    script = (
        "import sentry_sdk; from config.sentry import before_send; "
        "client = sentry_sdk.get_client(); "
        "print(client.is_active(), client.options['send_default_pii'], "
        "client.options['before_send'] is before_send, client.options['include_local_variables'])"
    )
    env = {
        **os.environ,
        "DEBUG": "false",
        "SECRET_KEY": "x",
        "ALLOWED_HOSTS": "localhost",
        "SENTRY_DSN": "http://public@127.0.0.1:9/1",
    }

    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", script],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.stdout.splitlines()[-1].split() == ["True", "False", "True", "False"], (
        result.stderr
    )
