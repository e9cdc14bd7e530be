"""Switchboard's admin site: Django's, with the customer-success dashboard on its index."""

from django.contrib import admin

from console.dashboard.build import dashboard_build


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
