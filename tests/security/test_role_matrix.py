"""The role matrix: for each staff role and every model the admin site registers, which pages
open (list, add, change, history, delete, autocomplete), which query-string lookups a list
takes, and that nothing a Customer-success user can reach (every page linked from the admin,
every export) shows an endpoint id, a signing secret or the Openvolt API key."""

import html
import io
import json
import re
from collections import Counter, deque
from urllib.parse import parse_qsl, urljoin, urlsplit

import pytest
from axes.models import AccessAttempt, AccessFailureLog
from django.contrib import admin
from django.contrib.admin.models import CHANGE, LogEntry
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice
from openpyxl import load_workbook

from console.models import Alert, ExportLog
from console.roles import CUSTOMER_SUCCESS, INTEGRATION_ADMIN
from events.models import Delivery, DeliveryItem, EmailSubscription
from events.services import endpoint_create
from meters.models import ApiKeyRotation, PlatformUser
from tests.factories import FollowUpFactory, StaffUserFactory
from tests.support.admin import action_names
from tests.support.webhooks import nectar_event, nectar_headers, openvolt_envelope, post_json

CS, IA = CUSTOMER_SUCCESS, INTEGRATION_ADMIN
OPENVOLT_API_KEY = "ov-live-Kq7uXw2RzT9pLm4N"

# What each role may do with each model's admin pages: v(iew), a(dd), c(hange), d(elete).
# Every model the admin site registers is here (a test checks it), so a new admin page gets
# a line, and with it a decision about who may open it.
MATRIX = {
    "auth.group": ("", ""),
    "auth.user": ("", ""),
    "axes.accesslog": ("", ""),
    "axes.accessfailurelog": ("", ""),
    "axes.accessattempt": ("vd", "vd"),
    "procrastinate.procrastinatejob": ("", ""),
    "events.delivery": ("v", "v"),
    "events.deliveryitem": ("v", "v"),
    "events.webhookendpoint": ("", "vacd"),
    "events.emailsubscription": ("v", "vacd"),
    "meters.customer": ("v", "v"),
    "meters.meter": ("v", "v"),
    "meters.intervalreading": ("v", "v"),
    "meters.utilitybill": ("v", "v"),
    "meters.platformuser": ("v", "v"),
    "meters.apikeyrotation": ("v", "v"),
    "consents.hostedconsent": ("v", "v"),
    "consents.utilityconnection": ("v", "v"),
    "consents.followup": ("vc", "vc"),
    "console.alert": ("vc", "vc"),
    "console.exportlog": ("", "v"),
    "otp_totp.totpdevice": ("", "vd"),
}

# Where a request needs the permission named by the letter.
PAGES = {"changelist": "v", "add": "a", "change": "v", "history": "v", "delete": "d"}

# Lookups the security review used against the delivery list; each must be refused.
PROBES = [
    "endpoint__id__startswith=e",
    "endpoint__id__gte=8",
    "payload__icontains=meter",
    "unparsed_body__regex=.",
    "error_traceback__icontains=Error",
    "external_id__startswith=d",
]


