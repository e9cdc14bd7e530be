"""The deliveries: a read-only, filterable, searchable list of millions, each delivery's page
with its receipts, attempts, items and e-mails, and reprocessing."""

import json

from django.contrib import admin, messages
from django.db.models import Q
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from common.admin import LargeTableAdmin, ReadOnlyAdmin
from common.exports import ExportPermissionMixin, FieldColumn, IsoText, export_actions
from events.admin.inlines import (
    AttemptInline,
    ItemInline,
    NotificationInline,
    ReceiptInline,
    RequeueInline,
)
from events.admin_filters import ConflictFilter, ReceivedFilter, WaitingFilter
from events.admin_retry import retry_failed_view
from events.delivery_filters import EndpointFilter, ReceivedRangeFilter
from events.dispatch import known_event_types
from events.models import Delivery, DeliveryItem, WebhookEndpoint
from events.processing import deliveries_reprocess_counted
from events.selectors import delivery_body_conflicts
from events.subjects import normalized

# A payload naming a portfolio runs to megabytes: the page shows its beginning.
PAYLOAD_SHOWN_CHARACTERS = 200_000


def _pretty_json(document):
    if document is None:
        return "—"
    text = json.dumps(document, indent=2, ensure_ascii=False, sort_keys=True)
    if len(text) <= PAYLOAD_SHOWN_CHARACTERS:
        return format_html('<pre class="payload">{}</pre>', text)
    return format_html(
        '<pre class="payload">{}\n…</pre><p class="help">The first {} of {} characters.</p>',
        text[:PAYLOAD_SHOWN_CHARACTERS],
        f"{PAYLOAD_SHOWN_CHARACTERS:,}",
        f"{len(text):,}",
    )


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
        "progress",
        "receipt_count",
        "attempt_count",
    ]
    list_filter = [
        "source",
        EventTypeFilter,
        "status",
        ReceivedFilter,
        WaitingFilter,
        ConflictFilter,
        EndpointFilter,
        ReceivedRangeFilter,
    ]
    # The dashboard's and alerts' links to several statuses at once.
    extra_lookups = ("status__in",)
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
    actions = ["reprocess", "reprocess_everything", *export_actions(DELIVERY_COLUMNS)]
    inlines = [ItemInline, ReceiptInline, AttemptInline, RequeueInline, NotificationInline]
    change_list_template = "admin/events/delivery/change_list.html"
    fieldsets = [
        (None, {"fields": ["external_id", "endpoint", "source", "event_type", "status"]}),
        ("Outcome", {"fields": ["summary", "changed_objects", "warnings", "reported_changes"]}),
        (
            "Arrival",
            {
                "fields": [
                    "received_at",
                    "last_received_at",
                    "receipt_count",
                    "occurred_at",
                    "body_hash",
                    "last_conflict_at",
                ]
            },
        ),
        (
            "Processing",
            {
                "fields": [
                    "item_progress",
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

    def get_inlines(self, request, obj):
        # Jobs are lost only in rare outages: the section shows only where it has rows.
        if obj is None or not obj.requeues.exists():
            return [inline for inline in self.inlines if inline is not RequeueInline]
        return self.inlines

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

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        # The page's notice (its template) when a later arrival carried another body.
        context["body_conflicts"] = obj and delivery_body_conflicts(delivery=obj)
        return super().render_change_form(request, context, add, change, form_url, obj)

    @admin.display(description="body SHA-256")
    def body_hash(self, delivery):
        if delivery.receipt_count == 0:
            # Made by the console (events/refetch.py): nothing was received, nothing will be.
            return "— (asked for in the console: no body was received)"
        if delivery.body_sha256 is None:
            return "— (received before bodies were hashed: later bodies are not compared)"
        return format_html("<code>{}</code>", bytes(delivery.body_sha256).hex())

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

    @admin.display(description="items")
    def progress(self, delivery):
        """How far a delivery worked item by item got: "31 / 40 items"."""
        counts = delivery.item_counts
        if not counts:
            return "—"
        finished = sum(counts.get(status, 0) for status in DeliveryItem.SUCCEEDED)
        return f"{finished:,} / {sum(counts.values()):,} items"

    @admin.display(description="items")
    def item_progress(self, delivery):
        """Its items by status, each count linked to the list of those items."""
        counts = delivery.item_counts
        if not counts:
            return "— (worked as a whole)"
        items_url = reverse("admin:events_deliveryitem_changelist")
        parts = [
            (
                f"{items_url}?delivery__id__exact={delivery.pk}&status__exact={status}",
                f"{counts[status]:,} {label.lower()}",
            )
            for status, label in DeliveryItem.Status.choices
            if counts.get(status)
        ]
        return format_html(
            "{} items: {}",
            f"{sum(counts.values()):,}",
            format_html_join(", ", '<a href="{}">{}</a>', parts),
        )

    @admin.action(
        description="Reprocess selected deliveries (only their failed items, if any)",
        permissions=["reprocess"],
    )
    def reprocess(self, request, queryset):
        self._reprocess(request, queryset, everything=False)

    @admin.action(
        description="Reprocess selected deliveries from the start (every item again)",
        permissions=["reprocess"],
    )
    def reprocess_everything(self, request, queryset):
        self._reprocess(request, queryset, everything=True)

    def _reprocess(self, request, queryset, *, everything: bool):
        counts = deliveries_reprocess_counted(deliveries=queryset, everything=everything)
        self.message_user(request, f"{counts.queued} queued for processing.", messages.SUCCESS)
        why = []
        if counts.on_their_way:
            one = counts.on_their_way == 1
            why.append(
                f"{counts.on_their_way} on {'its' if one else 'their'} way already (pending or "
                f"processing, with a job waiting or running for {'it' if one else 'them'})"
            )
        if counts.rejected:
            one = counts.rejected == 1
            why.append(
                f"{counts.rejected} rejected (invalid: {'it' if one else 'they'} cannot be "
                "processed)"
            )
        if why:
            self.message_user(
                request, f"{counts.skipped} skipped: {'; '.join(why)}.", messages.WARNING
            )
