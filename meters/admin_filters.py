"""List filters of the meters changelist that the dashboard's numbers link to."""

from datetime import datetime

from django.contrib import admin
from django.db.models import Func, Q, QuerySet
from django.utils import timezone

from consents.models import HostedConsent
from meters.selectors import STALE_AFTER


def stale_meters_q(*, now: datetime | None = None) -> Q:
    """Meters whose newest half-hour started more than STALE_AFTER ago, or that have none."""
    cutoff = (now or timezone.now()) - STALE_AFTER
    return Q(latest_reading_start__lt=cutoff) | Q(latest_reading_start__isnull=True)


def _meter_numbers_of(consents: QuerySet[HostedConsent]) -> QuerySet:
    return consents.annotate(number=Func("meter_numbers", function="unnest")).values("number")


def without_valid_consent_q() -> Q:
    """Meters listed on a consent that is not valid (revoked, expired, refused) and on no valid
    one: a meter consented again under a new consent is fine."""
    return Q(meter_number__in=_meter_numbers_of(HostedConsent.objects.filter(valid=False))) & ~Q(
        meter_number__in=_meter_numbers_of(HostedConsent.objects.filter(valid=True))
    )


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


class ConsentValidityFilter(admin.SimpleListFilter):
    title = "consent"
    parameter_name = "consent"

    def lookups(self, request, model_admin):
        return [("invalid", "Consent no longer valid")]

    def queryset(self, request, queryset):
        if self.value() == "invalid":
            return queryset.filter(without_valid_consent_q())
        return queryset
