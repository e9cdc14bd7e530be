"""A local stand-in of Openvolt's REST API (CONTRACT.md section 6), for development.

Any non-empty `x-api-key` is accepted. Errors answer JSON: 401 without a key, 404 for an
unknown id, 400 for a request Openvolt would refuse, 409 for a meter that exists.
"""

import json
from collections.abc import Callable
from datetime import timedelta
from functools import wraps

from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from common.moments import parse_timestamp
from sandbox import catalogue, meters, representations

# Our client asks for at most 31 days at a time; a longer request is a bug worth seeing.
MAX_RANGE = timedelta(days=31)
# What Openvolt's published description allows as a new meter's data_source (required).
DATA_SOURCES = (
    "electralink",
    "dcc",
    "anexo",
    "edsn",
    "joulz",
    "kenter",
    "meetbedrijf",
    "solaredge",
)


def error(status: int, code: str, detail: str) -> JsonResponse:
    return JsonResponse({"error": code, "detail": detail}, status=status)


def not_found(kind: str, object_id: str) -> JsonResponse:
    return error(404, "not_found", f"No {kind} with id {object_id!r}.")


def sandbox_api(*methods: str) -> Callable:
    """A view of the API: the key checked first, then the method; no CSRF (an API)."""

    def decorate(view: Callable) -> Callable:
        @csrf_exempt
        @wraps(view)
        def checked(request: HttpRequest, *args, **kwargs):
            if not request.headers.get("x-api-key", "").strip():
                return error(401, "unauthorized", "Send your API key in the x-api-key header.")
            if request.method not in methods:
                response = error(
                    405, "method_not_allowed", f"{request.method} is not allowed here."
                )
                response["Allow"] = ", ".join(methods)
                return response
            return view(request, *args, **kwargs)

        return checked

    return decorate


@sandbox_api("GET")
def interval_data(request: HttpRequest) -> JsonResponse:
    query = request.GET
    meter_id = query.get("meter_id", "")
    if not meter_id:
        return error(400, "invalid_request", "meter_id is required.")
    now = timezone.now()
    meter = meters.find(meter_id, now=now)
    if meter is None:
        return not_found("meter", meter_id)
    start = parse_timestamp(query.get("start_date"))
    end = parse_timestamp(query.get("end_date"))
    if start is None or end is None:
        return error(
            400,
            "invalid_request",
            "start_date and end_date must be ISO 8601 timestamps, e.g. 2024-04-27T00:00:00.000Z.",
        )
    granularity = query.get("granularity", "hh")
    if granularity != "hh":
        return error(400, "invalid_request", "The sandbox serves granularity=hh only.")
    if end < start:
        return error(400, "invalid_request", "end_date is before start_date.")
    if end - start > MAX_RANGE:
        return error(400, "invalid_request", "Ask for at most 31 days at a time.")
    return JsonResponse(representations.interval_data_json(meter, start, end, now=now))


@sandbox_api("GET")
def meter_detail(request: HttpRequest, meter_id: str) -> JsonResponse:
    meter = meters.find(meter_id, now=timezone.now())
    if meter is None:
        return not_found("meter", meter_id)
    return JsonResponse(representations.meter_json(meter))


@sandbox_api("GET")
def customer_detail(request: HttpRequest, customer_id: str) -> JsonResponse:
    customer = catalogue.customer(customer_id)
    if customer is None:
        return not_found("customer", customer_id)
    return JsonResponse(representations.customer_json(customer))


@sandbox_api("GET")
def hosted_consent_detail(request: HttpRequest, consent_id: str) -> JsonResponse:
    consent = catalogue.hosted_consent(consent_id)
    if consent is None:
        return not_found("hosted consent", consent_id)
    return JsonResponse(representations.hosted_consent_json(consent, now=timezone.now()))


@sandbox_api("POST")
def meters_create(request: HttpRequest) -> JsonResponse:
    """`POST /meters` with {meter_number, customer_id, data_source, hosted_consent_id}: 201 and
    the meter."""
    try:
        body = json.loads(request.body)
    except ValueError:
        return error(400, "invalid_request", "The body must be JSON.")
    if not isinstance(body, dict):
        return error(400, "invalid_request", "The body must be a JSON object.")
    meter_number = body.get("meter_number")
    if not isinstance(meter_number, str) or not meters.is_mpan(meter_number):
        return error(
            400, "invalid_request", "meter_number must be a 13-digit MPAN (a string) here."
        )
    customer_id = body.get("customer_id")
    if not isinstance(customer_id, str) or not customer_id:
        return error(400, "invalid_request", "customer_id is required.")
    data_source = body.get("data_source")
    if data_source not in DATA_SOURCES:
        return error(
            400,
            "invalid_request",
            f"data_source is required, one of {', '.join(DATA_SOURCES)}.",
        )
    customer = catalogue.customer(customer_id)
    if customer is None:
        return not_found("customer", customer_id)
    consent_id = body.get("hosted_consent_id")
    consent = None
    if consent_id is not None:
        consent = catalogue.hosted_consent(consent_id) if isinstance(consent_id, str) else None
        if consent is None:
            return not_found("hosted consent", str(consent_id))
        if consent.customer_id != customer.id:
            return error(400, "invalid_request", "The hosted consent belongs to another customer.")
    existing = next(
        (
            meter
            for meter in catalogue.METERS
            if meter.meter_number == meter_number and meter.customer_id == customer.id
        ),
        None,
    )
    if existing is not None:
        # Openvolt keeps one meter per meter number and customer.
        return JsonResponse(
            {
                "error": "meter_exists",
                "detail": f"The customer already has meter {meter_number}.",
                "_id": existing.id,
            },
            status=409,
        )
    meter = meters.create(
        meter_number=meter_number,
        customer=customer,
        consent=consent,
        now=timezone.now(),
        data_source=data_source,
    )
    return JsonResponse(representations.meter_json(meter), status=201)


@sandbox_api("GET", "POST", "PUT", "PATCH", "DELETE")
def unknown_route(request: HttpRequest, rest: str) -> JsonResponse:
    return error(404, "not_found", f"The sandbox has no route /{rest}.")
