"""List filters of the consents changelist that the dashboard's numbers link to."""

from datetime import datetime, timedelta

from django.contrib import admin
from django.db.models import Q
from django.utils import timezone

EXPIRING_WITHIN = timedelta(days=30)


def expiring_soon_q(*, now: datetime | None = None) -> Q:
    """Valid consents whose expiry falls within the next 30 days (the valid, expiry index)."""
    now = now or timezone.now()
    return Q(valid=True, expiry__gte=now, expiry__lt=now + EXPIRING_WITHIN)


class ExpiryFilter(admin.SimpleListFilter):
    title = "expiry"
    parameter_name = "expiry"

    def lookups(self, request, model_admin):
        return [("soon", "Valid, expiring within 30 days"), ("past", "Expired")]

    def queryset(self, request, queryset):
        if self.value() == "soon":
            return queryset.filter(expiring_soon_q())
        if self.value() == "past":
            return queryset.filter(expiry__lt=timezone.now())
        return queryset
