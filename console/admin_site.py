"""Switchboard's admin site: Django's, with the customer-success dashboard on its index, a
second factor after the password (console/sign_in/), and changelists that take only the
lookups their filters offer (common/admin_lookups.py)."""

from django.contrib import admin

from common.admin_lookups import with_declared_lookups_only
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

    def register(self, model_or_iterable, admin_class=None, **options):
        # Every model admin, ours and other apps' (auth, axes, procrastinate) alike.
        admin_class = with_declared_lookups_only(admin_class or admin.ModelAdmin)
        super().register(model_or_iterable, admin_class, **options)

    def get_urls(self):
        return [*second_factor_urls(self), *super().get_urls()]
