"""The customer and meter pages: a record of the mirror with what joins it across apps
(consumption, freshness, consents, follow-ups, deliveries, bills: console/pages/meters.py)."""

from django.contrib import admin, messages
from django.urls import reverse
from django.utils.html import format_html

from common.admin import MirrorAdmin
from common.exports import (
    FETCH_ROWS,
    Column,
    ExportPermissionMixin,
    export_actions,
    export_csv_rows_action,
    iso,
)
from console.admin_filters import ConsentValidityFilter
from console.pages.meters import customer_page, meter_page
from events.refetch import NoOpenvoltEndpoint, gaps_refetch_queue
from meters.admin_filters import CompletenessFilter, DataFreshnessFilter
from meters.models import Customer, Meter
from meters.selectors import meter_days, meter_freshness
from meters.time_zones import meter_time_zone

CUSTOMER_COLUMNS = [
    Column("openvolt_id", lambda c: c.external_id),
    Column("name", lambda c: c.name),
    Column("email", lambda c: c.email),
    Column("address", lambda c: c.address),
    Column("account", lambda c: c.account_id),
    Column("created_on_platform", lambda c: iso(c.created_on_platform)),
]

METER_COLUMNS = [
    Column("openvolt_id", lambda m: m.external_id),
    Column("meter_number", lambda m: m.meter_number),
    Column("customer", lambda m: m.customer.name if m.customer else ""),
    Column("customer_email", lambda m: m.customer.email if m.customer else ""),
    Column("valid", lambda m: m.valid),
    Column("status", lambda m: m.status),
    Column("data_source", lambda m: m.data_source),
    Column("update_frequency", lambda m: m.update_frequency),
    Column("latest_reading_start", lambda m: iso(m.latest_reading_start)),
    Column("completeness_percent", lambda m: m.completeness),
    Column("half_hours_missing", lambda m: m.half_hours_missing),
]

# A selection's gaps are read meter by meter, in the request: past this many, narrow it.
REFETCH_METERS_MAX = 500


@admin.action(
    description="Re-fetch the gaps of selected meters from Openvolt", permissions=["refetch_gaps"]
)
def refetch_gaps(modeladmin, request, queryset):
    """Queue fetches of exactly the half-hours missing over the last 13 months, as a delivery
    of the console's own (events/refetch.py)."""
    meters = list(queryset.filter(half_hours_missing__gt=0)[: REFETCH_METERS_MAX + 1])
    if len(meters) > REFETCH_METERS_MAX:
        modeladmin.message_user(
            request,
            f"More than {REFETCH_METERS_MAX} of the selected meters have gaps: select fewer "
            "(a filter, a page) and re-fetch them in turns.",
            messages.WARNING,
        )
        return
    try:
        queued = gaps_refetch_queue(meters=meters, requested_by=request.user.get_username())
    except NoOpenvoltEndpoint as error:
        modeladmin.message_user(request, f"Nothing queued: {error}", messages.ERROR)
        return
    if queued.delivery is None:
        modeladmin.message_user(
            request, "None of the selected meters has a gap in the last 13 months."
        )
        return
    url = reverse("admin:events_delivery_change", args=[queued.delivery.pk])
    modeladmin.message_user(
        request,
        format_html(
            "Queued a fetch of {} gap(s), {} half-hour(s), of {} meter(s): "
            '<a href="{}">follow it as a delivery</a>.',
            f"{queued.gaps:,}",
            f"{queued.half_hours:,}",
            f"{queued.meters_with_gaps:,}",
            url,
        ),
        messages.SUCCESS,
    )


DAILY_CONSUMPTION_HEADERS = [
    "meter_number",
    "meter_openvolt_id",
    "day",
    "time_zone",
    "half_hours",
    "consumption_kwh",
]


def daily_consumption_rows(meters):
    """A row per meter and day with readings, days in the meter's time zone (a clock-change
    day has 46 or 50 half-hours): one GROUP BY per meter, over its range of the readings'
    (meter, start) index, so the first rows leave before the last meter is read."""
    meters = (
        meters.select_related(None)
        .order_by("meter_number", "pk")
        .only("meter_number", "external_id", "data_source")
    )
    for meter in meters.iterator(chunk_size=FETCH_ROWS):
        zone = meter_time_zone(meter).key
        for day, half_hours, kwh in meter_days(meter=meter):
            yield [meter.meter_number, meter.external_id, day, zone, half_hours, kwh]


