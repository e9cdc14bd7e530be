import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from events.models import EndpointSecret, WebhookEndpoint
from events.sources.nectar import is_valid_secret


def create_endpoint(*args):
    out = StringIO()
    call_command("create_webhook_endpoint", *args, stdout=out)
    lines = out.getvalue().splitlines()
    assert len(lines) == 1, "the command prints exactly one line"
    return json.loads(lines[0])


@pytest.mark.django_db
def test_openvolt_endpoint_has_no_secret_and_may_be_bound_to_a_subscription():
    printed = create_endpoint(
        "--source", "openvolt", "--description", "Production", "--subscription-id", "sub-1"
    )

    endpoint = WebhookEndpoint.objects.get()
    assert printed == {
        "id": str(endpoint.pk),
        "source": "openvolt",
        "path": f"/webhooks/{endpoint.pk}/",
        "secret": None,
    }
    assert endpoint.description == "Production"
    assert endpoint.openvolt_subscription_id == "sub-1"


@pytest.mark.django_db
def test_nectar_endpoint_gets_a_generated_secret():
    printed = create_endpoint("--source", "nectar")

    assert is_valid_secret(printed["secret"])
    assert EndpointSecret.objects.get().secret == printed["secret"]


@pytest.mark.django_db
def test_nectar_endpoint_keeps_a_given_secret():
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

    printed = create_endpoint("--source", "nectar", "--secret", secret)

    assert printed["secret"] == secret


@pytest.mark.django_db
@pytest.mark.parametrize(
    "args",
    [
        ["--source", "nectar", "--secret", "not-a-secret"],
        ["--source", "openvolt", "--secret", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"],
        ["--source", "nectar", "--subscription-id", "sub-1"],
    ],
)
def test_inconsistent_options_are_refused_and_create_nothing(args):
    with pytest.raises(CommandError):
        call_command("create_webhook_endpoint", *args, stdout=StringIO())

    assert not WebhookEndpoint.objects.exists()
