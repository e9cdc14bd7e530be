# Modules, not classes (but Django's base): a second AppConfig with `default = True` in this
# module's namespace would be taken for the console app's own configuration.
from axes import apps as axes_apps
from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps
from django_otp.plugins.otp_totp import apps as otp_totp_apps


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


class LockoutsConfig(axes_apps.AppConfig):
    """django-axes (failed logins and lockouts), named for the staff who unlock people."""

    default = False
    verbose_name = "Sign-in lockouts"


class AuthenticatorAppsConfig(otp_totp_apps.DefaultConfig):
    """django-otp's TOTP devices: staff's authenticator apps."""

    default = False
    verbose_name = "Authenticator apps"
