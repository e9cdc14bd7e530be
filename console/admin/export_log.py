from django.contrib import admin

from common.admin import ReadOnlyAdmin
from console.models import ExportLog


@admin.register(ExportLog)
class ExportLogAdmin(ReadOnlyAdmin):
    """The record of who exported what: read, never written, by people."""

    list_display = [
        "started_at",
        "user",
        "model_label",
        "format",
        "row_count",
        "complete",
        "selected_all",
        "query_string",
    ]
    list_filter = ["format", "complete", "model_label"]
    list_select_related = ["user"]
    search_fields = ["user__username", "=model_label"]
    search_help_text = "User name (contains) or exact model label, such as events.delivery."
    fields = readonly_fields = [
        "user",
        "model_label",
        "format",
        "query_string",
        "selected_all",
        "row_count",
        "complete",
        "started_at",
        "finished_at",
    ]
