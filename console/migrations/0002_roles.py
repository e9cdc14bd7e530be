"""The staff groups, Customer success and Integration admin, as console/roles.py defines them.

On a fresh database no permission exists yet while migrations run: roles_apply creates them
first. Models added by later migrations reach the groups through `manage.py sync_roles`.
"""

from django.db import migrations

from console.roles import roles_apply, roles_remove


def groups_create(apps, schema_editor):
    roles_apply(apps=apps, using=schema_editor.connection.alias)


def groups_delete(apps, schema_editor):
    roles_remove(apps=apps, using=schema_editor.connection.alias)


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("events", "0002_delivery_daily_count"),
        ("meters", "0002_readings_received_daily"),
        ("consents", "0002_followupnote"),
        ("console", "0001_initial"),
    ]

    operations = [migrations.RunPython(groups_create, groups_delete)]
