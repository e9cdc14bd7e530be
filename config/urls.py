from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from events.views import WebhookIntakeView

urlpatterns = [
    path("webhooks/<uuid:endpoint_id>/", WebhookIntakeView.as_view(), name="webhook-intake"),
    path("admin/", admin.site.urls),
]

if settings.OPENVOLT_SANDBOX:
    # Openvolt's API played locally (sandbox/): development only, off unless DEBUG by default.
    urlpatterns.append(path("sandbox/openvolt/v1/", include("sandbox.urls")))
