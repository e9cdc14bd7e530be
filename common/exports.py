"""Lists leave the console as CSV or XLSX: formula-safe, in bounded memory, and logged.

An export is an admin action on a changelist (`export_csv`, `export_xlsx`). It takes the rows
selected, or with "select all" the whole filtered list, reads them through a server-side
cursor and writes them out as they come. It needs the export permission (ExportPermissionMixin
gives a ModelAdmin the check). Each export sends `export_started`, and `export_finished` when
the stream to the browser ends, with the number of rows that went out: the console keeps its
log of exports with them.

    class CustomerAdmin(ExportPermissionMixin, admin.ModelAdmin):
        actions = [*export_actions(CUSTOMER_COLUMNS)]
"""

import csv
import os
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from tempfile import SpooledTemporaryFile
from typing import IO, Any

from django.contrib import messages
from django.db.models import F, Func, TextField
from django.db.models.expressions import BaseExpression
from django.dispatch import Signal
from django.http import StreamingHttpResponse
from django.utils import timezone
from django.utils.text import capfirst
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

# The permission is the console's (console.ExportLog's Meta): named here, not imported.
EXPORT_PERMISSION = "console.export_data"
# Rows fetched from the database at a time, and CSV rows handed to the server per chunk:
# a chunk per row would cost a write to the socket per row.
FETCH_ROWS = 2000
CSV_CHUNK_ROWS = 500
# An Excel sheet holds 1,048,576 rows, the header included. Readings outgrow that quickly,
# which is why their changelist exports CSV only.
XLSX_MAX_ROWS = 1_048_575
# A finished workbook stays in memory up to this size, then spills to a temporary file.
XLSX_SPOOL_BYTES = 8 * 1024 * 1024
XLSX_READ_BYTES = 64 * 1024
XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@dataclass(frozen=True)
class Column:
    """A column of an export: its header, and its value read from a model instance."""

    header: str
    value: Callable[[Any], Any]


@dataclass(frozen=True)
class FieldColumn:
    """A column whose value the database gives as it is: a field path ("endpoint__description")
    or an expression (IsoText("received_at")).

    For the large tables: an export whose every column is one reads plain tuples instead of
    building model instances, several times faster.
    """

    header: str
    field: str | BaseExpression


class IsoText(Func):
    """A date-time as ISO 8601 text, written by PostgreSQL (in the connection's UTC).

    Turning timestamps into Python datetimes costs more than anything else in a large export.
    """

    template = "(to_json(%(expressions)s) #>> '{}')"
    output_field = TextField()


# A spreadsheet runs a cell starting with one of these as a formula (CSV injection), or with a
# tab or a line break before one. Some read past leading spaces too, and take a full-width or
# small sign (U+FF1D, U+FE62) for its ASCII one (OWASP, "CSV Injection"): compared after NFKC.
_FORMULA_SIGNS = ("=", "+", "-", "@")
_FORMULA_LEADS = ("\t", "\r", "\n")
# Characters Excel refuses in a sheet's name.
_SHEET_TITLE_FORBIDDEN = re.compile(r"[\\/?*\[\]:]")


def iso(moment: date | datetime | None) -> str:
    """A date or time as ISO 8601 text for an export cell; empty when there is none."""
    return moment.isoformat() if moment else ""


def spreadsheet_safe(value: Any) -> Any:
    """A cell value a spreadsheet shows as text, never runs."""
    if value is None:
        return ""
    if isinstance(value, str) and _runs_as_formula(value):
        return "'" + value
    return value


def _runs_as_formula(text: str) -> bool:
    if text.startswith(_FORMULA_LEADS):
        return True
    first = text.lstrip()[:1]
    return bool(first) and unicodedata.normalize("NFKC", first).startswith(_FORMULA_SIGNS)


class ExportPermissionMixin:
    """For a ModelAdmin with export actions: only those allowed to export see them."""

    def has_export_permission(self, request) -> bool:
        return self.has_view_permission(request) and request.user.has_perm(EXPORT_PERMISSION)


ExportColumns = list[Column] | list[FieldColumn]


def export_actions(columns: ExportColumns, *, xlsx: bool = True) -> list[Callable]:
    """The export actions of a changelist: CSV always, XLSX where a sheet can hold the list."""
    actions = [export_csv_action(columns)]
    if xlsx:
        actions.append(export_xlsx_action(columns))
    return actions


