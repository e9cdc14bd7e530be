import json

from django import forms
from django.contrib import admin, messages
from django.db.models import Q
from django.forms.models import BaseInlineFormSet
from django.template.response import TemplateResponse
from django.urls import path
from django.utils.functional import cached_property
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from common.admin import LargeTableAdmin, ReadOnlyAdmin, ReadOnlyInline
from common.exports import ExportPermissionMixin, FieldColumn, IsoText, export_actions
from events.admin_filters import ReceivedFilter
from events.admin_retry import retry_failed_view
from events.delivery_filters import EndpointFilter, ReceivedRangeFilter
from events.dispatch import known_event_types
from events.models import (
    Delivery,
    DeliveryAttempt,
    DeliveryReceipt,
    EmailSubscription,
    EndpointSecret,
    Notification,
    Source,
    WebhookEndpoint,
)
from events.processing import deliveries_reprocess
from events.services import endpoint_secret_add, endpoint_secret_rotate
from events.sources.nectar import is_valid_secret
from events.subjects import normalized


def _pretty_json(document):
    if document is None:
        return "—"
    text = json.dumps(document, indent=2, ensure_ascii=False, sort_keys=True)
    return format_html('<pre class="payload">{}</pre>', text)


class LatestRowsFormSet(BaseInlineFormSet):
    """The latest `row_limit` rows only: a delivery sent 10,000 times renders 50 receipts."""

    row_limit = 50
    newest_first: tuple[str, ...] = ("-pk",)

    def get_queryset(self):
        if not hasattr(self, "_latest_rows"):
            self._latest_rows = self.queryset.order_by(*self.newest_first)[: self.row_limit]
        return self._latest_rows

    @cached_property
    def total_rows(self) -> int:
        shown = len(self.get_queryset())
        return shown if shown < self.row_limit else self.queryset.count()

    @property
    def is_cut_short(self) -> bool:
        return self.total_rows > self.row_limit


class LatestRowsInline(ReadOnlyInline):
    formset = LatestRowsFormSet
    template = "admin/events/delivery/latest_rows_tabular.html"
    # Shown newest first, and only the latest LatestRowsFormSet.row_limit of them.
    newest_first: tuple[str, ...] = ("-pk",)

    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)
        formset.newest_first = self.newest_first
        return formset


class ReceiptInline(LatestRowsInline):
    model = DeliveryReceipt
    fields = readonly_fields = [
        "received_at",
        "verdict",
        "response_status",
        "remote_addr",
        "headers",
    ]
    verbose_name_plural = "receipts (every HTTP arrival)"
    newest_first = ("-received_at", "-id")


class AttemptInline(LatestRowsInline):
    model = DeliveryAttempt
    fields = readonly_fields = ["started_at", "finished_at", "result", "error"]
    verbose_name_plural = "processing attempts"
    newest_first = ("-started_at", "-id")


class NotificationInline(LatestRowsInline):
    model = Notification
    fields = readonly_fields = ["email", "sent_at", "last_error"]
    verbose_name_plural = "e-mails sent about this delivery"


class EventTypeFilter(admin.SimpleListFilter):
    """The event types the sources know, instead of a DISTINCT over every delivery."""

    title = "event type"
    parameter_name = "event_type"

    def lookups(self, request, model_admin):
        return [(event_type, event_type) for event_type in known_event_types()]

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(event_type=self.value())
        return queryset


# Read as plain database values, not instances: a million deliveries export in seconds.
DELIVERY_COLUMNS = [
    FieldColumn("id", "id"),
    FieldColumn("received_at", IsoText("received_at")),
    FieldColumn("source", "source"),
    # Never the id: an Openvolt endpoint's path holds it, and the path is the credential.
    FieldColumn("endpoint", "endpoint__description"),
    FieldColumn("event_type", "event_type"),
    FieldColumn("external_id", "external_id"),
    FieldColumn("status", "status"),
    FieldColumn("receipts", "receipt_count"),
    FieldColumn("processing_attempts", "attempt_count"),
    FieldColumn("last_received_at", IsoText("last_received_at")),
    FieldColumn("processed_at", IsoText("processed_at")),
    FieldColumn("error", "error"),
]


