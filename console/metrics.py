"""`GET /metrics`: Prometheus text, for a bearer of METRICS_TOKEN (404 without one set).

Two kinds of figures meet here: the per-process counters and histograms of every process on
this machine (common/metrics.py, added up from PROMETHEUS_MULTIPROC_DIR), and the counts that
live in PostgreSQL, read at scrape time by DatabaseCollector, so that any web process gives
the same answer (console/operations.py says what each read costs).
"""

import hmac
import logging

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.http import HttpResponse, HttpResponseNotFound
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest, multiprocess
from prometheus_client.core import GaugeMetricFamily

from console import operations
from console.models import Alert

logger = logging.getLogger(__name__)

# A scrape never holds the database longer than this.
STATEMENT_TIMEOUT_MS = 5000


@require_safe
@never_cache
def metrics(request):
    token = settings.METRICS_TOKEN
    if not token:
        return HttpResponseNotFound("Not found.\n", content_type="text/plain")
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        given.strip().encode(), token.encode()
    ):
        response = HttpResponse("A valid bearer token is required.\n", status=401)
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        response["Content-Type"] = "text/plain"
        return response
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    registry.register(DatabaseCollector())
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)


class DatabaseCollector:
    """The gauges whose truth is in PostgreSQL, read at each scrape."""

    def collect(self):
        up = GaugeMetricFamily(
            "switchboard_database_up", "Whether the scrape could read the database (1) or not."
        )
        try:
            families = self._read()
        except DatabaseError:
            logger.warning("/metrics could not read the database", exc_info=True)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from families

    def _read(self) -> list[GaugeMetricFamily]:
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(f"SET LOCAL statement_timeout = {STATEMENT_TIMEOUT_MS}")
            deliveries = operations.deliveries_by_status(today=timezone.localdate())
            queues = operations.queues()
            alive = operations.workers_alive()
            alerts = operations.alerts_unresolved()
        return [
            _family(
                "switchboard_deliveries",
                "Deliveries held, by status (pending, processing, failed and dead counted "
                "exactly; processed, ignored and rejected from the daily counts).",
                ["status"],
                {(status,): count for status, count in deliveries.items()},
            ),
            _family(
                "switchboard_queue_jobs",
                "Live jobs per queue: todo (due), scheduled (todo, due later), doing.",
                ["queue", "status"],
                {
                    (queue.name, status): getattr(queue, status)
                    for queue in queues
                    for status in ("todo", "scheduled", "doing")
                },
            ),
            _family(
                "switchboard_queue_oldest_job_age_seconds",
                "How long the oldest due job of each queue has waited; 0 when none waits.",
                ["queue"],
                {(queue.name,): queue.oldest_age for queue in queues},
            ),
            _family(
                "switchboard_workers_alive",
                "Workers whose heartbeat is younger than WORKER_STALLED_AFTER_SECONDS.",
                [],
                {(): alive},
            ),
            _family(
                "switchboard_alerts_open",
                "Alerts not resolved yet, by kind and status (open or acknowledged).",
                ["kind", "status"],
                {
                    (kind, status): alerts.get((kind, status), 0)
                    for kind in Alert.Kind.values
                    for status in Alert.UNRESOLVED
                },
            ),
        ]


def _family(name: str, documentation: str, labels: list[str], values: dict) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, documentation, labels=labels)
    for label_values, value in values.items():
        family.add_metric(list(label_values), value)
    return family