def export_csv_action(columns: ExportColumns, *, description: str = "Export selected to CSV"):
    """An admin action `export_csv` streaming the selected rows (or, with "select all", the
    whole filtered list) as CSV, in bounded memory."""

    _columns_check(columns)
    return export_csv_rows_action(
        "export_csv",
        _headers(columns),
        lambda queryset: export_rows(columns, queryset),
        description=description,
    )


def export_csv_rows_action(
    name: str,
    headers: list[str],
    rows: Callable[[Any], Iterable[Sequence[Any]]],
    *,
    description: str,
    filename: str = "",
):
    """An admin action `name` streaming as CSV the rows that `rows` makes of the selected
    objects: for an export whose rows are not the objects themselves (a meter's days)."""

    def action(modeladmin, request, queryset):
        export = _export_start(modeladmin, request, CSV)
        chunks = csv_chunks(headers, rows(queryset), export)
        response = StreamingHttpResponse(
            _finishing(chunks, export=export), content_type="text/csv; charset=utf-8"
        )
        response["Content-Disposition"] = _attachment(modeladmin, "csv", name=filename)
        return response

    action.__name__ = name
    action.short_description = description
    action.allowed_permissions = ("export",)
    return action


def export_xlsx_action(
    columns: ExportColumns, *, description: str = "Export selected to Excel (XLSX)"
):
    """An admin action `export_xlsx`: the same rows as `export_csv`, as one Excel sheet.

    The rows go into an openpyxl write-only workbook (each row written to disk as it comes);
    the finished file, a zip archive that cannot be sent before it is complete, is then
    streamed from a spooled temporary file.
    """

    _columns_check(columns)

    def export_xlsx(modeladmin, request, queryset):
        # A count bounded by the limit itself: it never scans more than a sheet would hold.
        if queryset[: XLSX_MAX_ROWS + 1].count() > XLSX_MAX_ROWS:
            modeladmin.message_user(
                request,
                f"More than {XLSX_MAX_ROWS:,} rows, which is more than an Excel sheet holds. "
                "Narrow the list with filters or a search, or export to CSV.",
                messages.ERROR,
            )
            return None
        export = _export_start(modeladmin, request, XLSX)
        title = str(capfirst(modeladmin.model._meta.verbose_name_plural))
        try:
            workbook = xlsx_file(
                _headers(columns), export_rows(columns, queryset), export, title=title
            )
        except BaseException:
            _export_finish(export)
            raise
        size = workbook.seek(0, os.SEEK_END)
        workbook.seek(0)
        response = StreamingHttpResponse(
            _finishing(_file_chunks(workbook, export), export=export),
            content_type=XLSX_CONTENT_TYPE,
        )
        response["Content-Length"] = str(size)
        response["Content-Disposition"] = _attachment(modeladmin, "xlsx")
        return response

    export_xlsx.short_description = description
    export_xlsx.allowed_permissions = ("export",)
    return export_xlsx


# --- Reading ------------------------------------------------------------------------------


def export_rows(columns: ExportColumns, queryset) -> Iterator[Sequence[Any]]:
    """Each row's cell values, as they come from a server-side cursor, in bounded memory."""
    if isinstance(columns[0], FieldColumn):
        cells = {f"export_cell_{i}": _expression(column.field) for i, column in enumerate(columns)}
        return queryset.annotate(**cells).values_list(*cells).iterator(chunk_size=FETCH_ROWS)
    return (
        [column.value(obj) for column in columns]
        for obj in queryset.iterator(chunk_size=FETCH_ROWS)
    )


def _expression(field: str | BaseExpression) -> BaseExpression:
    return F(field) if isinstance(field, str) else field


def _columns_check(columns: ExportColumns) -> None:
    if len({type(column) for column in columns}) != 1:
        raise TypeError("An export's columns are all Column or all FieldColumn.")


def _headers(columns: ExportColumns) -> list[str]:
    return [column.header for column in columns]


# --- Writing ------------------------------------------------------------------------------


@dataclass
class ExportProgress:
    """How far an export got: rows that left, and whether the whole stream did."""

    rows: int = 0
    complete: bool = False


class _Echo:
    """A file-like object whose write returns the line, for csv.writer to stream."""

    def write(self, value: str) -> str:
        return value


