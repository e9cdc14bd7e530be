"""Customer success (and so Integration admin) re-fetch the half-hours a meter is missing
(console/roles.py)."""

from django.db import migrations

from console.roles import roles_apply


def roles_grant_refetch(apps, schema_editor):
    roles_apply(apps=apps, using=schema_editor.connection.alias)


class Migration(migrations.Migration):
    dependencies = [
        ("console", "0007_roles_sign_in"),
        ("meters", "0005_meter_completeness"),
    ]

    operations = [migrations.RunPython(roles_grant_refetch, migrations.RunPython.noop)]
