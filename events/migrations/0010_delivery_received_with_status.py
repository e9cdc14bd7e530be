"""The deliveries' (received_at, id) index also carries the status, so that the dashboard counts
a day of deliveries by status from the index alone. Built before the old one is dropped, both
without locking the intake out (CONCURRENTLY, hence outside a transaction)."""

from django.contrib.postgres.operations import AddIndexConcurrently, RemoveIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("events", "0009_delivery_retention_autovacuum"),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="delivery",
            index=models.Index(
                fields=["-received_at", "-id"], include=["status"], name="delivery_received_status"
            ),
        ),
        RemoveIndexConcurrently(model_name="delivery", name="delivery_received"),
    ]
