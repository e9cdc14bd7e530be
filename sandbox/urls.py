"""The sandbox's routes, mounted under `/sandbox/openvolt/v1/` when OPENVOLT_SANDBOX is on.

No trailing slashes: the paths are Openvolt's, which our client calls as they are.
"""

from django.urls import path

from sandbox import views

urlpatterns = [
    path("interval-data", views.interval_data, name="sandbox-interval-data"),
    path("meters", views.meters_create, name="sandbox-meters"),
    path("meters/<str:meter_id>", views.meter_detail, name="sandbox-meter"),
    path("customers/<str:customer_id>", views.customer_detail, name="sandbox-customer"),
    path(
        "hosted-consents/<str:consent_id>",
        views.hosted_consent_detail,
        name="sandbox-hosted-consent",
    ),
    # Anything else answers as an API does, in JSON, rather than with Django's HTML page.
    path("<path:rest>", views.unknown_route),
]
