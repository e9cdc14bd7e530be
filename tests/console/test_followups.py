"""Working follow-ups in the admin: the actions, the follow-up's page, the list's filters and
order. The services they call are tested in tests/consents/test_follow_ups.py."""

from datetime import date, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from consents.models import FollowUp, FollowUpNote
from consents.services import follow_up_assign, follow_up_note_add, follow_up_resolve
from tests.factories import CustomerFactory, MeterFactory, StaffUserFactory
from tests.support.follow_ups import history, open_follow_up

CHANGELIST = reverse("admin:consents_followup_changelist")
Status = FollowUp.Status
Kind = FollowUpNote.Kind


def change_url(follow_up):
    return reverse("admin:consents_followup_change", args=[follow_up.pk])


def work_url(follow_up):
    return reverse("admin:consents_followup_work", args=[follow_up.pk])


# The admin: actions


def post_action(client, action, follow_ups, **data):
    return client.post(
        CHANGELIST,
        {"action": action, "_selected_action": [f.pk for f in follow_ups], **data},
        follow=True,
    )


def messages_of(response):
    return [str(message) for message in response.context["messages"]]


def test_actions_assign_and_move_and_report_refusals(admin_client, admin_user, alice):
    first, second = open_follow_up(), open_follow_up()
    done = follow_up_resolve(follow_up=open_follow_up(), by=alice)

    response = post_action(admin_client, "assign_to_me", [first, second])
    assert messages_of(response) == ["2 follow-ups assigned to you."]
    assert set(FollowUp.objects.filter(assignee=admin_user)) == {first, second}

    response = post_action(admin_client, "mark_contacted", [first, done])
    assert messages_of(response) == [
        "1 follow-up marked contacted.",
        f"Skipped: Follow-up {done.pk} is resolved: it cannot be marked contacted.",
    ]
    response = post_action(admin_client, "mark_resolved", [first])
    assert messages_of(response) == ["1 follow-up marked resolved."]

    first.refresh_from_db()
    assert first.status == Status.RESOLVED and first.closed_at
    assert [(kind, author) for kind, author, _ in history(first)][1:] == [
        (Kind.ASSIGNMENT, "admin"),
        (Kind.STATUS, "admin"),
        (Kind.STATUS, "admin"),
    ]


def test_won_t_fix_action_asks_for_the_reason_first(admin_client):
    follow_up = open_follow_up()

    asked = post_action(admin_client, "mark_wont_fix", [follow_up])
    assert asked.status_code == 200
    assert "Why won't it be fixed?" in asked.content.decode()
    assert FollowUp.objects.get(pk=follow_up.pk).status == Status.OPEN

    blank = post_action(admin_client, "mark_wont_fix", [follow_up], apply="1", reason=" ")
    assert "This field is required." in blank.content.decode()
    assert FollowUp.objects.get(pk=follow_up.pk).status == Status.OPEN

    done = post_action(
        admin_client, "mark_wont_fix", [follow_up], apply="1", reason="Customer moved abroad."
    )
    assert messages_of(done) == ["1 follow-up marked won't fix."]
    follow_up.refresh_from_db()
    assert follow_up.status == Status.WONT_FIX
    assert ("note", "admin", "Customer moved abroad.") in history(follow_up)


def test_staff_with_view_and_change_on_follow_ups_can_work_them(db, client):
    carol = StaffUserFactory(username="carol", permissions=["view_followup", "change_followup"])
    client.force_login(carol)
    follow_up = open_follow_up()

    page = client.get(change_url(follow_up))
    assert page.status_code == 200
    body = page.content.decode()
    # Pages they may not open are named, not linked.
    assert "1200023305967" in body
    assert reverse("admin:meters_meter_changelist") not in body
    assert reverse("admin:consents_hostedconsent_changelist") not in body

    response = post_action(client, "assign_to_me", [follow_up])
    assert messages_of(response) == ["1 follow-up assigned to you."]
    client.post(work_url(follow_up), {"do": "note", "note": "Rang twice."})
    client.post(work_url(follow_up), {"do": "contacted", "note": ""})
    client.post(work_url(follow_up), {"do": "wont_fix", "note": "Business closed."})

    follow_up.refresh_from_db()
    assert follow_up.status == Status.WONT_FIX
    assert [(kind, author) for kind, author, _ in history(follow_up)][1:] == [
        (Kind.ASSIGNMENT, "carol"),
        (Kind.NOTE, "carol"),
        (Kind.STATUS, "carol"),
        (Kind.NOTE, "carol"),
        (Kind.STATUS, "carol"),
    ]