@admin.register(Customer)
class CustomerAdmin(ExportPermissionMixin, MirrorAdmin):
    list_display = ["name", "email", "external_id", "created_on_platform"]
    search_fields = ["=external_id", "name", "email"]
    search_help_text = "Name or e-mail (contains), or the exact Openvolt id."
    actions = [*export_actions(CUSTOMER_COLUMNS)]
    # The page: contact details, then its meters, consents, follow-ups and bills
    # (console/pages/meters.py), then the record as Openvolt sent it.
    change_form_template = "admin/meters/customer/change_form.html"
    readonly_fields = ["mirrored_at"]
    fieldsets = [
        (
            "Openvolt record",
            {
                "classes": ["collapse"],
                "fields": [
                    "external_id",
                    "account_id",
                    "name",
                    "email",
                    "address",
                    "logo_url",
                    "created_on_platform",
                    "platform_updated_at",
                    "mirrored_at",
                    "raw",
                ],
            },
        ),
    ]

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None:
            context.update(customer_page(request, obj))
        return super().render_change_form(request, context, add, change, form_url, obj)


@admin.register(Meter)
class MeterAdmin(ExportPermissionMixin, MirrorAdmin):
    list_display = [
        "meter_number",
        "customer",
        "valid",
        "status",
        "data_source",
        "update_frequency",
        "latest_reading_start",
        "complete",
    ]
    list_filter = [
        DataFreshnessFilter,
        CompletenessFilter,
        ConsentValidityFilter,
        "valid",
        "status",
        "data_source",
        "update_frequency",
    ]
    # A customer's page links to all its meters.
    extra_lookups = ("customer",)
    list_select_related = ["customer"]
    search_fields = ["^meter_number", "=external_id", "customer__email"]
    search_help_text = "Meter number (starts with), exact Openvolt id, or customer e-mail."
    actions = [
        *export_actions(METER_COLUMNS),
        export_csv_rows_action(
            "export_daily_csv",
            DAILY_CONSUMPTION_HEADERS,
            daily_consumption_rows,
            description="Export daily consumption of selected to CSV",
            filename="daily-consumption",
        ),
        refetch_gaps,
    ]
    # The page: a summary, daily consumption, consents and deliveries (console/pages/meters.py),
    # then the record as Openvolt sent it.
    change_form_template = "admin/meters/meter/change_form.html"
    readonly_fields = [
        "latest_reading_start",
        "data_freshness",
        "completeness",
        "half_hours_missing",
        "mirrored_at",
    ]
    fieldsets = [
        (
            "Openvolt record",
            {
                "classes": ["collapse"],
                "fields": [
                    "meter_number",
                    "external_id",
                    # The customer is in the summary above, linked only for those who may
                    # open it (a read-only foreign key here would link for everyone).
                    "account_id",
                    "status",
                    "valid",
                    "validity_state",
                    "enabled",
                    "data_source",
                    "update_frequency",
                    "latest_reading_start",
                    "data_freshness",
                    "completeness",
                    "half_hours_missing",
                    "created_on_platform",
                    "platform_updated_at",
                    "mirrored_at",
                    "raw",
                ],
            },
        ),
    ]

    @admin.display(description="complete", ordering="completeness")
    def complete(self, meter):
        """Of the last 13 months, as the list's filter counts it."""
        return "—" if meter.completeness is None else f"{meter.completeness} %"

    @admin.display(description="data")
    def data_freshness(self, meter):
        freshness = meter_freshness(meter=meter)
        return format_html(
            '<span class="sb-badge sb-{}">{}</span>', freshness.level, freshness.text
        )

    def has_refetch_gaps_permission(self, request):
        return request.user.has_perm("meters.refetch_gaps")

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None:
            context.update(meter_page(request, obj))
        return super().render_change_form(request, context, add, change, form_url, obj)
