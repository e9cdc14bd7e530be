"""Admin pieces every app uses: changelists that stay fast on large tables, read-only mirrors
and inlines. The export actions are in common/exports.py."""

from urllib.parse import urlencode

from django.contrib import admin
from django.core.paginator import Paginator
from django.db import connection, models
from django.urls import reverse
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
            estimate = estimated_rows(queryset.model._meta.db_table)
            if estimate > COUNT_CAP:
                return estimate
        # Unordered: any COUNT_CAP + 1 rows count the same, without sorting them (or joining
        # the table an ordering by a related field needs).
        return queryset.order_by()[: COUNT_CAP + 1].count()


def estimated_rows(table: str) -> int:
    """The planner's estimate; of a partitioned table, the sum of its partitions' (its own
    holds no rows, and is only counted by a manual ANALYZE)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT coalesce(sum(greatest(reltuples, 0)), 0)::bigint FROM pg_class "
            "WHERE (oid = %(table)s::regclass AND relkind <> 'p') OR oid IN "
            "(SELECT inhrelid FROM pg_inherits WHERE inhparent = %(table)s::regclass)",
            {"table": table},
        )
        return cursor.fetchone()[0]


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


class ReadOnlyAdmin(admin.ModelAdmin):
    """Records people read but never add, change or delete here (view permission only)."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class MirrorAdmin(ReadOnlyAdmin):
    """A mirror of a platform's objects: written by its events, read by people.

    An edit here would be silently undone by the platform's next event, so there is none.
    """

    # The view page still builds a form: say how URL fields read input, as Django 6 will.
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}


class ReadOnlyInline(admin.TabularInline):
    """Rows shown beside the object they belong to, never edited there."""

    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


def admin_change_url(obj: models.Model, *, site_name: str = "admin") -> str:
    """The admin page of one object."""
    meta = obj._meta
    return reverse(
        f"admin:{meta.app_label}_{meta.model_name}_change", args=[obj.pk], current_app=site_name
    )


def admin_changelist_url(model: type[models.Model], *, site_name: str = "admin", **query) -> str:
    """The admin list of a model, filtered by `query` when given."""
    meta = model._meta
    url = reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist", current_app=site_name)
    return f"{url}?{urlencode(query)}" if query else url
