from django.contrib import admin

from config.admin_tools import Column, MirrorAdmin, export_csv_action
from consents.models import ConnectionAccount, FollowUp, HostedConsent, UtilityConnection


def _iso(moment):
    return moment.isoformat() if moment else ""


CONSENT_COLUMNS = [
    Column("openvolt_id", lambda c: c.external_id),
    Column("customer", lambda c: c.customer.name if c.customer else ""),
    Column("customer_email", lambda c: c.customer.email if c.customer else ""),
    Column("valid", lambda c: c.valid),
    Column("revoked_at", lambda c: _iso(c.revoked_at)),
    Column("expiry", lambda c: _iso(c.expiry)),
    Column("meter_numbers", lambda c: " ".join(c.meter_numbers)),
    Column("flow_type", lambda c: c.flow_type),
]

FOLLOW_UP_COLUMNS = [
    Column("id", lambda f: f.pk),
    Column("status", lambda f: f.status),
    Column("reason", lambda f: f.reason),
    Column("consent", lambda f: f.consent.external_id),
    Column("customer", lambda f: f.customer_name),
    Column("customer_email", lambda f: f.customer_email),
    Column("meter_numbers", lambda f: " ".join(f.meter_numbers)),
    Column("assignee", lambda f: f.assignee.get_username() if f.assignee else ""),
    Column("due_on", lambda f: f.due_on.isoformat() if f.due_on else ""),
    Column("opened_at", lambda f: _iso(f.opened_at)),
    Column("revoked_at", lambda f: _iso(f.revoked_at)),
]


class FollowUpInline(admin.TabularInline):
    model = FollowUp
    fields = ["status", "reason", "assignee", "opened_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(HostedConsent)
class HostedConsentAdmin(MirrorAdmin):
    list_display = ["external_id", "customer", "valid", "revoked_at", "expiry", "flow_type"]
    list_filter = ["valid", "flow_type", "consent_method"]
    list_select_related = ["customer"]
    search_fields = ["=external_id", "customer__email", "customer__name"]
    search_help_text = "Exact consent id or meter number, or customer name or e-mail."
    readonly_fields = ["mirrored_at"]
    inlines = [FollowUpInline]
    actions = [export_csv_action(CONSENT_COLUMNS)]

    def get_search_results(self, request, queryset, search_term):
        results, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        if search_term.strip():
            results |= queryset.filter(meter_numbers__contains=[search_term.strip()])
        return results, may_have_duplicates


@admin.register(FollowUp)
class FollowUpAdmin(admin.ModelAdmin):
    list_display = ["opened_at", "status", "reason", "customer_name", "customer_email", "assignee"]
    list_filter = ["status", "assignee"]
    list_select_related = ["consent", "assignee"]
    search_fields = ["customer_name", "customer_email", "=consent__external_id"]
    readonly_fields = [
        "consent",
        "reason",
        "revoked_at",
        "customer_name",
        "customer_email",
        "customer_address",
        "meter_numbers",
        "opened_at",
        "closed_at",
    ]
    fields = ["status", "assignee", "due_on", *readonly_fields]
    actions = [export_csv_action(FOLLOW_UP_COLUMNS)]


CONNECTION_COLUMNS = [
    Column("nectar_id", lambda c: c.external_id),
    Column("company", lambda c: c.company_name),
    Column("company_external_id", lambda c: c.company_external_id),
    Column("data_source", lambda c: c.data_source),
    Column("status", lambda c: c.status),
    Column("country", lambda c: c.country),
    Column("account_numbers", lambda c: " ".join(a.account_number for a in c.accounts.all())),
    Column("emails", lambda c: " ".join(c.emails)),
    Column("updated_on_platform", lambda c: _iso(c.platform_updated_at)),
]


class ConnectionAccountInline(admin.TabularInline):
    model = ConnectionAccount
    fields = ["account_number", "data_source_types", "site_name", "site_nectar_id"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(UtilityConnection)
class UtilityConnectionAdmin(MirrorAdmin):
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
    actions = [export_csv_action(CONNECTION_COLUMNS)]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("accounts")
