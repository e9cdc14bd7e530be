"""The rows shown on a delivery's page: receipts, attempts, e-mails and items, the latest or
the most telling of them only, however many there are."""

from django.contrib import admin
from django.db.models import Case, IntegerField, Value, When
from django.forms.models import BaseInlineFormSet
from django.utils.functional import cached_property

from common.admin import ReadOnlyInline
from events.models import (
    DeliveryAttempt,
    DeliveryItem,
    DeliveryReceipt,
    DeliveryRequeue,
    Notification,
)


class LatestRowsFormSet(BaseInlineFormSet):
    """The latest `row_limit` rows only: a delivery sent 10,000 times renders 50 receipts."""

    row_limit = 50
    # Field names or expressions: newest first, unless an inline says otherwise.
    row_order: tuple = ("-pk",)

    def get_queryset(self):
        if not hasattr(self, "_latest_rows"):
            self._latest_rows = self.queryset.order_by(*self.row_order)[: self.row_limit]
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
    row_order: tuple = ("-pk",)

    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)
        formset.row_order = self.row_order
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
    row_order = ("-received_at", "-id")


class AttemptInline(LatestRowsInline):
    model = DeliveryAttempt
    fields = readonly_fields = ["started_at", "finished_at", "result", "error"]
    verbose_name_plural = "processing attempts"
    row_order = ("-started_at", "-id")


class RequeueInline(LatestRowsInline):
    """When the delivery, or some of its items, had lost its job and was queued again."""

    model = DeliveryRequeue
    fields = readonly_fields = ["at", "queued", "reason"]
    verbose_name_plural = "lost jobs, queued again"
    row_order = ("-at", "-id")

    @admin.display(description="queued again")
    def queued(self, requeue):
        if not requeue.items:
            return "The delivery"
        return f"{requeue.items:,} item{'s' if requeue.items != 1 else ''}"


class NotificationInline(LatestRowsInline):
    model = Notification
    fields = readonly_fields = ["email", "sent_at", "last_error"]
    verbose_name_plural = "e-mails sent about this delivery"


# The items that need a look first: failed for good, waiting for a retry, running, waiting.
_ITEM_STATUS_RANK = Case(
    *(
        When(status=status, then=Value(rank))
        for rank, status in enumerate(
            [
                DeliveryItem.Status.DEAD,
                DeliveryItem.Status.FAILED,
                DeliveryItem.Status.RUNNING,
                DeliveryItem.Status.PENDING,
                DeliveryItem.Status.SKIPPED,
                DeliveryItem.Status.DONE,
            ]
        )
    ),
    output_field=IntegerField(),
)


class ItemInline(LatestRowsInline):
    model = DeliveryItem
    fields = readonly_fields = [
        "position",
        "kind",
        "subject",
        "status",
        "attempt_count",
        "readings_stored",
        "summary",
        "error",
        "next_attempt_at",
    ]
    verbose_name_plural = "items (problems first)"
    row_order = (_ITEM_STATUS_RANK, "position")
    show_change_link = True
