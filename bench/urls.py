"""Switchboard's URLs plus a bare view: the baseline the intake is measured against."""

import os

from django.http import JsonResponse
from django.urls import include, path
from django.views.decorators.csrf import csrf_exempt

from bench import BARE_PATH


@csrf_exempt
def bare(request):
    """No database, no parsing: what Django and gunicorn cost on their own.

    It names its gunicorn worker, so that the bench can spread its connections evenly.
    """
    return JsonResponse({"ok": True, "worker": os.getpid()})


urlpatterns = [
    path(BARE_PATH.strip("/") + "/", bare, name="bench-bare"),
    path("", include("config.urls")),
]
