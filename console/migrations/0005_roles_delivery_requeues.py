"""The staff groups see the jobs queued again of a delivery (console/roles.py)."""

from django.db import migrations

from console.roles import roles_apply


def roles_grant_requeues(apps, schema_editor):
    roles_apply(apps=apps, using=schema_editor.connection.alias)


class Migration(migrations.Migration):
    dependencies = [
        ("console", "0004_roles_delivery_items"),
        ("events", "0006_delivery_requeues"),
    ]

    operations = [migrations.RunPython(roles_grant_requeues, migrations.RunPython.noop)]
