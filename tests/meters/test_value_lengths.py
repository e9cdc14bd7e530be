"""Text too long for its column is refused before it is written (common/fits.py), by every
mirror write, whoever calls it: with a message naming the field, instead of a DataError."""

import pytest

from common.fits import ValueTooLong, values_fit
from meters.bills import utility_bill_upsert
from meters.models import BillLineItem, Customer, UtilityBill
from meters.services import customer_upsert

pytestmark = pytest.mark.django_db


def test_a_mirrored_object_too_long_for_its_column_is_refused_naming_the_field():
    with pytest.raises(ValueTooLong) as refused:
        customer_upsert(external_id="c" * 80, name="Stark Industries")

    assert str(refused.value) == "Customer.external_id is 80 characters long; at most 64 fit."
    assert (refused.value.length, refused.value.limit) == (80, 64)
    assert not Customer.objects.exists()


def test_a_child_row_too_long_for_its_column_is_refused_naming_the_field():
    with pytest.raises(ValueTooLong, match=r"^BillLineItem\.quantity_units is 33 characters"):
        utility_bill_upsert(
            external_id="bill-1",
            values={"company_nectar_id": "company-1"},
            line_items=[{"quantity_units": "kWh"}, {"quantity_units": "u" * 33}],
            meter_usages=[],
            platform_updated_at=None,
        )


def test_the_field_is_named_as_its_sender_names_it_when_told_how():
    with pytest.raises(ValueTooLong) as refused:
        values_fit(UtilityBill, {"invoice_id": "I" * 256}, names={"invoice_id": "event.invoiceId"})

    assert str(refused.value) == "event.invoiceId is 256 characters long; at most 255 fit."


def test_each_text_of_an_array_is_checked_and_named_by_its_index():
    with pytest.raises(ValueTooLong) as refused:
        values_fit(BillLineItem, {"meter_ids": ["m" * 255, "m" * 256]})

    assert str(refused.value) == (
        "BillLineItem.meter_ids[1] is 256 characters long; at most 255 fit."
    )


def test_what_has_no_length_limit_is_left_alone():
    values_fit(
        Customer,
        {
            "address": "a" * 10_000,  # a text column: no limit
            "created_on_platform": None,
            "raw": {"name": "n" * 1000},
            "not_a_field": "x" * 1000,
        },
    )
