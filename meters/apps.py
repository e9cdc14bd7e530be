from django.apps import AppConfig


class MetersConfig(AppConfig):
    name = "meters"
    verbose_name = "Customers and meters"

    def ready(self):
        from django.core import checks

        from meters.checks import meter_time_zone_check

        checks.register(meter_time_zone_check)
