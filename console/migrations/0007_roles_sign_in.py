"""Customer success unlocks locked-out logins; Integration admin also resets authenticator apps
(console/roles.py)."""

from django.db import migrations

from console.roles import roles_apply


def roles_grant_sign_in(apps, schema_editor):
    roles_apply(apps=apps, using=schema_editor.connection.alias)


class Migration(migrations.Migration):
    dependencies = [
        ("console", "0006_alert_kind_endpoint_secret_unreadable"),
        ("axes", "0010_accessattemptexpiration"),
        ("otp_totp", "0003_add_timestamps"),
    ]

    operations = [migrations.RunPython(roles_grant_sign_in, migrations.RunPython.noop)]
