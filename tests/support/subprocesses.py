"""Django processes of the project's own (workers, scripts) run against the test database."""

import os
import subprocess
import sys
from urllib.parse import quote

from django.conf import settings
from django.db import connection


def subprocess_database_url() -> str:
    """The test database's URL, for a process of its own (the test's data must be committed:
    a transactional test)."""
    db = connection.settings_dict
    credentials = quote(db["USER"] or "", safe="")
    if db["PASSWORD"]:
        credentials += ":" + quote(db["PASSWORD"], safe="")
    # The embedded server's socket folder comes in OPTIONS (from the URL's ?host=).
    host = db["HOST"] or db["OPTIONS"].get("host") or "127.0.0.1"
    if host.startswith("/"):
        # A Unix socket (the embedded server): its folder goes in the query string.
        return f"postgres://{credentials}@/{db['NAME']}?host={quote(host, safe='/')}"
    return f"postgres://{credentials}@{host}:{db['PORT'] or 5432}/{db['NAME']}"


def subprocess_env(openvolt_api, **extra: str) -> dict[str, str]:
    """The environment of a Switchboard process pointed at the test database and the fake
    Openvolt API."""
    return {
        **os.environ,
        "DATABASE_URL": subprocess_database_url(),
        "SECRET_KEY": "test-only-not-secret",
        "DEBUG": "false",
        "ALLOWED_HOSTS": "127.0.0.1",
        "OPENVOLT_API_URL": openvolt_api.url,
        "OPENVOLT_API_KEY": openvolt_api.api_key,
        "PYTHONUNBUFFERED": "1",
        **extra,
    }


def manage_py(*arguments: str, env: dict[str, str], log_path) -> subprocess.Popen:
    """`python manage.py <arguments>` in a process of its own, its output in `log_path`."""
    with open(log_path, "wb") as log:
        return subprocess.Popen(
            [sys.executable, "manage.py", *arguments],
            cwd=settings.BASE_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
