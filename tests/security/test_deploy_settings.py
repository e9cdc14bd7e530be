"""The settings as a deployment gets them from its environment: `check --deploy` finds nothing
to warn about, production defaults hold when DEBUG is off, and `make run` (DEBUG on) keeps a
one-step login over plain HTTP."""

import json
import os
import secrets
import subprocess
import sys

from cryptography.fernet import Fernet
from django.conf import settings

# A database that is never reached: the checks read settings only. Set, so that no embedded
# server starts.
PRODUCTION = {
    "DEBUG": "false",
    "SECRET_KEY": secrets.token_urlsafe(60),
    "ALLOWED_HOSTS": "example.com",
    "DATABASE_URL": "postgres://switchboard@127.0.0.1:5432/switchboard",
    "SECRETS_ENCRYPTION_KEY": Fernet.generate_key().decode(),
}
READ = [
    "REQUIRE_2FA",
    "LOGIN_FAILURE_LIMIT",
    "AXES_FAILURE_LIMIT",
    "LOGIN_LOCKOUT_MINUTES",
    "AXES_COOLOFF_TIME",
    "SECURE_SSL_REDIRECT",
    "SECURE_HSTS_SECONDS",
    "SESSION_COOKIE_AGE",
]


def _run(arguments: list[str], environment: dict[str, str]) -> subprocess.CompletedProcess:
    # Only what a fresh deployment has: none of the test run's own settings leak in.
    base = {name: os.environ[name] for name in ("PATH", "HOME", "LANG") if name in os.environ}
    return subprocess.run(
        [sys.executable, *arguments],
        cwd=settings.BASE_DIR,
        env={**base, **environment},
        capture_output=True,
        text=True,
        timeout=120,
    )


def settings_of(**environment: str) -> dict:
    script = (
        "import json, django; django.setup(); from django.conf import settings as s; "
        f"print(json.dumps({{n: str(getattr(s, n)) for n in {READ!r}}}))"
    )
    done = _run(["-c", script], {"DJANGO_SETTINGS_MODULE": "config.settings", **environment})
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_check_deploy_warns_of_nothing_with_production_settings():
    done = _run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], PRODUCTION)

    assert done.returncode == 0, done.stdout + done.stderr
    assert "System check identified no issues (0 silenced)." in done.stdout


def test_production_refuses_to_start_without_a_secrets_encryption_key():
    unset = {name: value for name, value in PRODUCTION.items() if name != "SECRETS_ENCRYPTION_KEY"}

    done = _run(["manage.py", "check"], unset)

    assert done.returncode == 1
    assert "ImproperlyConfigured: Set SECRETS_ENCRYPTION_KEY" in done.stderr


def test_production_defaults_when_debug_is_off():
    assert settings_of(**PRODUCTION) == {
        "REQUIRE_2FA": "True",
        "LOGIN_FAILURE_LIMIT": "5",
        "AXES_FAILURE_LIMIT": "5",
        "LOGIN_LOCKOUT_MINUTES": "15",
        "AXES_COOLOFF_TIME": "0:15:00",
        "SECURE_SSL_REDIRECT": "True",
        "SECURE_HSTS_SECONDS": "31536000",
        "SESSION_COOKIE_AGE": "28800",
    }


def test_the_environment_sets_the_lockout_and_the_second_factor():
    chosen = settings_of(
        **PRODUCTION, LOGIN_FAILURE_LIMIT="3", LOGIN_LOCKOUT_MINUTES="60", REQUIRE_2FA="false"
    )

    assert chosen["AXES_FAILURE_LIMIT"] == "3"
    assert chosen["AXES_COOLOFF_TIME"] == "1:00:00"
    assert chosen["REQUIRE_2FA"] == "False"


def test_development_logs_in_in_one_step_over_plain_http():
    development = settings_of(DEBUG="true", DATABASE_URL=PRODUCTION["DATABASE_URL"])

    assert development["REQUIRE_2FA"] == "False"
    assert development["SECURE_SSL_REDIRECT"] == "False"
    assert development["SECURE_HSTS_SECONDS"] == "0"
