"""Nectar's signing secrets, encrypted at rest (common/secret_box.py).

The column is widened for a Fernet token, each stored secret is encrypted in place under the
first key of SECRETS_ENCRYPTION_KEY (or the key derived from SECRET_KEY while it is unset), then
the column is renamed, so that nothing reads a token for a secret, and a check keeps anything
but a token out of it. Reversed, the secrets are decrypted again; one that no key decrypts stops
the reversal rather than be lost.
"""

from django.db import migrations, models

from common import secret_box


def secrets_encrypt(apps, schema_editor):
    EndpointSecret = apps.get_model("events", "EndpointSecret")
    for row in EndpointSecret.objects.only("pk", "secret").order_by("pk"):
        row.secret = secret_box.encrypt(row.secret)
        row.save(update_fields=["secret"])


def secrets_decrypt(apps, schema_editor):
    EndpointSecret = apps.get_model("events", "EndpointSecret")
    decrypted, unreadable = [], 0
    for row in EndpointSecret.objects.only("pk", "secret").order_by("pk"):
        try:
            row.secret = secret_box.decrypt(row.secret)
        except secret_box.Undecryptable:
            unreadable += 1
        else:
            decrypted.append(row)
    if unreadable:
        raise RuntimeError(
            f"{unreadable} signing secrets cannot be decrypted with SECRETS_ENCRYPTION_KEY: "
            "put back the key they were encrypted with, or delete them, before reversing."
        )
    EndpointSecret.objects.bulk_update(decrypted, ["secret"], batch_size=500)


class Migration(migrations.Migration):
    dependencies = [("events", "0006_delivery_requeues")]

    operations = [
        # A token is about 2.7 times as long as its secret, plus 76 characters.
        migrations.AlterField(
            model_name="endpointsecret",
            name="secret",
            field=models.TextField(),
        ),
        migrations.RunPython(secrets_encrypt, secrets_decrypt),
        migrations.RenameField(
            model_name="endpointsecret",
            old_name="secret",
            new_name="encrypted_secret",
        ),
        migrations.AlterField(
            model_name="endpointsecret",
            name="encrypted_secret",
            field=models.TextField(help_text="The secret as a Fernet token, never in clear."),
        ),
        migrations.AddConstraint(
            model_name="endpointsecret",
            constraint=models.CheckConstraint(
                condition=models.Q(encrypted_secret__startswith="gAAAAA"),
                name="endpointsecret_encrypted",
            ),
        ),
    ]
