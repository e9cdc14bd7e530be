"""The items of deliveries worked item by item: read-only, found from their delivery's page."""

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from common.admin import LargeTableAdmin, ReadOnlyAdmin
from events.dispatch import item_kind_names
from events.models import DeliveryItem


class ItemKindFilter(admin.SimpleListFilter):
    """The kinds registered, instead of a DISTINCT over every item."""

    title = "kind"
    parameter_name = "kind"

    def lookups(self, request, model_admin):
        return [(name, name) for name in item_kind_names()]

    def queryset(self, request, queryset):
        return queryset.filter(kind=self.value()) if self.value() else queryset


@admin.register(DeliveryItem)
class DeliveryItemAdmin(ReadOnlyAdmin, LargeTableAdmin):
    list_display = [
        "position",
        "delivery_link",
        "kind",
        "subject",
        "status",
        "attempt_count",
        "readings_stored",
        "finished_at",
        "short_error",
    ]
    list_filter = ["status", ItemKindFilter]
    # Never the delivery's row: its payload may run to megabytes.
    list_select_related = False
    search_fields = ["=subject"]
    search_help_text = "Exact meter id, consent id or meter number."
    # The delivery's items in order: the unique (delivery, position) index.
    ordering = ["delivery", "position"]
    # The delivery page links here narrowed to one delivery.
    extra_lookups = ("delivery__id__exact",)
    changelist_deferred_fields = ("parameters", "error_traceback", "links", "subjects", "warnings")
    fields = readonly_fields = [
        "delivery_link",
        "position",
        "kind",
        "subject",
        "parameters",
        "status",
        "attempt_count",
        "next_attempt_at",
        "started_at",
        "finished_at",
        "summary",
        "readings_stored",
        "warnings",
        "error",
        "error_traceback",
    ]

    @admin.display(description="delivery", ordering="delivery")
    def delivery_link(self, item):
        url = reverse("admin:events_delivery_change", args=[item.delivery_id])
        return format_html('<a href="{}">{}</a>', url, item.delivery_id)

    @admin.display(description="error")
    def short_error(self, item):
        return item.error if len(item.error) <= 80 else item.error[:79] + "…"
