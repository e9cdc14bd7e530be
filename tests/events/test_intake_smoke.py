from events.models import Delivery
from tests.conftest import nectar_event, nectar_headers, openvolt_envelope, post_json


def test_openvolt_delivery_is_stored_and_acknowledged(api_client, openvolt_endpoint):
    response = post_json(api_client, openvolt_endpoint, openvolt_envelope())

    assert response.status_code == 202
    delivery = Delivery.objects.get()
    assert response.json() == {"delivery": str(delivery.pk), "duplicate": False}
    assert delivery.status == Delivery.Status.PENDING


def test_signed_nectar_delivery_is_stored(api_client, nectar_endpoint):
    body = b'{"eventType": "connection.created.v2", "id": "c1"}'
    headers = nectar_headers(nectar_endpoint.test_secret, body, message_id="msg_abc")

    response = post_json(api_client, nectar_endpoint, body, headers)

    assert response.status_code == 202
    assert Delivery.objects.get().external_id == "msg_abc"


def test_nectar_event_helper_builds_a_valid_event(api_client, nectar_endpoint):
    import json

    body = json.dumps(nectar_event()).encode()
    response = post_json(
        api_client, nectar_endpoint, body, nectar_headers(nectar_endpoint.test_secret, body)
    )
    assert response.status_code == 202
