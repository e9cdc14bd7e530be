from django.apps import AppConfig

# The module, not the class: a second AppConfig with `default = True` in this module's
# namespace would be taken for the console app's own configuration.
from django.contrib.admin import apps as admin_apps


class ConsoleConfig(AppConfig):
    name = "console"
    verbose_name = "Customer-success console"
    default = True

    def ready(self):
        # Connects the receivers that keep the log of exports.
        from console import export_log  # noqa: F401


class SwitchboardAdminConfig(admin_apps.AdminConfig):
    """Django's admin, with Switchboard's site (console/admin_site.py) as `admin.site`."""

    default = False
    default_site = "console.admin_site.SwitchboardAdminSite"
