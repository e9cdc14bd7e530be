from django.apps import AppConfig


class EventsConfig(AppConfig):
    name = "events"
    verbose_name = "Webhook deliveries"

    def ready(self):
        from django.core import checks
        from django.db.models.signals import post_delete, post_save

        from events.checks import (
            delivery_retention_check,
            openvolt_api_key_check,
            secrets_encryption_key_check,
        )
        from events.endpoint_cache import endpoints_forget
        from events.models import WebhookEndpoint

        # Registers the handlers of each source with events/dispatch.py.
        from events.sources import nectar_handlers, openvolt_handlers  # noqa: F401

        post_save.connect(endpoints_forget, sender=WebhookEndpoint)
        post_delete.connect(endpoints_forget, sender=WebhookEndpoint)

        checks.register(openvolt_api_key_check)
        checks.register(secrets_encryption_key_check)
        checks.register(delivery_retention_check)
