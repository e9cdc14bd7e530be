"""List filters of the consents and follow-ups changelists (some the dashboard links to)."""

from datetime import datetime, timedelta

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.db.models import Q
from django.utils import timezone

from common.users import user_display_name
from consents.selectors import follow_up_overdue_q

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


class AssigneeFilter(admin.SimpleListFilter):
    title = "assignee"
    parameter_name = "assignee"

    def lookups(self, request, model_admin):
        # Only people who hold follow-ups: a short list, however many users there are.
        people = (
            get_user_model()
            .objects.filter(follow_ups__isnull=False)
            .exclude(pk=request.user.pk)
            .distinct()
            .order_by("username")
        )
        return [
            ("me", "Me"),
            ("nobody", "Nobody"),
            *((str(person.pk), user_display_name(person)) for person in people),
        ]

    def queryset(self, request, queryset):
        value = self.value()
        if value == "me":
            return queryset.filter(assignee=request.user)
        if value == "nobody":
            return queryset.filter(assignee__isnull=True)
        if value and value.isdigit():
            return queryset.filter(assignee_id=int(value))
        return queryset


class OverdueFilter(admin.SimpleListFilter):
    title = "overdue"
    parameter_name = "overdue"

    def lookups(self, request, model_admin):
        return [("yes", "Overdue (still being worked)"), ("no", "Not overdue")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(follow_up_overdue_q())
        if self.value() == "no":
            return queryset.exclude(follow_up_overdue_q())
        return queryset
