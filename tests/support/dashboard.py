"""The dashboard as the tests read it: one of its "needs attention" panels, and what a link
of it lists."""

from django.urls import reverse


def attention_panel(client, title: str):
    """The panel titled so, and the page's HTML."""
    response = client.get(reverse("admin:index"))
    assert response.status_code == 200
    (panel,) = [p for p in response.context["dashboard"].attention if p.title == title]
    return panel, response.content.decode()


def listed_deliveries(client, link) -> set[str]:
    """The external ids of the deliveries a changelist link lists."""
    response = client.get(link)
    assert response.status_code == 200, link
    return {delivery.external_id for delivery in response.context["cl"].result_list}
