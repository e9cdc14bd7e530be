"""The console's record of every export (ExportLog), kept through the export engine's signals.

A row is written when an export starts and completed when its stream ends: one whose stream
was cut short says so with `complete` false; one never completed stopped with its process.
"""

from django.dispatch import receiver
from django.utils import timezone

from common.exports import Export, export_finished, export_started
from console.models import ExportLog


@receiver(export_started, dispatch_uid="console.export_log_start")
def export_log_start(sender, *, export: Export, **kwargs) -> None:
    log = ExportLog.objects.create(
        user=export.user,
        model_label=export.model_label,
        format=export.format,
        query_string=export.query_string,
        selected_all=export.selected_all,
        started_at=timezone.now(),
    )
    export.record_id = log.pk


@receiver(export_finished, dispatch_uid="console.export_log_finish")
def export_log_finish(sender, *, export: Export, **kwargs) -> None:
    if export.record_id is None:
        return
    ExportLog.objects.filter(pk=export.record_id).update(
        row_count=export.rows, complete=export.complete, finished_at=timezone.now()
    )
