"""List filters of the meters changelist that the dashboard's numbers link to."""

from datetime import datetime

from django.contrib import admin
from django.db.models import Q
from django.utils import timezone

from meters.completeness import COMPLETE_PERCENT
from meters.selectors import STALE_AFTER


def stale_meters_q(*, now: datetime | None = None) -> Q:
    """Meters whose newest half-hour started more than STALE_AFTER ago, or that have none."""
    cutoff = (now or timezone.now()) - STALE_AFTER
    return Q(latest_reading_start__lt=cutoff) | Q(latest_reading_start__isnull=True)


class DataFreshnessFilter(admin.SimpleListFilter):
    title = "data"
    parameter_name = "data"

    def lookups(self, request, model_admin):
        return [
            ("stale", f"No new data for {STALE_AFTER.days} days, or none yet"),
            ("fresh", f"Data within {STALE_AFTER.days} days"),
        ]

    def queryset(self, request, queryset):
        if self.value() == "stale":
            return queryset.filter(stale_meters_q())
        if self.value() == "fresh":
            return queryset.exclude(stale_meters_q())
        return queryset


def incomplete_meters_q() -> Q:
    """Meters missing more than (100 - COMPLETE_PERCENT) % of their half-hours."""
    return Q(completeness__lt=COMPLETE_PERCENT)


class CompletenessFilter(admin.SimpleListFilter):
    title = "completeness, last 13 months"
    parameter_name = "completeness"

    def lookups(self, request, model_admin):
        return [
            ("under", f"Under {COMPLETE_PERCENT} %: half-hours missing"),
            ("complete", f"{COMPLETE_PERCENT} % or more"),
            ("unknown", "Not measured (no reading in 13 months)"),
        ]

    def queryset(self, request, queryset):
        if self.value() == "under":
            return queryset.filter(incomplete_meters_q())
        if self.value() == "complete":
            return queryset.filter(completeness__gte=COMPLETE_PERCENT)
        if self.value() == "unknown":
            return queryset.filter(completeness__isnull=True)
        return queryset
