"""What a follow-up's admin page shows around its form: who to call, about which meters, what
has been done so far, and what can be done next."""

from dataclasses import dataclass
from typing import Any

from django.urls import reverse

from consents.forms import FollowUpWorkForm
from consents.models import FollowUp
from consents.selectors import follow_up_history
from console.pages.links import change_url_if
from meters.models import Meter
from meters.selectors import Freshness, meter_freshness, meters_by_number


@dataclass(frozen=True)
class AffectedMeter:
    number: str
    meter: Meter | None
    url: str
    freshness: Freshness | None


@dataclass(frozen=True)
class WorkButton:
    do: str
    label: str
    # The main button of the box; the others are secondary.
    primary: bool = False


def follow_up_page(request, follow_up: FollowUp, can_change: bool) -> dict[str, Any]:
    user = request.user
    consent = follow_up.consent
    customer = consent.customer
    mirrored = meters_by_number(meter_numbers=follow_up.meter_numbers)
    can_view_meters = user.has_perm("meters.view_meter")
    affected = [
        AffectedMeter(
            number=number,
            meter=mirrored.get(number),
            url=change_url_if(mirrored.get(number), allowed=can_view_meters),
            freshness=meter_freshness(meter=mirrored[number]) if number in mirrored else None,
        )
        for number in follow_up.meter_numbers
    ]
    return {
        "follow_up": follow_up,
        "consent": consent,
        "consent_url": change_url_if(consent, allowed=user.has_perm("consents.view_hostedconsent")),
        "customer": customer,
        "customer_url": change_url_if(customer, allowed=user.has_perm("meters.view_customer")),
        "affected_meters": affected,
        "history": list(follow_up_history(follow_up=follow_up)),
        "can_work": can_change,
        "work_form": FollowUpWorkForm(),
        "work_url": reverse("admin:consents_followup_work", args=[follow_up.pk]),
        "work_buttons": _work_buttons(follow_up, user) if can_change else [],
    }


def _work_buttons(follow_up: FollowUp, user) -> list[WorkButton]:
    buttons = [WorkButton("note", "Add note", primary=True)]
    if follow_up.is_open and follow_up.assignee_id != user.pk:
        buttons.append(WorkButton("assign_me", "Assign to me"))
    labels = {
        FollowUp.Status.CONTACTED: "Mark contacted",
        FollowUp.Status.RESOLVED: "Mark resolved",
        FollowUp.Status.WONT_FIX: "Won't fix",
    }
    buttons += [
        WorkButton(status.value, labels[status])
        for status in follow_up.NEXT_STATUSES[follow_up.status]
    ]
    return buttons
