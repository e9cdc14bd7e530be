# Deliveries are pruned every hour (events/retention.py): autovacuum should reclaim the rows
# removed, and those the worker's updates leave, about daily rather than once a fifth of a table
# of millions is dead (PostgreSQL's default), so that the intake reuses the space instead of
# growing the files. Changing these settings takes no lock that the intake or the worker waits on.

from django.db import migrations

TABLES = [
    "events_delivery",
    "events_deliveryreceipt",
    "events_deliveryattempt",
    "events_deliveryitem",
]


class Migration(migrations.Migration):
    dependencies = [
        ("events", "0008_delivery_body_hash"),
    ]

    operations = [
        migrations.RunSQL(
            sql=[
                f"ALTER TABLE {table} SET (autovacuum_vacuum_scale_factor = 0.02)"
                for table in TABLES
            ],
            reverse_sql=[
                f"ALTER TABLE {table} RESET (autovacuum_vacuum_scale_factor)" for table in TABLES
            ],
        ),
    ]