@pytest.fixture
def world(api_client, settings, db):
    """Something of everything: demo data, an Openvolt endpoint with no description and a
    signed Nectar delivery, and a row for each model the demo leaves empty."""
    settings.OPENVOLT_API_KEY = OPENVOLT_API_KEY
    call_command("seed_demo_data", deliveries=60, readings=300, customers=6, stdout=io.StringIO())
    openvolt, _ = endpoint_create(source="openvolt", description="")
    nectar, secret = endpoint_create(source="nectar", description="Nectar of the matrix")
    post_json(api_client, openvolt, openvolt_envelope("customer.created", "ov-matrix"))
    body = json.dumps(nectar_event()).encode()
    headers = nectar_headers(secret, body, message_id="msg_matrix")
    assert post_json(api_client, nectar, body, headers).status_code == 202

    someone = StaffUserFactory(username="someone")
    EmailSubscription.objects.create(email="ops@example.org", event_type="customer.created")
    Alert.objects.create(kind=Alert.Kind.choices[0][0], subject="queue:deliveries", detail="x")
    FollowUpFactory()
    ExportLog.objects.create(
        user=someone,
        model_label="events.delivery",
        format="csv",
        query_string=f"endpoint={nectar.pk}",
        started_at=timezone.now(),
    )
    PlatformUser.objects.create(external_id="usr-1", email="user@example.org")
    ApiKeyRotation.objects.create(
        account_id="acc-1", key_last_four=OPENVOLT_API_KEY[-4:], rotated_at=timezone.now()
    )
    AccessFailureLog.objects.create(username="someone", ip_address="192.0.2.1")
    AccessAttempt.objects.create(username="someone", ip_address="192.0.2.1", failures_since_start=2)
    TOTPDevice.objects.create(user=someone, name="phone", confirmed=True)
    delivery = Delivery.objects.get(external_id="ov-matrix")
    DeliveryItem.objects.create(
        delivery=delivery, position=0, kind="meter_data", subject="mtr-1", parameters={"a": 1}
    )
    LogEntry.objects.log_actions(
        someone.pk, [delivery], CHANGE, change_message="Reprocessed", single_object=True
    )
    # An endpoint's history may name it; Customer success never opens it.
    LogEntry.objects.log_actions(
        someone.pk,
        [openvolt],
        CHANGE,
        change_message=f"Moved to {openvolt.path}",
        single_object=True,
    )
    secrets = [
        str(openvolt.pk),
        openvolt.pk.hex,
        str(nectar.pk),
        nectar.pk.hex,
        secret,
        secret.removeprefix("whsec_"),
        headers["svix-signature"].split(",", 1)[1],
        OPENVOLT_API_KEY,
    ]
    return {"secrets": secrets, "openvolt": openvolt}


def sign_in(client, group_name):
    client.force_login(StaffUserFactory(groups=[group_name]))
    return client


def registered():
    return {
        model._meta.label_lower: (model, model_admin)
        for model, model_admin in admin.site._registry.items()
    }


def page_url(model, page, obj=None):
    meta = model._meta
    name = f"admin:{meta.app_label}_{meta.model_name}_{page}"
    return (
        reverse(name, args=[obj.pk]) if page in {"change", "history", "delete"} else reverse(name)
    )


def test_the_matrix_names_every_registered_model():
    assert set(MATRIX) == set(registered())


@pytest.mark.parametrize("role", [CS, IA])
def test_each_role_opens_exactly_the_pages_its_permissions_give(client, world, role):
    sign_in(client, role)
    wrong = []
    for label, (model, _) in registered().items():
        granted = MATRIX[label][role == IA]
        obj = model._default_manager.order_by("pk").first()
        assert obj is not None, f"the fixture made no {label}"
        for page, letter in PAGES.items():
            expected = 200 if letter in granted else 403
            status = client.get(page_url(model, page, obj)).status_code
            if status != expected:
                wrong.append((label, page, status, expected))
    assert wrong == []


def autocomplete_queries():
    """An autocomplete request for every foreign key of every registered model."""
    for model in admin.site._registry:
        for field in model._meta.get_fields():
            if field.many_to_one and admin.site.is_registered(field.related_model):
                yield (
                    field.related_model,
                    {
                        "app_label": model._meta.app_label,
                        "model_name": model._meta.model_name,
                        "field_name": field.name,
                        "term": "a",
                    },
                )


@pytest.mark.parametrize("role", [CS, IA])
def test_autocomplete_answers_only_about_what_the_role_may_view(client, world, role):
    """Django's autocomplete lists the objects a foreign key may point to, searched by their
    admin's search fields: only to whom may view them."""
    sign_in(client, role)
    wrong = []
    for remote, query in autocomplete_queries():
        searchable = bool(admin.site.get_model_admin(remote).search_fields)
        viewed = "v" in MATRIX[remote._meta.label_lower][role == IA]
        expected = 403 if not viewed else 200 if searchable else 404
        status = client.get(reverse("admin:autocomplete"), query).status_code
        if status != expected:
            wrong.append((query["model_name"], query["field_name"], status, expected))
    assert wrong == []


@pytest.mark.parametrize("probe", PROBES)
@pytest.mark.parametrize("role", [CS, IA])
def test_the_delivery_list_refuses_lookups_its_filters_do_not_offer(client, world, role, probe):
    sign_in(client, role)

    response = client.get(
        f"{reverse('admin:events_delivery_changelist')}?{probe}&source__exact=openvolt"
    )

    assert response.status_code == 400


