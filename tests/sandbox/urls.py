"""Switchboard's URLs with the sandbox mounted, as OPENVOLT_SANDBOX=true makes them.

config/urls.py reads the setting once, at import, and the suite runs with DEBUG (hence the
sandbox) off: tests that call the sandbox point ROOT_URLCONF here.
"""

from django.urls import include, path

urlpatterns = [
    path("sandbox/openvolt/v1/", include("sandbox.urls")),
    path("", include("config.urls")),
]
