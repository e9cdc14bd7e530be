from csp.constants import UNSAFE_INLINE
from csp.decorators import csp_update
from django.conf import settings
from django.contrib import admin
from django.contrib.admin.views.decorators import staff_member_required
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView

from console import health, metrics
from events.views import UnknownEndpointView, WebhookIntakeView

urlpatterns = [
    path("webhooks/<uuid:endpoint_id>/", WebhookIntakeView.as_view(), name="webhook-intake"),
    path("webhooks/<str:endpoint_id>/", UnknownEndpointView.as_view()),
    path("admin/", admin.site.urls),
    # Operations: CONTRACT.md section 4b.
    path("health/live", health.live, name="health-live"),
    path("health/ready", health.ready, name="health-ready"),
    path("metrics", metrics.metrics, name="metrics"),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path(
        "api/docs/",
        # Redoc writes its CSS into <style> elements as it draws, draws icons from data: URLs
        # and searches in a worker it makes from a blob: so much more on this page only. Its
        # scripts, like every page's, come from this site alone.
        csp_update({"style-src": [UNSAFE_INLINE], "img-src": ["data:"], "worker-src": ["blob:"]})(
            staff_member_required(SpectacularRedocView.as_view(url_name="api-schema"))
        ),
        name="api-docs",
    ),
]

if settings.OPENVOLT_SANDBOX:
    # Openvolt's API played locally (sandbox/): development only, off unless DEBUG by default.
    urlpatterns.append(path("sandbox/openvolt/v1/", include("sandbox.urls")))
