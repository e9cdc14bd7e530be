"""Reads about the running system, shared by /health/ready, /metrics and the alert rules:
the workers' heartbeats, the job queues, and deliveries by status.

Each is cheap on a large database: procrastinate's live jobs (todo, doing) through its
partial indexes, never its finished ones (kept forever, millions of rows); deliveries in the
statuses that come and go through the (status, received_at) index; the rest from the daily
counts the worker keeps (events.DeliveryDailyCount).
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection
from django.db.models import Count, Sum
from procrastinate.contrib.django import app

from console.models import Alert, AlertCheck
from events.models import Delivery, DeliveryDailyCount

# Counted exactly: rows in these statuses are work in progress, so few unless a backlog.
COUNTED_STATUSES = (
    Delivery.Status.PENDING,
    Delivery.Status.PROCESSING,
    Delivery.Status.FAILED,
    Delivery.Status.DEAD,
)
# Read from the daily counts: they pile up to millions within the retention period.
SUMMED_STATUSES = (
    Delivery.Status.PROCESSED,
    Delivery.Status.IGNORED,
    Delivery.Status.REJECTED,
)

_LATEST_HEARTBEAT = f"""
    SELECT greatest(
        (SELECT max(last_heartbeat) FROM procrastinate_workers),
        (SELECT worker_seen_at FROM {AlertCheck._meta.db_table} WHERE id = 1)
    )
"""
_WORKERS_ALIVE = """
    SELECT count(*) FROM procrastinate_workers
    WHERE last_heartbeat > now() - make_interval(secs => %s)
"""
# Live jobs only (status todo or doing: procrastinate's partial indexes). A waiting job is
# `todo` and due; `scheduled` is todo for later (a retry). Its wait runs from when it was
# queued (procrastinate's `deferred` event) or, for a scheduled job, from when it fell due.
_QUEUES = """
    WITH live AS (
        SELECT queue_name,
            count(*) FILTER (WHERE status = 'todo' AND coalesce(scheduled_at <= now(), true))
                AS todo,
            count(*) FILTER (WHERE status = 'todo' AND scheduled_at > now()) AS scheduled,
            count(*) FILTER (WHERE status = 'doing') AS doing,
            min(id) FILTER (WHERE status = 'todo' AND scheduled_at IS NULL) AS first_id,
            min(scheduled_at) FILTER (WHERE status = 'todo' AND scheduled_at <= now())
                AS first_due
        FROM procrastinate_jobs
        WHERE status IN ('todo', 'doing')
        GROUP BY queue_name
    )
    SELECT queue_name, todo, scheduled, doing,
        extract(epoch FROM now() - least(
            (SELECT min(at) FROM procrastinate_events
             WHERE job_id = live.first_id AND type = 'deferred'),
            first_due
        ))
    FROM live
"""


@dataclass(frozen=True)
class Queue:
    name: str
    todo: int = 0
    scheduled: int = 0
    doing: int = 0
    # Seconds the oldest due job has waited; 0 when none waits.
    oldest_age: float = 0.0


def worker_latest_heartbeat() -> datetime | None:
    """The latest heartbeat of any worker: procrastinate's, or the one the alert rules last
    saw (a worker that stops cleanly deletes its row)."""
    with connection.cursor() as cursor:
        cursor.execute(_LATEST_HEARTBEAT)
        return cursor.fetchone()[0]


def worker_silence(*, now: datetime) -> timedelta | None:
    """How long since the latest heartbeat; None when no worker ever sent one."""
    latest = worker_latest_heartbeat()
    return None if latest is None else max(now - latest, timedelta(0))


def worker_silence_text(silence: timedelta | None) -> str:
    if silence is None:
        return "no worker has sent a heartbeat"
    return f"no heartbeat for {int(silence.total_seconds())} s"


def workers_alive() -> int:
    with connection.cursor() as cursor:
        cursor.execute(_WORKERS_ALIVE, [settings.WORKER_STALLED_AFTER_SECONDS])
        return cursor.fetchone()[0]


def queue_names() -> list[str]:
    """The queues of every registered task, so that an empty queue still reads 0."""
    return sorted({task.queue for task in app.tasks.values()})


def queues() -> list[Queue]:
    with connection.cursor() as cursor:
        cursor.execute(_QUEUES)
        found = {
            name: Queue(name, todo, scheduled, doing, max(float(age or 0), 0.0))
            for name, todo, scheduled, doing, age in cursor.fetchall()
        }
    return [found.get(name, Queue(name)) for name in sorted({*queue_names(), *found})]


def deliveries_by_status(*, today) -> dict[str, int]:
    """Deliveries held now, per status (COUNTED_STATUSES exactly, SUMMED_STATUSES as of the
    worker's last recount of the days within DELIVERY_RETENTION_DAYS)."""
    counts = dict.fromkeys(Delivery.Status.values, 0)
    counted = (
        Delivery.objects.filter(status__in=COUNTED_STATUSES)
        .values_list("status")
        .annotate(count=Count("pk"))
        .order_by()
    )
    counts.update(counted)
    retention = getattr(settings, "DELIVERY_RETENTION_DAYS", 90)
    summed = (
        DeliveryDailyCount.objects.filter(
            day__gte=today - timedelta(days=retention), status__in=SUMMED_STATUSES
        )
        .values_list("status")
        .annotate(count=Sum("count"))
        .order_by()
    )
    counts.update(summed)
    return counts


def alerts_unresolved() -> dict[tuple[str, str], int]:
    """(kind, status) -> how many alerts are open or acknowledged."""
    rows = (
        Alert.objects.filter(status__in=Alert.UNRESOLVED)
        .values_list("kind", "status")
        .annotate(count=Count("pk"))
        .order_by()
    )
    return {(kind, status): count for kind, status, count in rows}
