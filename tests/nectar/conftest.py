import pytest

from events.processing import delivery_process
from tests.support.nectar import load, send


@pytest.fixture
def deliver(api_client, nectar_endpoint):
    """deliver(event) posts an event (a dict, or the name of a fixture) through the HTTP
    intake, runs it through delivery_process once, and returns the refreshed Delivery."""

    def deliver(event, *, message_id=None):
        if isinstance(event, str):
            event = load(event)
        delivery = send(api_client, nectar_endpoint, event, message_id=message_id)
        delivery_process(delivery_id=delivery.pk)
        delivery.refresh_from_db()
        return delivery

    return deliver
