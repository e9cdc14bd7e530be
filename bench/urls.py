"""Switchboard's URLs plus the two baselines the intake is measured against: a bare view, and
the floor of any durable intake."""

import json
import os

from django.db import connection
from django.http import JsonResponse
from django.urls import include, path
from django.views.decorators.csrf import csrf_exempt

from bench import BARE_PATH, FLOOR_PATH, FLOOR_TABLE


@csrf_exempt
def bare(request):
    """No database, no parsing: what Django and gunicorn cost on their own.

    It names its gunicorn worker, so that the bench can spread its connections evenly.
    """
    return JsonResponse({"ok": True, "worker": os.getpid()})


@csrf_exempt
def floor(request):
    """The least a durable intake does: parse the body and commit one INSERT of it before
    answering (autocommit: the statement is its own transaction). No authentication, no
    duplicate check, no receipt, no job."""
    document = json.loads(request.body)
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {FLOOR_TABLE} (body) VALUES (%s)", [json.dumps(document)])
    return JsonResponse({"ok": True}, status=202)


urlpatterns = [
    path(BARE_PATH.strip("/") + "/", bare, name="bench-bare"),
    path(FLOOR_PATH.strip("/") + "/", floor, name="bench-floor"),
    path("", include("config.urls")),
]
