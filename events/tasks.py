from datetime import UTC, datetime

from django.conf import settings
from django.db import InterfaceError, OperationalError, connection
from procrastinate import RetryStrategy
from procrastinate.contrib.django import app

from common.logs import delivery_logging

# A run that lost its database (restarted, failed over) is run again by the job itself; one
# whose job ended meanwhile is queued again by the sweeper.
DATABASE_LOST = RetryStrategy(
    max_attempts=20, wait=5, retry_exceptions={OperationalError, InterfaceError}
)


@app.task(name="events.process_delivery", queue="deliveries", retry=DATABASE_LOST)
def process_delivery(delivery_id: int) -> None:
    # Imported here: processing queues this task, so it imports this module.
    from events.processing import delivery_process

    with delivery_logging(delivery_id=delivery_id):
        delivery_process(delivery_id=delivery_id)


def delivery_run_queue(*, delivery_id: int, at: datetime | None = None) -> None:
    """Queue a run of the delivery, in the caller's transaction.

    The lock keeps two runs of one delivery (a retry and a reprocess, say) from overlapping.
    """
    process_delivery.configure(lock=f"delivery:{delivery_id}", schedule_at=at).defer(
        delivery_id=delivery_id
    )


@app.task(name="events.process_item", queue="items", retry=DATABASE_LOST)
def process_item(item_id: int) -> None:
    from events.items import item_process

    item_process(item_id=item_id)


# Jobs written per statement when a delivery fans out: a payload may name 100,000 items.
ITEM_JOBS_PER_BATCH = 5000


def item_runs_queue(*, item_ids: list[int], at: datetime | None = None) -> None:
    """Queue a run of each item, in the caller's transaction, a few thousand per statement.

    Each job holds the lock of its item, so that two runs of one item (a retry and a
    reprocess, say) never overlap; items of one meter take turns on the meter's lock instead.
    """
    deferrer = process_item.configure(schedule_at=at)
    for offset in range(0, len(item_ids), ITEM_JOBS_PER_BATCH):
        batch = item_ids[offset : offset + ITEM_JOBS_PER_BATCH]
        app.job_manager.batch_defer_jobs(
            jobs=[
                deferrer.make_new_job(item_id=item_id).evolve(lock=f"item:{item_id}")
                for item_id in batch
            ]
        )


def item_queued_runs_cancel(*, item_ids: list[int]) -> None:
    """Cancel the runs of these items still waiting (scheduled retries), in the caller's
    transaction: a run queued now would otherwise wait behind them. One statement, through
    procrastinate's own function, however many items."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT procrastinate_cancel_job_v1(id, false, false) FROM procrastinate_jobs "
            "WHERE lock = ANY(%s) AND status = 'todo'",
            [[f"item:{item_id}" for item_id in item_ids]],
        )


def delivery_queued_runs_cancel(*, delivery_id: int) -> None:
    """Cancel the runs of the delivery still waiting (a scheduled retry, say), in the caller's
    transaction.

    Jobs sharing a lock run in the order they were queued, scheduled or not: a run queued now
    would otherwise wait behind a retry scheduled hours ahead.
    """
    for job in app.job_manager.list_jobs(lock=f"delivery:{delivery_id}", status="todo"):
        app.job_manager.cancel_job_by_id(job.id)


# Retried after 4 s, 16 s, 1 min … 18 h: an SMTP server down for hours still gets its e-mails.
@app.task(
    name="events.notify_subscribers",
    queue="notifications",
    retry=RetryStrategy(max_attempts=10, exponential_wait=4),
)
def notify_subscribers(delivery_id: int) -> None:
    from events.notifications import notifications_send

    notifications_send(delivery_id=delivery_id)


@app.periodic(cron="* * * * *", periodic_id="recover_stalled_jobs")
@app.task(
    name="events.recover_stalled_jobs",
    queue="maintenance",
    queueing_lock="recover_stalled_jobs",
)
async def recover_stalled_jobs(timestamp: int) -> int:
    """Put back in the queue the jobs of workers that stopped sending heartbeats (killed,
    out of memory, machine lost), so that no job is lost with its worker."""
    stalled = await app.job_manager.get_stalled_jobs(
        seconds_since_heartbeat=settings.WORKER_STALLED_AFTER_SECONDS
    )
    for job in stalled:
        await app.job_manager.retry_job(job)
    return len(stalled)


@app.periodic(cron="* * * * *", periodic_id="recount_delivery_days")
@app.task(
    name="events.recount_delivery_days",
    queue="maintenance",
    queueing_lock="recount_delivery_days",
)
def recount_delivery_days(timestamp: int) -> int:
    """Keep the dashboard's daily counts of deliveries current (events/daily_counts.py)."""
    from events.daily_counts import delivery_daily_counts_refresh

    return delivery_daily_counts_refresh(at=datetime.fromtimestamp(timestamp, tz=UTC))


@app.periodic(cron="* * * * *", periodic_id="sweep_lost_work")
@app.task(name="events.sweep_lost_work", queue="maintenance", queueing_lock="sweep_lost_work")
def sweep_lost_work(timestamp: int) -> int:
    """Queue again the deliveries and items left waiting with no job to run them, as after a
    database outage (events/sweeper.py); returns how many."""
    from events.sweeper import lost_work_requeue

    swept = lost_work_requeue(now=datetime.fromtimestamp(timestamp, tz=UTC))
    return swept.deliveries + swept.items


@app.periodic(cron="7 * * * *", periodic_id="purge_expired_secrets")
@app.task(
    name="events.purge_expired_secrets",
    queue="maintenance",
    queueing_lock="purge_expired_secrets",
)
def purge_expired_secrets(timestamp: int) -> int:
    """Delete the Nectar signing secrets whose rotation overlap has ended (hourly: an expired
    secret verifies nothing meanwhile); returns how many."""
    from events.services import endpoint_secrets_purge

    return endpoint_secrets_purge(now=datetime.fromtimestamp(timestamp, tz=UTC))


# Hourly, off the hour (when the daily counts are recounted in full): an hour's share of a
# day's deliveries a run, a batch or two, rather than a day's at night; the space they free is
# reused by the intake as autovacuum reclaims it.
PRUNE_CRON = "17 * * * *"
# A run that finds a backlog (a first run on years of deliveries) stops after this long, and
# the next one goes on: the maintenance queue's other jobs run every minute.
PRUNE_RUN_SECONDS = 120


@app.periodic(cron=PRUNE_CRON, periodic_id="prune_deliveries")
@app.task(name="events.prune_deliveries", queue="maintenance", queueing_lock="prune_deliveries")
def prune_deliveries(timestamp: int) -> int:
    """Remove the finished deliveries older than DELIVERY_RETENTION_DAYS (events/retention.py);
    returns how many."""
    from events.retention import deliveries_prune

    return deliveries_prune(
        now=datetime.fromtimestamp(timestamp, tz=UTC), seconds=PRUNE_RUN_SECONDS
    ).total
