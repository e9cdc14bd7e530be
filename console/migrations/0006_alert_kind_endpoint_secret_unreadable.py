"""Alerts of a kind more: a Nectar endpoint holds a signing secret that cannot be read."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("console", "0005_roles_delivery_requeues"),
    ]

    operations = [
        migrations.AlterField(
            model_name="alert",
            name="kind",
            field=models.CharField(
                choices=[
                    ("delivery_dead", "Delivery failed for good"),
                    ("endpoint_silent", "Endpoint gone quiet"),
                    ("worker_missing", "No background worker"),
                    ("openvolt_key_refused", "Openvolt refuses the API key"),
                    ("endpoint_secret_unreadable", "Signing secret unreadable"),
                    ("failure_rate", "Many deliveries failing"),
                    ("queue_age", "Jobs waiting too long"),
                ],
                max_length=40,
            ),
        ),
    ]
