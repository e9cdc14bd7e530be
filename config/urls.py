from django.contrib import admin
from django.urls import path

from events.views import WebhookIntakeView

admin.site.site_header = "Switchboard"
admin.site.site_title = "Switchboard"
admin.site.index_title = "Deliveries, mirrors and follow-ups"
# Changelists are wide; the navigation sidebar would squeeze their columns off the screen.
admin.site.enable_nav_sidebar = False

urlpatterns = [
    path("webhooks/<uuid:endpoint_id>/", WebhookIntakeView.as_view(), name="webhook-intake"),
    path("admin/", admin.site.urls),
]