def _no_endpoint_link(field):
    return "endpoint_name" if field == "endpoint" else field


@admin.register(Delivery)
class DeliveryAdmin(ExportPermissionMixin, ReadOnlyAdmin, LargeTableAdmin):
    list_display = [
        "received_at",
        "source",
        "event_type",
        "short_external_id",
        "status",
        "receipt_count",
        "attempt_count",
    ]
    list_filter = [
        "source",
        EventTypeFilter,
        "status",
        ReceivedFilter,
        EndpointFilter,
        ReceivedRangeFilter,
    ]
    list_select_related = ["endpoint"]
    search_fields = ["=external_id"]
    search_help_text = (
        "Exact external id, meter id or number, customer e-mail, consent id, "
        "invoice or account number."
    )
    changelist_deferred_fields = (
        "payload",
        "unparsed_body",
        "error_traceback",
        "summary",
        "links",
        "warnings",
        "subjects",
    )
    actions = ["reprocess", *export_actions(DELIVERY_COLUMNS)]
    inlines = [ReceiptInline, AttemptInline, NotificationInline]
    change_list_template = "admin/events/delivery/change_list.html"
    fieldsets = [
        (None, {"fields": ["external_id", "endpoint", "source", "event_type", "status"]}),
        ("Outcome", {"fields": ["summary", "changed_objects", "warnings", "reported_changes"]}),
        (
            "Arrival",
            {"fields": ["received_at", "last_received_at", "receipt_count", "occurred_at"]},
        ),
        (
            "Processing",
            {
                "fields": [
                    "attempt_count",
                    "next_attempt_at",
                    "processed_at",
                    "error",
                    "error_traceback",
                ]
            },
        ),
        ("Body", {"fields": ["pretty_payload", "unparsed_body"]}),
    ]

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        endpoints = self.admin_site.get_model_admin(WebhookEndpoint)
        if endpoints.has_view_permission(request):
            return fieldsets
        # Endpoint settings are not everyone's: no link to them, and no endpoint id (an
        # Openvolt endpoint's path holds its id, and that path is the credential).
        return [
            (name, {**options, "fields": [_no_endpoint_link(f) for f in options["fields"]]})
            for name, options in fieldsets
        ]

    @admin.display(description="endpoint")
    def endpoint_name(self, delivery):
        endpoint = delivery.endpoint
        return f"{endpoint.get_source_display()}: {endpoint.description or '(no description)'}"

    def get_search_results(self, request, queryset, search_term):
        """An exact external id, or anything the delivery is about: both index lookups."""
        term = search_term.strip()
        if not term:
            return queryset, False
        about = Q(external_id=term) | Q(subjects__contains=[normalized(term)])
        return queryset.filter(about), False

    def has_reprocess_permission(self, request):
        return request.user.has_perm("events.reprocess_delivery")

    def get_urls(self):
        # Before the default URLs, whose "<path:object_id>/" would take this one.
        retry = self.admin_site.admin_view(lambda request: retry_failed_view(self, request))
        return [
            path("retry-failed/", retry, name="events_delivery_retry_failed"),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "can_retry_failed": self.has_reprocess_permission(request),
        }
        return super().changelist_view(request, extra_context)

    @admin.display(description="external id", ordering="external_id")
    def short_external_id(self, delivery):
        if len(delivery.external_id) <= 32:
            return delivery.external_id
        return delivery.external_id[:31] + "…"

    @admin.display(description="changed")
    def changed_objects(self, delivery):
        if not delivery.links:
            return "—"
        return format_html_join(
            mark_safe("<br>"),
            '<a href="{}">{}</a>',
            ((path, label) for label, path in delivery.links),
        )

    @admin.display(description="payload")
    def pretty_payload(self, delivery):
        return _pretty_json(delivery.payload)

    @admin.display(description="changes reported by Nectar")
    def reported_changes(self, delivery):
        """Nectar's `protectedChanges` and `old` (the values before an update), if sent."""
        payload = delivery.payload if isinstance(delivery.payload, dict) else {}
        reported = {key: payload[key] for key in ("protectedChanges", "old") if key in payload}
        return _pretty_json(reported) if reported else "—"

    @admin.action(description="Reprocess selected deliveries", permissions=["reprocess"])
    def reprocess(self, request, queryset):
        queued, skipped = deliveries_reprocess(deliveries=queryset)
        self.message_user(request, f"{queued} queued for processing.", messages.SUCCESS)
        if skipped:
            self.message_user(
                request,
                f"{skipped} skipped: pending or processing ones are on their way already, "
                "and rejected ones cannot be processed.",
                messages.WARNING,
            )


