"""Alerts in the console: the list, acknowledging and resolving, and a test alert that checks
the way to people (ALERT_EMAILS, ALERT_WEBHOOK_URL) end to end."""

from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from common.admin import ReadOnlyInline
from console.alerts.notify import alert_test_send
from console.alerts.services import alerts_acknowledge, alerts_resolve
from console.models import Alert, AlertNotice


class AlertNoticeInline(ReadOnlyInline):
    model = AlertNotice
    fields = readonly_fields = [
        "event",
        "channel",
        "recipients",
        "created_at",
        "sent_at",
        "attempts",
        "last_error",
    ]


@admin.register(Alert)
class AlertAdmin(admin.ModelAdmin):
    """Read-only but for its actions: the rules write alerts, people acknowledge and resolve."""

    list_display = [
        "status",
        "kind",
        "subject_label",
        "detail",
        "opened_at",
        "acknowledged_by",
        "resolved_at",
    ]
    list_display_links = ["kind", "subject_label"]
    list_filter = ["status", "kind", "suppressed"]
    # The dashboard links to the alerts still open or acknowledged.
    extra_lookups = ("status__in",)
    list_select_related = ["acknowledged_by"]
    search_fields = ["subject_label", "=subject"]
    search_help_text = "What it is about (contains), or its exact subject key."
    actions = ["acknowledge", "resolve"]
    inlines = [AlertNoticeInline]
    fields = readonly_fields = [
        "kind",
        "status",
        "subject_label",
        "subject",
        "detail",
        "value",
        "look_at",
        "opened_at",
        "last_seen_at",
        "acknowledged_at",
        "acknowledged_by",
        "resolved_at",
        "resolved_by",
        "suppressed",
    ]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="look at")
    def look_at(self, alert):
        return format_html('<a href="{}">{}</a>', alert.link, alert.link) if alert.link else "-"

    @admin.action(description="Acknowledge: I am looking into it", permissions=["change"])
    def acknowledge(self, request, queryset):
        count = alerts_acknowledge(alerts=queryset, user=request.user)
        self.message_user(request, f"{count} alert(s) acknowledged.", messages.SUCCESS)

    @admin.action(
        description="Resolve (until the condition clears and returns)", permissions=["change"]
    )
    def resolve(self, request, queryset):
        count = alerts_resolve(alerts=queryset, user=request.user)
        self.message_user(request, f"{count} alert(s) resolved.", messages.SUCCESS)

    def get_urls(self):
        return [
            path(
                "send-test/",
                self.admin_site.admin_view(self.send_test_view),
                name="console_alert_send_test",
            ),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "can_send_test": self.has_change_permission(request),
        }
        return super().changelist_view(request, extra_context)

    def send_test_view(self, request):
        if not self.has_change_permission(request):
            raise PermissionDenied
        changelist = reverse("admin:console_alert_changelist")
        if request.method == "POST":
            results = alert_test_send() or [
                (False, "Neither ALERT_EMAILS nor ALERT_WEBHOOK_URL is set: nobody to tell.")
            ]
            for ok, line in results:
                self.message_user(request, line, messages.SUCCESS if ok else messages.ERROR)
            return HttpResponseRedirect(changelist)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "Send a test alert",
            "emails": settings.ALERT_EMAILS,
            "webhook": bool(settings.ALERT_WEBHOOK_URL),
            "changelist": changelist,
        }
        return TemplateResponse(request, "admin/console/alert/send_test.html", context)