def test_no_list_takes_a_lookup_on_a_field_it_does_not_filter_by(admin_client, world):
    """Every field of every registered model, with `__icontains` and `__startswith`: refused,
    on every list, whoever asks (here a superuser, who may open every list)."""
    accepted = []
    for model in admin.site._registry:
        changelist = page_url(model, "changelist")
        for field in model._meta.concrete_fields:
            for lookup in ("icontains", "startswith"):
                path = (
                    f"{field.name}__{lookup}"
                    if not field.is_relation
                    else f"{field.name}__pk__{lookup}"
                )
                if admin_client.get(changelist, {path: "a"}).status_code != 400:
                    accepted.append((model._meta.label, path))
    assert accepted == []


def test_the_filters_of_every_list_work(admin_client, world):
    """Each choice of each filter, as the list links it: taken, never refused."""
    for model in registered().values():
        changelist = page_url(model[0], "changelist")
        response = admin_client.get(changelist)
        assert response.status_code == 200, changelist
        for spec in response.context["cl"].filter_specs:
            for choice in spec.choices(response.context["cl"]):
                if "query_string" in choice:
                    url = urljoin(changelist, choice["query_string"])
                    assert admin_client.get(url).status_code == 200, url


# Nothing secret reaches Customer success


def url_shape(url: str) -> tuple:
    """A page's kind: its path with ids made alike, and the names of its parameters."""
    parts = urlsplit(url)
    path = re.sub(r"/[0-9a-f-]{1,36}/", "/<id>/", parts.path)
    return path, tuple(sorted({name for name, _ in parse_qsl(parts.query)}))


def links_in(page: str, base: str) -> list[str]:
    found = []
    for href in re.findall(r'href="([^"#]+)', page):
        url = urljoin(base, html.unescape(href))
        if url.startswith("/admin/") and "/logout/" not in url:
            found.append(url)
    return found


def crawl(client, start: str, *, per_shape: int = 1, limit: int = 400) -> dict[str, str]:
    """Every admin page reachable by links from `start` (a few of each kind): {url: text}."""
    pages, shapes, queue = {}, Counter(), deque([start])
    while queue and len(pages) < limit:
        url = queue.popleft()
        shape = url_shape(url)
        if url in pages or shapes[shape] >= per_shape:
            continue
        shapes[shape] += 1
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)
        pages[url] = response.content.decode()
        queue.extend(links_in(pages[url], url))
    return pages


def exports(client) -> dict[str, str]:
    """Every export every list offers the user, of every row: {where: text}."""
    texts = {}
    for model in admin.site._registry:
        changelist = page_url(model, "changelist")
        response = client.get(changelist)
        if response.status_code != 200:
            continue
        everything = list(model._default_manager.values_list("pk", flat=True))
        for action in action_names(response) & {"export_csv", "export_xlsx"}:
            exported = client.post(changelist, {"action": action, "_selected_action": everything})
            content = b"".join(exported.streaming_content)
            if action == "export_csv":
                texts[f"{changelist} csv"] = content.decode()
            else:
                rows = load_workbook(io.BytesIO(content)).active.iter_rows(values_only=True)
                texts[f"{changelist} xlsx"] = " ".join(str(cell) for row in rows for cell in row)
    return texts


def test_nothing_customer_success_can_reach_shows_a_secret(client, world):
    sign_in(client, CS)

    pages = crawl(client, reverse("admin:index"))
    answers = {
        str(query): client.get(reverse("admin:autocomplete"), query).content.decode()
        for _, query in autocomplete_queries()
    }
    texts = {**pages, **exports(client), **answers}

    assert len(pages) > 60  # the crawl went everywhere: lists, filters, pages, histories
    assert any("/history/" in url for url in pages)
    assert {"/admin/events/delivery/ csv", "/admin/meters/meter/ xlsx"} <= set(texts)
    leaks = [
        (where, secret[:8])
        for where, text in texts.items()
        for secret in world["secrets"]
        if secret in text
    ]
    assert leaks == []


def test_integration_admins_do_see_endpoint_ids_where_they_work_with_endpoints(client, world):
    """The crawl can find an id: the same pages show one to the role allowed to see it."""
    sign_in(client, IA)

    pages = crawl(client, reverse("admin:events_webhookendpoint_changelist"), limit=40)

    assert any(str(world["openvolt"].pk) in text for text in pages.values())
