"""The staff groups see the items of deliveries worked item by item (console/roles.py)."""

from django.db import migrations

from console.roles import roles_apply


def roles_grant_items(apps, schema_editor):
    roles_apply(apps=apps, using=schema_editor.connection.alias)


class Migration(migrations.Migration):
    dependencies = [
        ("console", "0003_alerts"),
        ("events", "0005_delivery_items"),
    ]

    operations = [migrations.RunPython(roles_grant_items, migrations.RunPython.noop)]