def csv_chunks(
    headers: list[str], rows: Iterable[Sequence[Any]], progress: ExportProgress | None = None
) -> Iterator[str]:
    """The CSV text of the rows, header first, a few hundred rows per chunk.

    Rows are counted once their chunk has been taken by the reader, and the export is marked
    complete only after the last chunk, so a stream cut short is counted as far as it went.
    """
    progress = progress if progress is not None else ExportProgress()
    writer = csv.writer(_Echo())
    lines = [writer.writerow(headers)]
    pending = 0
    for row in rows:
        lines.append(writer.writerow([spreadsheet_safe(cell) for cell in row]))
        pending += 1
        if pending >= CSV_CHUNK_ROWS:
            yield "".join(lines)
            progress.rows += pending
            lines, pending = [], 0
    yield "".join(lines)
    progress.rows += pending
    progress.complete = True


def xlsx_file(
    headers: list[str], rows: Iterable[Sequence[Any]], progress: ExportProgress, *, title: str
) -> IO[bytes]:
    """An XLSX workbook of one sheet holding the rows, in a spooled temporary file.

    `progress.rows` counts the rows written; `complete` is left to whoever sends the file.
    """
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=_SHEET_TITLE_FORBIDDEN.sub(" ", title)[:31] or "Export")
    sheet.append([_xlsx_cell(sheet, header) for header in headers])
    for row in rows:
        sheet.append([_xlsx_cell(sheet, cell) for cell in row])
        progress.rows += 1
    # Closed by whoever sends it (_file_chunks), so no `with` here.
    file = SpooledTemporaryFile(max_size=XLSX_SPOOL_BYTES)  # noqa: SIM115
    try:
        workbook.save(file)
    except BaseException:
        file.close()
        raise
    return file


def _xlsx_cell(sheet, value: Any) -> Any:
    """A value openpyxl writes as what it is, and text always as text.

    Numbers, booleans, dates and naive times stay typed. Everything else becomes a cell typed
    as a string: left to itself openpyxl takes "=..." for a formula and "#N/A" for an error.
    Text is escaped as in the CSV too, so that it stays inert once copied out or saved as CSV.
    """
    if value is None:
        return None
    if isinstance(value, bool | int | float | Decimal):
        return value
    if isinstance(value, datetime):
        if timezone.is_naive(value):
            return value
        # Excel has no time zones: an aware time goes out as ISO 8601 text, as in the CSV.
        value = value.isoformat()
    elif isinstance(value, date):
        return value
    # Control characters are not allowed in a worksheet (openpyxl refuses them).
    text = ILLEGAL_CHARACTERS_RE.sub("", str(value))
    cell = WriteOnlyCell(sheet, value=spreadsheet_safe(text))
    cell.data_type = "s"
    return cell


def _file_chunks(file: IO[bytes], progress: ExportProgress) -> Iterator[bytes]:
    try:
        while chunk := file.read(XLSX_READ_BYTES):
            yield chunk
        progress.complete = True
    finally:
        file.close()


def _attachment(modeladmin, extension: str, *, name: str = "") -> str:
    name = name or modeladmin.model._meta.verbose_name_plural.replace(" ", "-")
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    return f'attachment; filename="{name}-{stamp}.{extension}"'


# --- Telling who keeps the record ----------------------------------------------------------

CSV, XLSX = "csv", "xlsx"

# Sent with `export`, an Export: when its first byte is about to leave, and when its stream
# ended, however it ended (`complete` says whether all of it went).
export_started = Signal()
export_finished = Signal()


@dataclass
class Export(ExportProgress):
    """An export under way: who takes which list out, in which format, and how far it got."""

    user: Any = None
    model_label: str = ""
    format: str = CSV
    # The changelist's query string: its filters and search.
    query_string: str = ""
    # The whole filtered list, not a selection of rows.
    selected_all: bool = False
    # The id of the record a receiver keeps of this export (the console's ExportLog).
    record_id: int | None = None


def _export_start(modeladmin, request, export_format: str) -> Export:
    export = Export(
        user=request.user,
        model_label=modeladmin.model._meta.label_lower,
        format=export_format,
        # An action is posted to the changelist's own URL: its query string is the filter.
        query_string=request.GET.urlencode(),
        selected_all=request.POST.get("select_across") == "1",
    )
    export_started.send(sender=modeladmin.model, export=export)
    return export


def _export_finish(export: Export) -> None:
    export_finished.send(sender=Export, export=export)


def _finishing(chunks: Iterator, *, export: Export) -> Iterator[str | bytes]:
    """The chunks, passed on; when the stream ends, however it ends, the export is finished.

    The server closes the stream when the browser goes away, which runs the `finally` here
    (Django closes a streaming response's iterator before it lets go of the database).
    """
    try:
        yield from chunks
    finally:
        _export_finish(export)
