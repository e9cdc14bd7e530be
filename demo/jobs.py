"""The jobs of the demo deliveries that wait for the worker."""

from uuid import UUID

from django.db import connection, transaction

from events.models import Delivery
from events.tasks import delivery_run_queue


def waiting_deliveries_queue(*, endpoint_ids: dict[str, UUID]) -> int:
    """Pending and failed deliveries wait for the worker: give them their jobs, as the
    intake and the retry schedule would have. Returns how many jobs were queued."""
    waiting = Delivery.objects.filter(
        endpoint_id__in=endpoint_ids.values(),
        status__in=[
            Delivery.Status.PENDING,
            Delivery.Status.PROCESSING,
            Delivery.Status.FAILED,
        ],
    ).values_list("pk", "next_attempt_at")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT DISTINCT (args->>'delivery_id')::bigint FROM procrastinate_jobs "
            "WHERE task_name = 'events.process_delivery' AND status = 'todo'"
        )
        queued = {row[0] for row in cursor.fetchall()}
    count = 0
    with transaction.atomic():
        for delivery_id, next_attempt_at in waiting:
            if delivery_id not in queued:
                delivery_run_queue(delivery_id=delivery_id, at=next_attempt_at)
                count += 1
    return count
