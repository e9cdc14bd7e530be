"""procrastinate's jobs, as the tests look at them."""

from django.db import connection
from django.db.models import QuerySet
from procrastinate.contrib.django.models import ProcrastinateJob

from events.models import Delivery

PROCESS_TASK = "events.process_delivery"


def jobs_for(delivery: Delivery | int) -> QuerySet[ProcrastinateJob]:
    """The jobs queued to process the delivery (given, or its id), oldest first."""
    delivery_id = delivery.pk if isinstance(delivery, Delivery) else delivery
    return ProcrastinateJob.objects.filter(
        task_name=PROCESS_TASK, args__delivery_id=delivery_id
    ).order_by("id")


def delete_all_jobs() -> None:
    """procrastinate's tables are not Django's, so a transactional test's flush leaves them."""
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM procrastinate_jobs")
