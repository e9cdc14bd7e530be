"""List filters of the delivery changelist for chasing problems: by endpoint, and received
between two dates (events/admin_filters.py holds the dashboard's "received in the last …")."""

import uuid
from datetime import datetime

from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.utils import timezone

from common.moments import parse_moment
from events.models import WebhookEndpoint


class EndpointFilter(admin.SimpleListFilter):
    """The endpoints by name: a handful of rows, unlike a DISTINCT over every delivery."""

    title = "endpoint"
    parameter_name = "endpoint"

    def lookups(self, request, model_admin):
        # The choices carry endpoint ids, and an Openvolt endpoint's id is its credential (it
        # is the path): only for those who may see endpoints. No choices hide the filter.
        if not model_admin.admin_site.get_model_admin(WebhookEndpoint).has_view_permission(request):
            return []
        endpoints = WebhookEndpoint.objects.order_by("source", "description", "created_at")
        return [(str(endpoint.pk), str(endpoint)) for endpoint in endpoints]

    def queryset(self, request, queryset):
        if not self.value():
            return queryset
        try:
            endpoint_id = uuid.UUID(self.value())
        except ValueError:
            raise IncorrectLookupParameters(f"{self.value()!r} is not an endpoint id.") from None
        return queryset.filter(endpoint_id=endpoint_id)


class ReceivedRangeFilter(admin.ListFilter):
    """Received on or after one date and before another: two date inputs, no drill-down.

    The query parameters are the ORM lookups `received_at__gte` and `received_at__lt`, so a
    link may also carry an exact time (2026-11-20T10:30); the bounds are index range bounds.
    """

    title = "date received"
    template = "admin/events/delivery/received_range_filter.html"
    parameters = ("received_at__gte", "received_at__lt")

    def __init__(self, request, params, model, model_admin):
        super().__init__(request, params, model, model_admin)
        self.bounds = {}
        for name in self.parameters:
            if name not in params:
                continue
            text = params.pop(name)[-1].strip()
            self.used_parameters[name] = text
            if not text:
                continue
            try:
                self.bounds[name] = parse_moment(text)
            except (ValueError, OverflowError) as error:
                raise IncorrectLookupParameters(str(error)) from None

    def has_output(self):
        return True

    def expected_parameters(self):
        return list(self.parameters)

    def queryset(self, request, queryset):
        return queryset.filter(**self.bounds) if self.bounds else queryset

    def choices(self, changelist):
        """One "choice": what the template needs to draw the form."""
        start, end = (self.bounds.get(name) for name in self.parameters)
        yield {
            # The changelist's other parameters (search, other filters, ordering), kept by
            # the form as hidden inputs; the page number is left out, as a new filter starts
            # on the first page.
            "kept": [
                (name, value)
                for name, values in changelist.filter_params.items()
                if name not in self.parameters
                for value in values
            ],
            "start": start,
            "end": end,
            "start_date": _date_input_value(start),
            "end_date": _date_input_value(end),
            "clear_query_string": changelist.get_query_string(remove=list(self.parameters)),
            "active": bool(self.bounds),
        }


def _date_input_value(moment: datetime | None) -> str:
    return timezone.localtime(moment).date().isoformat() if moment else ""
