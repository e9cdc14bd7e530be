"""The customer and meter pages: a record of the mirror with what joins it across apps
(consumption, freshness, consents, follow-ups, deliveries, bills: console/pages/meters.py)."""

from django.contrib import admin
from django.utils.html import format_html

from common.admin import MirrorAdmin
from common.exports import Column, ExportPermissionMixin, export_actions, iso
from console.admin_filters import ConsentValidityFilter
from console.pages.meters import customer_page, meter_page
from meters.admin_filters import DataFreshnessFilter
from meters.models import Customer, Meter
from meters.selectors import meter_freshness

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
]


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
    ]
    list_filter = [
        DataFreshnessFilter,
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
    actions = [*export_actions(METER_COLUMNS)]
    # The page: a summary, daily consumption, consents and deliveries (console/pages/meters.py),
    # then the record as Openvolt sent it.
    change_form_template = "admin/meters/meter/change_form.html"
    readonly_fields = ["latest_reading_start", "data_freshness", "mirrored_at"]
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
                    "created_on_platform",
                    "platform_updated_at",
                    "mirrored_at",
                    "raw",
                ],
            },
        ),
    ]

    @admin.display(description="data")
    def data_freshness(self, meter):
        freshness = meter_freshness(meter=meter)
        return format_html(
            '<span class="sb-badge sb-{}">{}</span>', freshness.level, freshness.text
        )

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None:
            context.update(meter_page(request, obj))
        return super().render_change_form(request, context, add, change, form_url, obj)
