from django.apps import AppConfig


class DemoConfig(AppConfig):
    """Demo data for trying the console and measuring it at scale (development only)."""

    name = "demo"
    verbose_name = "Demo data"