class SecretInline(ReadOnlyInline):
    model = EndpointSecret
    fields = readonly_fields = ["secret_masked", "created_at", "expires_at"]
    verbose_name_plural = "signing secrets (shown once, when created)"

    @admin.display(description="secret")
    def secret_masked(self, secret):
        return secret.masked


class EndpointForm(forms.ModelForm):
    secret = forms.CharField(
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False),
        help_text="Nectar only. Paste the whsec_… secret from Nectar's webhook portal, "
        "or leave empty to generate one.",
    )

    class Meta:
        model = WebhookEndpoint
        fields = ["source", "description", "enabled", "openvolt_subscription_id"]

    def clean(self):
        cleaned = super().clean()
        source, secret = cleaned.get("source"), cleaned.get("secret")
        if secret and source != Source.NECTAR:
            self.add_error("secret", "Only Nectar endpoints are signed.")
        elif secret and not is_valid_secret(secret):
            self.add_error("secret", "A secret looks like whsec_ followed by base64.")
        if cleaned.get("openvolt_subscription_id") and source != Source.OPENVOLT:
            self.add_error("openvolt_subscription_id", "Only Openvolt endpoints have one.")
        return cleaned


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    form = EndpointForm
    list_display = ["description", "source", "enabled", "path", "created_at"]
    list_filter = ["source", "enabled"]
    search_fields = ["description", "=id"]
    readonly_fields = ["id", "path", "created_at"]
    inlines = [SecretInline]
    actions = ["rotate_secret"]

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["source", "description", "enabled", "openvolt_subscription_id", "secret"]
        return ["id", "path", "source", "description", "enabled", "openvolt_subscription_id"]

    def get_inlines(self, request, obj):
        return self.inlines if obj else []

    def get_readonly_fields(self, request, obj=None):
        # The source decides how requests are authenticated: fixed once created.
        return [*self.readonly_fields, "source"] if obj else self.readonly_fields

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if not change and obj.source == Source.NECTAR:
            request.new_endpoint_secret = endpoint_secret_add(
                endpoint=obj, secret=form.cleaned_data.get("secret") or None
            )

    def response_add(self, request, obj, post_url_continue=None):
        # The one time the secret is shown: rendered, never put in a message or the session.
        return self._secret_once(request, obj, getattr(request, "new_endpoint_secret", None))

    @admin.action(description="Rotate the signing secret (Nectar)", permissions=["change"])
    def rotate_secret(self, request, queryset):
        endpoints = list(queryset)
        if len(endpoints) != 1 or endpoints[0].source != Source.NECTAR:
            self.message_user(request, "Select one Nectar endpoint to rotate.", messages.ERROR)
            return None
        secret = endpoint_secret_rotate(endpoint=endpoints[0])
        return self._secret_once(request, endpoints[0], secret, rotated=True)

    def _secret_once(self, request, endpoint, secret, rotated=False):
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "endpoint": endpoint,
            "url": request.build_absolute_uri(endpoint.path),
            "secret": secret,
            "rotated": rotated,
            "title": "Endpoint ready",
        }
        return TemplateResponse(request, "admin/events/webhookendpoint/secret_once.html", context)


@admin.register(EmailSubscription)
class EmailSubscriptionAdmin(admin.ModelAdmin):
    list_display = ["email", "event_type", "active", "created_at"]
    list_filter = ["event_type", "active"]
    list_editable = ["active"]
    search_fields = ["email"]

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if db_field.name == "event_type":
            choices = [(EmailSubscription.ALL, "Every event type (*)")]
            choices += [(event_type, event_type) for event_type in known_event_types()]
            return forms.ChoiceField(choices=choices, label="Event type")
        return super().formfield_for_dbfield(db_field, request, **kwargs)
