"""`/health/live` and `/health/ready`: CONTRACT.md section 4b.

Both are public, answer JSON and hold no secret. `ready` is made to be polled every second:
three small queries, and the migrations expected are worked out once per process (reading
the migration files), then compared with `django_migrations`. It also gives the alert rules
their turn when they are due (console/alerts/web.py): the web side must be able to say that
the worker is missing.
"""

import functools
import logging

from django.conf import settings
from django.db import DatabaseError, connection
from django.db.migrations.loader import MigrationLoader
from django.http import JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from console.alerts.web import alert_rules_poke
from console.operations import worker_silence, worker_silence_text

logger = logging.getLogger(__name__)

OK = "ok"
UNKNOWN = "unknown: the database is unreachable"


@require_safe
@never_cache
def live(request):
    return JsonResponse({"status": OK})


@require_safe
@never_cache
def ready(request):
    checks = readiness_checks(connection=connection)
    healthy = all(value == OK for value in checks.values())
    if checks["database"] == OK:
        alert_rules_poke()
    return JsonResponse(
        {"status": OK if healthy else "unavailable", "checks": checks},
        status=200 if healthy else 503,
    )


def readiness_checks(*, connection) -> dict[str, str]:
    """ "ok", or why not, for the database, the migrations and the workers."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError as error:
        logger.warning("Readiness: the database is unreachable (%s)", type(error).__name__)
        return {"database": "unreachable", "migrations": UNKNOWN, "worker": UNKNOWN}
    return {
        "database": OK,
        "migrations": _migrations_check(connection),
        "worker": _worker_check(connection),
    }


@functools.cache
def expected_migrations() -> frozenset[tuple[str, str]]:
    """The latest migration of each app, from the files: read once per process."""
    return frozenset(MigrationLoader(None, ignore_no_migrations=True).graph.leaf_nodes())


def _migrations_check(connection) -> str:
    expected = expected_migrations()
    apps = sorted({app for app, _ in expected})
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT app, name FROM django_migrations WHERE app = ANY(%s)", [apps])
            applied = set(cursor.fetchall())
    except DatabaseError:
        return "pending: the database has never been migrated"
    pending = sorted(expected - applied)
    if not pending:
        return OK
    return "pending: " + ", ".join(f"{app}.{name}" for app, name in pending)


def _worker_check(connection) -> str:
    try:
        silence = worker_silence(now=timezone.now())
    except DatabaseError:
        return "unknown: the job tables are missing (migrate)"
    if silence is not None and silence.total_seconds() <= settings.WORKER_STALLED_AFTER_SECONDS:
        return OK
    return worker_silence_text(silence)
