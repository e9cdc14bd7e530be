from datetime import datetime

from procrastinate.contrib.django import app


@app.task(name="events.process_delivery", queue="deliveries")
def process_delivery(delivery_id: int) -> None:
    # Imported here: processing queues this task, so it imports this module.
    from events.processing import delivery_process

    delivery_process(delivery_id=delivery_id)


def queue_processing(delivery_id: int, *, at: datetime | None = None) -> None:
    """Queue a run of the delivery, in the caller's transaction.

    The lock keeps two runs of one delivery (a retry and a reprocess, say) from overlapping.
    """
    process_delivery.configure(lock=f"delivery:{delivery_id}", schedule_at=at).defer(
        delivery_id=delivery_id
    )