def test_staff_who_may_only_view_cannot_work_them(db, client):
    client.force_login(StaffUserFactory(permissions=["view_followup"]))
    follow_up = open_follow_up()

    action_form = client.get(CHANGELIST).context["action_form"]
    offered = {name for name, _ in action_form.fields["action"].choices} if action_form else set()
    assert not {"assign_to_me", "mark_contacted", "mark_resolved", "mark_wont_fix"} & offered
    page = client.get(change_url(follow_up))
    assert page.status_code == 200
    assert work_url(follow_up) not in page.content.decode()

    refused = client.post(work_url(follow_up), {"do": "resolved", "note": ""})
    assert refused.status_code == 403
    assert FollowUp.objects.get(pk=follow_up.pk).status == Status.OPEN


# The admin: the follow-up's page


def test_page_shows_who_to_call_the_meters_and_the_history(admin_client, alice):
    customer = CustomerFactory(name="Hartley & Sons", email="ops@hartley.example")
    meter = MeterFactory(
        meter_number="1200023305967",
        customer=customer,
        latest_reading_start=timezone.now() - timedelta(hours=3),
    )
    follow_up = open_follow_up(customer=customer, meter_numbers=["1200023305967", "1999999999999"])
    follow_up_note_add(follow_up=follow_up, author=alice, text="<script>alert(1)</script>")

    body = admin_client.get(change_url(follow_up)).content.decode()

    assert "Hartley &amp; Sons" in body
    assert 'href="mailto:ops@hartley.example"' in body
    assert reverse("admin:meters_meter_change", args=[meter.pk]) in body
    assert reverse("admin:meters_customer_change", args=[customer.pk]) in body
    assert reverse("admin:consents_hostedconsent_change", args=[follow_up.consent_id]) in body
    assert "latest half-hour 3\xa0hours ago" in body
    assert "1999999999999" in body and "not mirrored here" in body
    assert "Alice Archer" in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body
    assert "<script>alert(1)" not in body
    for button in ("Add note", "Assign to me", "Mark contacted", "Mark resolved", "Won&#x27;t fix"):
        assert button in body


def test_a_closed_one_offers_notes_only(admin_client, alice):
    follow_up = follow_up_resolve(follow_up=open_follow_up(), by=alice)

    body = admin_client.get(change_url(follow_up)).content.decode()

    assert 'value="note"' in body
    for move in ("assign_me", "contacted", "resolved", "wont_fix"):
        assert f'value="{move}"' not in body


def test_work_box_refuses_what_is_not_allowed_and_says_why(admin_client, alice):
    follow_up = follow_up_resolve(follow_up=open_follow_up(), by=alice)

    response = admin_client.post(
        work_url(follow_up), {"do": "contacted", "note": "Try again"}, follow=True
    )
    assert messages_of(response) == [
        f"Follow-up {follow_up.pk} is resolved: it cannot be marked contacted."
    ]
    # All or nothing: the note that came with the refused move is not kept either.
    assert "Try again" not in [text for _, _, text in history(follow_up)]

    response = admin_client.post(work_url(follow_up), {"do": "note", "note": ""}, follow=True)
    assert messages_of(response) == ["Write the note first."]
    assert admin_client.get(work_url(follow_up)).status_code == 405


