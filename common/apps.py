from django.apps import AppConfig


class CommonConfig(AppConfig):
    """The leaf every app may use and which uses none: admin kit, exports, charts, locks, the
    mirror rule, moments and days."""

    name = "common"
    verbose_name = "Common"
