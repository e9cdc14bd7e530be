"""Admin pieces every app uses: changelists that stay fast on large tables, and CSV exports."""

import csv
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from django.contrib import admin
from django.core.paginator import Paginator
from django.db import connection, models
from django.http import StreamingHttpResponse
from django.utils import timezone
from django.utils.functional import cached_property

# Counting more than this many rows of a filtered list costs more than the number is worth.
COUNT_CAP = 10_000


class LargeTablePaginator(Paginator):
    """A paginator that never counts a large table.

    Unfiltered, it reads PostgreSQL's row estimate; filtered, it counts at most COUNT_CAP
    rows, so the page links stop there (narrow the filter to go further).
    """

    @cached_property
    def count(self) -> int:
        queryset = self.object_list
        if not queryset.query.where:
            estimate = _estimated_rows(queryset.model._meta.db_table)
            if estimate > COUNT_CAP:
                return estimate
        return queryset[: COUNT_CAP + 1].count()


def _estimated_rows(table: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass", [table])
        row = cursor.fetchone()
    return max(row[0], 0) if row else 0


class LargeTableAdmin(admin.ModelAdmin):
    """DESIGN.md "Large tables": no full counts, no drill-down, heavy columns deferred."""

    paginator = LargeTablePaginator
    show_full_result_count = False
    # Facet counts would run a COUNT per filter choice over the whole table.
    show_facets = admin.ShowFacets.NEVER
    list_per_page = 50
    # Columns the changelist never shows and that can be large (payloads, tracebacks).
    changelist_deferred_fields: tuple[str, ...] = ()

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        match = request.resolver_match
        if self.changelist_deferred_fields and match and match.url_name.endswith("_changelist"):
            queryset = queryset.defer(*self.changelist_deferred_fields)
        return queryset


@dataclass(frozen=True)
class Column:
    header: str
    value: Callable[[Any], Any]


# A spreadsheet runs a cell starting with one of these as a formula (CSV injection).
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n")


def spreadsheet_safe(value: Any) -> Any:
    """A cell value a spreadsheet shows as text, never runs."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


class _Echo:
    """A file-like object whose write returns the line, for csv.writer to stream."""

    def write(self, value: str) -> str:
        return value


def csv_rows(columns: list[Column], rows: Iterable[Any]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow([column.header for column in columns])
    for row in rows:
        yield writer.writerow([spreadsheet_safe(column.value(row)) for column in columns])


def export_csv_action(columns: list[Column], *, description: str = "Export selected to CSV"):
    """An admin action `export_csv` streaming the selected rows (or, with "select all", the
    whole filtered list) as CSV, in bounded memory."""

    def export_csv(modeladmin, request, queryset):
        model = modeladmin.model._meta
        stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
        response = StreamingHttpResponse(
            csv_rows(columns, queryset.iterator(chunk_size=2000)),
            content_type="text/csv; charset=utf-8",
        )
        filename = f"{model.verbose_name_plural.replace(' ', '-')}-{stamp}.csv"
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response

    export_csv.short_description = description
    export_csv.allowed_permissions = ("view",)
    return export_csv


class MirrorAdmin(admin.ModelAdmin):
    """A mirror of a platform's objects: written by its events, read by people.

    An edit here would be silently undone by the platform's next event, so there is none.
    """

    # The view page still builds a form: say how URL fields read input, as Django 6 will.
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
