"""Switchboard's admin site: Django's, with the customer-success dashboard on its index and a
second factor after the password (console/sign_in/)."""

from django.contrib import admin

from console.dashboard.build import dashboard_build
from console.sign_in.views import login_then_second_factor, second_factor_urls


class SwitchboardAdminSite(admin.AdminSite):
    site_header = "Switchboard"
    site_title = "Switchboard"
    index_title = "Deliveries, mirrors and follow-ups"
    # Changelists are wide; the navigation sidebar would squeeze their columns off the screen.
    enable_nav_sidebar = False

    def index(self, request, extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "dashboard": dashboard_build(request=request, site=self),
        }
        return super().index(request, extra_context)

    def login(self, request, extra_context=None):
        password_login = super().login
        return login_then_second_factor(request, lambda: password_login(request, extra_context))

    def get_urls(self):
        return [*second_factor_urls(self), *super().get_urls()]