def test_saving_the_form_assigns_and_schedules_through_the_history(admin_client, alice):
    follow_up = open_follow_up()

    response = admin_client.post(
        change_url(follow_up), {"assignee": alice.pk, "due_on": "2025-04-01"}
    )

    assert response.status_code == 302
    follow_up.refresh_from_db()
    assert (follow_up.assignee, follow_up.due_on) == (alice, date(2025, 4, 1))
    assert [(kind, author) for kind, author, _ in history(follow_up)][1:] == [
        (Kind.ASSIGNMENT, "admin"),
        (Kind.DUE_DATE, "admin"),
    ]


def test_a_closed_one_s_form_is_read_only(admin_client, alice, bob):
    follow_up = follow_up_resolve(follow_up=open_follow_up(), by=alice)

    admin_client.post(change_url(follow_up), {"assignee": bob.pk, "due_on": "2025-04-01"})

    follow_up.refresh_from_db()
    assert (follow_up.assignee, follow_up.due_on) == (None, None)


def test_follow_ups_are_not_added_or_deleted_by_hand(admin_client):
    follow_up = open_follow_up()

    assert admin_client.get(reverse("admin:consents_followup_add")).status_code == 403
    delete = reverse("admin:consents_followup_delete", args=[follow_up.pk])
    assert admin_client.post(delete, {"post": "yes"}).status_code == 403
    assert FollowUp.objects.filter(pk=follow_up.pk).exists()


# The admin: the list


def shown(response):
    assert response.status_code == 200
    return [follow_up.pk for follow_up in response.context["cl"].result_list]


@pytest.fixture
def worked(db, admin_user, alice):
    """Follow-ups opened a day apart: open, overdue, contacted, resolved, assigned around."""
    today = timezone.localdate()

    def opened(days_ago, **changes):
        follow_up = open_follow_up()
        FollowUp.objects.filter(pk=follow_up.pk).update(
            opened_at=timezone.now() - timedelta(days=days_ago), **changes
        )
        return follow_up

    return {
        "mine_overdue": opened(5, assignee=admin_user, due_on=today - timedelta(days=1)),
        "alices": opened(4, assignee=alice, due_on=today),
        "nobodys": opened(3),
        "contacted_overdue": opened(6, status=Status.CONTACTED, due_on=today - timedelta(days=2)),
        "resolved_past_due": opened(
            9, status=Status.RESOLVED, assignee=admin_user, due_on=today - timedelta(days=3)
        ),
    }


def test_default_order_is_open_ones_oldest_first_then_closed(admin_client, worked):
    assert shown(admin_client.get(CHANGELIST)) == [
        worked[name].pk
        for name in ("contacted_overdue", "mine_overdue", "alices", "nobodys", "resolved_past_due")
    ]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"overdue": "yes"}, {"contacted_overdue", "mine_overdue"}),
        ({"overdue": "no"}, {"alices", "nobodys", "resolved_past_due"}),
        ({"assignee": "me"}, {"mine_overdue", "resolved_past_due"}),
        ({"assignee": "nobody"}, {"nobodys", "contacted_overdue"}),
        ({"status__exact": "contacted"}, {"contacted_overdue"}),
        ({"assignee": "me", "overdue": "yes"}, {"mine_overdue"}),
    ],
)
def test_filters(admin_client, worked, query, expected):
    assert set(shown(admin_client.get(CHANGELIST, query))) == {worked[n].pk for n in expected}


def test_assignee_filter_offers_me_nobody_and_the_people_holding_follow_ups(
    admin_client, worked, alice
):
    assert set(shown(admin_client.get(CHANGELIST, {"assignee": str(alice.pk)}))) == {
        worked["alices"].pk
    }
    page = admin_client.get(CHANGELIST).content.decode()
    assert "?assignee=me" in page and "?assignee=nobody" in page and "Alice Archer" in page


def test_changelist_queries_do_not_grow_with_the_rows(admin_client, admin_user):
    def queries():
        with CaptureQueriesContext(connection) as captured:
            assert admin_client.get(CHANGELIST).status_code == 200
        return len(captured)

    follow_up_assign(follow_up=open_follow_up(), assignee=admin_user, by=admin_user)
    few = queries()
    for _ in range(5):
        follow_up_assign(follow_up=open_follow_up(), assignee=admin_user, by=admin_user)
    assert queries() == few
