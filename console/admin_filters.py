"""List filters that join apps: meters whose consent is no longer valid."""

from django.contrib import admin
from django.db.models import Func, Q, QuerySet

from consents.models import HostedConsent


def _meter_numbers_of(consents: QuerySet[HostedConsent]) -> QuerySet:
    return consents.annotate(number=Func("meter_numbers", function="unnest")).values("number")


def without_valid_consent_q() -> Q:
    """Meters listed on a consent that is not valid (revoked, expired, refused) and on no valid
    one: a meter consented again under a new consent is fine."""
    return Q(meter_number__in=_meter_numbers_of(HostedConsent.objects.filter(valid=False))) & ~Q(
        meter_number__in=_meter_numbers_of(HostedConsent.objects.filter(valid=True))
    )


class ConsentValidityFilter(admin.SimpleListFilter):
    title = "consent"
    parameter_name = "consent"

    def lookups(self, request, model_admin):
        return [("invalid", "Consent no longer valid")]

    def queryset(self, request, queryset):
        if self.value() == "invalid":
            return queryset.filter(without_valid_consent_q())
        return queryset
