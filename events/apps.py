from django.apps import AppConfig


class EventsConfig(AppConfig):
    name = "events"
    verbose_name = "Webhook deliveries"

    def ready(self):
        from django.core import checks

        from events.checks import openvolt_api_key_check, secrets_encryption_key_check

        # Registers the handlers of each source with events/dispatch.py.
        from events.sources import nectar_handlers, openvolt_handlers  # noqa: F401

        checks.register(openvolt_api_key_check)
        checks.register(secrets_encryption_key_check)
