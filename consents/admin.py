from django.contrib import admin

from common.admin import MirrorAdmin, ReadOnlyInline
from common.exports import Column, ExportPermissionMixin, export_actions, iso
from consents.admin_filters import ExpiryFilter
from consents.models import ConnectionAccount, FollowUp, HostedConsent, UtilityConnection

CONSENT_COLUMNS = [
    Column("openvolt_id", lambda c: c.external_id),
    Column("customer", lambda c: c.customer.name if c.customer else ""),
    Column("customer_email", lambda c: c.customer.email if c.customer else ""),
    Column("valid", lambda c: c.valid),
    Column("revoked_at", lambda c: iso(c.revoked_at)),
    Column("expiry", lambda c: iso(c.expiry)),
    Column("meter_numbers", lambda c: " ".join(c.meter_numbers)),
    Column("flow_type", lambda c: c.flow_type),
]


class FollowUpInline(ReadOnlyInline):
    model = FollowUp
    fields = ["status", "reason", "assignee", "opened_at"]
    readonly_fields = fields
    show_change_link = True


@admin.register(HostedConsent)
class HostedConsentAdmin(ExportPermissionMixin, MirrorAdmin):
    list_display = ["external_id", "customer", "valid", "revoked_at", "expiry", "flow_type"]
    list_filter = ["valid", ExpiryFilter, "flow_type", "consent_method"]
    list_select_related = ["customer"]
    search_fields = ["=external_id", "customer__email", "customer__name"]
    search_help_text = "Exact consent id or meter number, or customer name or e-mail."
    readonly_fields = ["mirrored_at"]
    inlines = [FollowUpInline]
    actions = [*export_actions(CONSENT_COLUMNS)]

    def get_search_results(self, request, queryset, search_term):
        results, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        if search_term.strip():
            results |= queryset.filter(meter_numbers__contains=[search_term.strip()])
        return results, may_have_duplicates


CONNECTION_COLUMNS = [
    Column("nectar_id", lambda c: c.external_id),
    Column("company", lambda c: c.company_name),
    Column("company_external_id", lambda c: c.company_external_id),
    Column("data_source", lambda c: c.data_source),
    Column("status", lambda c: c.status),
    Column("country", lambda c: c.country),
    Column("account_numbers", lambda c: " ".join(a.account_number for a in c.accounts.all())),
    Column("emails", lambda c: " ".join(c.emails)),
    Column("updated_on_platform", lambda c: iso(c.platform_updated_at)),
]


class ConnectionAccountInline(ReadOnlyInline):
    model = ConnectionAccount
    fields = ["account_number", "data_source_types", "site_name", "site_nectar_id"]
    readonly_fields = fields


@admin.register(UtilityConnection)
class UtilityConnectionAdmin(ExportPermissionMixin, MirrorAdmin):
    list_display = [
        "company_name",
        "data_source",
        "status",
        "country",
        "validated_at",
        "platform_updated_at",
    ]
    list_filter = ["status", "country", "data_source"]
    search_fields = [
        "company_name",
        "=company_external_id",
        "=external_id",
        "=accounts__account_number",
        "accounts__site_name",
    ]
    search_help_text = "Company or site name, or the exact account number, company or Nectar id."
    readonly_fields = ["mirrored_at"]
    inlines = [ConnectionAccountInline]
    actions = [*export_actions(CONNECTION_COLUMNS)]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("accounts")
