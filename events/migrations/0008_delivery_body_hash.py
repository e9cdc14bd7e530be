# The hash of each delivery's body, when a later body differed, and the receipt's `conflict`.
#
# Not atomic, for the index: built CONCURRENTLY, it does not hold the intake's inserts for the
# time it takes to read a table of millions of deliveries. The two columns are nullable, with
# no default: adding them rewrites nothing.

from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("events", "0007_signing_secrets_encrypted"),
    ]

    operations = [
        migrations.AddField(
            model_name="delivery",
            name="body_sha256",
            field=models.BinaryField(
                help_text="Of the first body as received, byte for byte.",
                max_length=32,
                null=True,
                verbose_name="body SHA-256",
            ),
        ),
        migrations.AddField(
            model_name="delivery",
            name="last_conflict_at",
            field=models.DateTimeField(
                blank=True,
                help_text="When an arrival under this id last carried a different body.",
                null=True,
                verbose_name="last body conflict",
            ),
        ),
        migrations.AlterField(
            model_name="deliveryreceipt",
            name="verdict",
            field=models.CharField(
                choices=[
                    ("accepted", "Accepted"),
                    ("duplicate", "Duplicate"),
                    ("conflict", "Conflict: a different body"),
                    ("rejected", "Rejected"),
                ],
                max_length=20,
            ),
        ),
        AddIndexConcurrently(
            model_name="delivery",
            index=models.Index(
                condition=models.Q(("last_conflict_at__isnull", False)),
                fields=["-last_conflict_at"],
                name="delivery_conflict",
            ),
        ),
    ]
