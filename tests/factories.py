"""factory_boy factories of the rows tests make by hand.

Each fills what the table requires and keeps unique; a test names every value its assertions
depend on. Endpoints are made by the service the admin and the command use, so that a Nectar
endpoint has its signing secret.
"""

import factory
from django.contrib.auth.models import Group, Permission, User
from django.utils import timezone
from factory.django import DjangoModelFactory, Password

from consents.models import FollowUp, HostedConsent
from events.models import Delivery, Source, WebhookEndpoint
from events.services import endpoint_create
from meters.models import Customer, IntervalReading, Meter, UtilityBill
from meters.partitions import reading_partitions_ensure
from tests.support.webhooks import nectar_event, openvolt_envelope


class WebhookEndpointFactory(DjangoModelFactory):
    """An endpoint made by events.services.endpoint_create. A Nectar endpoint's signing secret
    is kept on the instance as `test_secret` (None for Openvolt), for the tests that sign."""

    class Meta:
        model = WebhookEndpoint

    source = Source.OPENVOLT
    description = factory.Sequence(lambda n: f"Endpoint {n}")
    openvolt_subscription_id = ""
    enabled = True
    secret = None  # Nectar only: generated when not given.

    @classmethod
    def _create(cls, model_class, *, secret, enabled, **fields):
        endpoint, secret = endpoint_create(secret=secret, **fields)
        if not enabled:
            endpoint.enabled = False
            endpoint.save(update_fields=["enabled"])
        endpoint.test_secret = secret
        return endpoint


class OpenvoltEndpointFactory(WebhookEndpointFactory):
    source = Source.OPENVOLT


class NectarEndpointFactory(WebhookEndpointFactory):
    source = Source.NECTAR


def _payload(delivery) -> dict:
    if delivery.source == Source.NECTAR:
        return nectar_event(delivery.event_type)
    return openvolt_envelope(delivery.event_type, delivery.external_id)


class DeliveryFactory(DjangoModelFactory):
    """A delivery as intake stores a new one (pending, received once, the body as payload),
    written to the table directly: no receipt, no job."""

    class Meta:
        model = Delivery

    endpoint = factory.SubFactory(OpenvoltEndpointFactory)
    source = factory.SelfAttribute("endpoint.source")
    external_id = factory.Sequence(lambda n: f"delivery-{n}")
    event_type = "customer.created"
    status = Delivery.Status.PENDING
    received_at = factory.LazyFunction(timezone.now)
    last_received_at = factory.SelfAttribute("received_at")
    payload = factory.LazyAttribute(_payload)


class CustomerFactory(DjangoModelFactory):
    class Meta:
        model = Customer

    external_id = factory.Sequence(lambda n: f"customer-{n}")


class MeterFactory(DjangoModelFactory):
    class Meta:
        model = Meter

    external_id = factory.Sequence(lambda n: f"meter-{n}")
    meter_number = factory.Sequence(lambda n: f"{1200000000000 + n}")


class IntervalReadingFactory(DjangoModelFactory):
    """A reading stored as the model would be, in a month whose partition is made if missing
    (readings_upsert makes sure of it; a bare create would be refused)."""

    class Meta:
        model = IntervalReading

    meter = factory.SubFactory("tests.factories.MeterFactory")
    start = factory.LazyFunction(lambda: timezone.now().replace(minute=0, second=0, microsecond=0))
    consumption_kwh = 1

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        reading_partitions_ensure(starts=[kwargs["start"]])
        return super()._create(model_class, *args, **kwargs)


class HostedConsentFactory(DjangoModelFactory):
    """A consent, not valid unless said (as the model); `revoked=True` for one revoked now."""

    class Meta:
        model = HostedConsent

    class Params:
        revoked = factory.Trait(valid=False, revoked_at=factory.LazyFunction(timezone.now))

    external_id = factory.Sequence(lambda n: f"consent-{n}")


class FollowUpFactory(DjangoModelFactory):
    """A follow-up row of a revoked consent, without the history the services write (for that,
    tests.support.follow_ups.open_follow_up)."""

    class Meta:
        model = FollowUp

    consent = factory.SubFactory(HostedConsentFactory, revoked=True)
    reason = "Consent revoked: contact the customer"


class UtilityBillFactory(DjangoModelFactory):
    class Meta:
        model = UtilityBill

    external_id = factory.Sequence(lambda n: f"bill-{n}")
    company_nectar_id = "company-1"


class StaffUserFactory(DjangoModelFactory):
    """A user who may log in to the admin, password "pw": in the named `groups` (those the
    roles migration made) and holding the named `permissions` (codenames)."""

    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"staff-{n}")
    password = Password("pw")
    is_staff = True

    @factory.post_generation
    def groups(user, create, names, **kwargs):
        if create and names:
            user.groups.add(*(Group.objects.get(name=name) for name in names))

    @factory.post_generation
    def permissions(user, create, codenames, **kwargs):
        if create and codenames:
            user.user_permissions.add(
                *(Permission.objects.get(codename=codename) for codename in codenames)
            )
