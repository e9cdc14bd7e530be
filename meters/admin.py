from django.contrib import admin
from django.db.models import Q
from django.utils.html import format_html

from common.admin import LargeTableAdmin, MirrorAdmin, ReadOnlyInline
from common.exports import (
    Column,
    ExportPermissionMixin,
    FieldColumn,
    IsoText,
    export_actions,
    iso,
)
from meters.admin_filters import ConsentValidityFilter, DataFreshnessFilter
from meters.admin_pages import customer_page, meter_page
from meters.models import (
    ApiKeyRotation,
    BillLineItem,
    BillMeterUsage,
    Customer,
    IntervalReading,
    Meter,
    PlatformUser,
    UtilityBill,
)
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

# Read as plain database values, not instances: readings run to millions of rows.
READING_COLUMNS = [
    FieldColumn("meter_number", "meter__meter_number"),
    FieldColumn("meter_openvolt_id", "meter__external_id"),
    FieldColumn("start", IsoText("start")),
    FieldColumn("consumption_kwh", "consumption_kwh"),
]


@admin.register(Customer)
class CustomerAdmin(ExportPermissionMixin, MirrorAdmin):
    list_display = ["name", "email", "external_id", "created_on_platform"]
    search_fields = ["=external_id", "name", "email"]
    search_help_text = "Name or e-mail (contains), or the exact Openvolt id."
    actions = [*export_actions(CUSTOMER_COLUMNS)]
    # The page: contact details, then its meters, consents, follow-ups and bills
    # (meters/admin_pages.py), then the record as Openvolt sent it.
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
    list_select_related = ["customer"]
    search_fields = ["^meter_number", "=external_id", "customer__email"]
    search_help_text = "Meter number (starts with), exact Openvolt id, or customer e-mail."
    actions = [*export_actions(METER_COLUMNS)]
    # The page: a summary, daily consumption, consents and deliveries (meters/admin_pages.py),
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


@admin.register(IntervalReading)
class IntervalReadingAdmin(ExportPermissionMixin, MirrorAdmin, LargeTableAdmin):
    list_display = ["meter", "start", "consumption_kwh", "fetched_at"]
    list_select_related = ["meter"]
    search_fields = ["=meter__meter_number", "=meter__external_id"]
    search_help_text = "Exact meter number or Openvolt meter id."
    # Newest first, as the indexes run: (start DESC) for the whole table, (meter, start)
    # for one meter. The model's ("meter", "-start") would sort by meter number through a join.
    ordering = ["-start", "-id"]
    # CSV only: 17,520 readings a meter a year, so a few dozen meters outgrow an Excel sheet.
    actions = [*export_actions(READING_COLUMNS, xlsx=False)]

    def get_search_results(self, request, queryset, search_term):
        """The meters first, then their readings by meter id: joined to a condition on the
        meter, PostgreSQL cannot tell how many readings match and may walk the whole (start)
        index looking for a meter that stopped sending data long ago."""
        term = search_term.strip()
        if not term:
            return queryset, False
        meters = Meter.objects.filter(
            Q(meter_number=term) | Q(external_id__in={term, term.lower()})
        )
        return queryset.filter(meter_id__in=list(meters.values_list("pk", flat=True))), False


@admin.register(PlatformUser)
class PlatformUserAdmin(MirrorAdmin):
    list_display = ["email", "name", "external_id", "created_on_platform"]
    search_fields = ["=external_id", "email", "name"]
    readonly_fields = ["mirrored_at"]


@admin.register(ApiKeyRotation)
class ApiKeyRotationAdmin(MirrorAdmin):
    list_display = ["rotated_at", "account_name", "account_id", "key_last_four", "readonly"]


BILL_COLUMNS = [
    Column("nectar_id", lambda b: b.external_id),
    Column("invoice_id", lambda b: b.invoice_id),
    Column("company", lambda b: b.company_name),
    Column("company_external_id", lambda b: b.company_external_id),
    Column("utility_company", lambda b: b.utility_company),
    Column("document_date", lambda b: b.document_date),
    Column("due_date", lambda b: b.due_date),
    Column("period_start", lambda b: b.period_start),
    Column("period_end", lambda b: b.period_end),
    Column("total_charges", lambda b: b.total_charges),
    Column("total_charges_units", lambda b: b.total_charges_units),
    Column("is_flagged", lambda b: b.is_flagged),
    Column("deleted_at", lambda b: iso(b.deleted_at)),
]


class LineItemInline(ReadOnlyInline):
    model = BillLineItem
    fields = [
        "position",
        "description",
        "quantity",
        "quantity_units",
        "rate",
        "total_charge",
        "meter_ids",
        "account_ids",
    ]


class MeterUsageInline(ReadOnlyInline):
    model = BillMeterUsage
    fields = [
        "meter_id",
        "site_name",
        "account_id",
        "start_date",
        "end_date",
        "usage",
        "current_charges",
        "is_estimated",
    ]


class DeletedFilter(admin.SimpleListFilter):
    title = "deleted on Nectar"
    parameter_name = "deleted"

    def lookups(self, request, model_admin):
        return [("no", "Current"), ("yes", "Deleted")]

    def queryset(self, request, queryset):
        if self.value() in ("yes", "no"):
            return queryset.filter(deleted_at__isnull=self.value() == "no")
        return queryset


@admin.register(UtilityBill)
class UtilityBillAdmin(ExportPermissionMixin, MirrorAdmin):
    list_display = [
        "invoice_id",
        "company_name",
        "utility_company",
        "document_date",
        "due_date",
        "total_charges",
        "total_charges_units",
        "is_flagged",
        "deleted_at",
    ]
    list_filter = [DeletedFilter, "is_flagged", "utility_company"]
    search_fields = [
        "=invoice_id",
        "company_name",
        "=company_external_id",
        "=external_id",
        "meter_usages__site_name",
        "=meter_usages__meter_id",
    ]
    search_help_text = "Company or site name, or the exact invoice, meter, company or Nectar id."
    readonly_fields = ["deleted_at", "mirrored_at"]
    inlines = [LineItemInline, MeterUsageInline]
    actions = [*export_actions(BILL_COLUMNS)]
