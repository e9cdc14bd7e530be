"""Re-fetch the gaps: a person asks Openvolt again for the half-hours some meters are missing.

The request becomes a delivery of its own, made by the console rather than received: a
`meter_data.received` naming exactly the missing ranges (meters/completeness.py), worked as
Openvolt's are, item by item (events/sources/openvolt_handlers.py), so that it is retried,
swept and shown like any other, and the deliveries list says who asked and what came of it.
It belongs to the first enabled Openvolt endpoint: deliveries are listed by endpoint.
"""

import uuid
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from events.models import Delivery, Source, WebhookEndpoint
from events.subjects import subjects_of
from events.tasks import delivery_run_queue
from meters.completeness import Gap, meter_gaps
from meters.models import Meter

EVENT_TYPE = "meter_data.received"
# The external id of a delivery the console made; a platform's never starts so.
EXTERNAL_ID_PREFIX = "console-refetch-"


class NoOpenvoltEndpoint(Exception):
    """No enabled Openvolt endpoint to file the request under."""


@dataclass(frozen=True)
class RefetchQueued:
    delivery: Delivery | None
    meters_with_gaps: int
    gaps: int
    half_hours: int


def gaps_refetch_queue(*, meters: list[Meter], requested_by: str) -> RefetchQueued:
    """Queue a fetch of each gap of these meters over the last 13 months; returns what was
    queued (no delivery when none of them has a gap)."""
    gaps = {meter: meter_gaps(meter=meter) for meter in meters}
    gaps = {meter: found for meter, found in gaps.items() if found}
    total_half_hours = sum(gap.half_hours for found in gaps.values() for gap in found)
    if not gaps:
        return RefetchQueued(None, 0, 0, 0)
    endpoint = (
        WebhookEndpoint.objects.filter(source=Source.OPENVOLT, enabled=True)
        .order_by("created_at")
        .first()
    )
    if endpoint is None:
        raise NoOpenvoltEndpoint("Add an enabled Openvolt endpoint first.")
    payload = _request(gaps, requested_by=requested_by)
    with transaction.atomic():
        delivery = Delivery.objects.create(
            endpoint=endpoint,
            source=Source.OPENVOLT,
            external_id=payload["delivery_id"],
            event_type=EVENT_TYPE,
            occurred_at=timezone.now(),
            payload=payload,
            subjects=subjects_of(payload),
            receipt_count=0,
        )
        delivery_run_queue(delivery_id=delivery.pk)
    return RefetchQueued(
        delivery,
        meters_with_gaps=len(gaps),
        gaps=sum(len(found) for found in gaps.values()),
        half_hours=total_half_hours,
    )


def _request(gaps: dict[Meter, list[Gap]], *, requested_by: str) -> dict:
    """The request in the shape of Openvolt's envelope, with who asked for it."""
    return {
        "event_id": EVENT_TYPE,
        "event_timestamp": timezone.now().isoformat(),
        "delivery_id": f"{EXTERNAL_ID_PREFIX}{uuid.uuid4().hex}",
        "requested_by": requested_by,
        "reason": "Re-fetch the gaps, asked in the console",
        "payload": [
            {
                "meter_id": meter.external_id,
                "meter_number": meter.meter_number,
                "start_interval": gap.start.isoformat(),
                "end_interval": gap.end.isoformat(),
            }
            for meter, found in gaps.items()
            for gap in found
        ],
    }
