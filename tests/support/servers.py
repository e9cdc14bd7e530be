"""Switchboard served by gunicorn, as the Procfile's web line serves it, against the test
database (a transactional test: the server reads committed data)."""

import os
import subprocess
import sys
import urllib.error
import urllib.request
from contextlib import contextmanager
from typing import IO

from django.conf import settings

from tests.support.smtp import free_port
from tests.support.subprocesses import subprocess_database_url
from tests.support.waiting import wait_for


@contextmanager
def gunicorn_serving(
    *,
    workers: int = 1,
    threads: int = 2,
    arguments: tuple[str, ...] = (),
    output: IO | None = None,
    **environment: str,
):
    """Yield the base URL of a gunicorn serving config.wsgi, stopped afterwards.

    `arguments` are added to its command line (`--access-logfile -`, as the Procfile's); with
    `output`, a file, its standard output and error are written there.
    """
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": subprocess_database_url(),
        "DEBUG": "false",
        "SECRET_KEY": "test-only-not-secret",
        "ALLOWED_HOSTS": "127.0.0.1",
        "CONN_MAX_AGE": "0",
        "LOG_LEVEL": "WARNING",
        **environment,
    }
    server = subprocess.Popen(
        [
            *(sys.executable, "-m", "gunicorn", "config.wsgi"),
            *("-c", "config/gunicorn.py", "--bind", f"127.0.0.1:{port}"),
            *("--workers", str(workers), "--threads", str(threads)),
            *arguments,
        ],
        cwd=settings.BASE_DIR,
        env=env,
        stdout=subprocess.DEVNULL if output is None else output,
        stderr=subprocess.PIPE if output is None else output,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _reachable(f"{base}/health/live"), timeout=30, what="gunicorn to answer")
        yield base
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def _reachable(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status == 200
    except (OSError, urllib.error.HTTPError):
        return False
