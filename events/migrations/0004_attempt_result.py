from django.db import migrations, models


class Migration(migrations.Migration):
    """An attempt's outcome is its result; `ignored` was never written (ignored deliveries
    make no attempt)."""

    dependencies = [
        ("events", "0003_drop_redundant_fk_index"),
    ]

    operations = [
        migrations.RenameField(model_name="deliveryattempt", old_name="outcome", new_name="result"),
        migrations.AlterField(
            model_name="deliveryattempt",
            name="result",
            field=models.CharField(
                choices=[("running", "Running"), ("processed", "Processed"), ("failed", "Failed")],
                default="running",
                max_length=20,
            ),
        ),
    ]
