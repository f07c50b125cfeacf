"""Monthly closing per holder: the figures, the custodian's sign-off, immutability, and
corrections landing in the next period."""

import datetime as dt

import pytest
from django.db import connection, transaction
from django.db.utils import DatabaseError
from django.utils import timezone

from audits import closing, periods
from audits.models import SignedClosing, SignedClosingLine
from inventory import services
from tests.conftest import error_of
from tests.inventory.factories import dispense_kwargs
from tests.reconciliation.scenario import Month

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_months(county):
    """The month before last (signed) and last month."""
    earlier = Month(county, periods.previous_month(periods.previous_month(timezone.localdate().replace(day=1))))
    (b1,) = earlier.batches(1, stock=100)
    earlier.ship({b1: 30}, day=8)
    earlier.dispense(b1, day=12, quantity=2)
    later = Month(county, periods.next_month(earlier.month))
    return earlier, later, b1


def test_figures_of_a_month(county, two_months):
    earlier, _later, b1 = two_months
    rows = closing.closing_rows(earlier.month, holder_ids=[county.hospital.pk, county.wholesaler.pk])
    hospital = rows[(county.hospital.pk, b1.pk)]
    assert (hospital["opening"], hospital["received"], hospital["dispensed"], hospital["closing_balance"]) == (
        0, 30, -2, 28)
    wholesaler = rows[(county.wholesaler.pk, b1.pk)]
    assert (wholesaler["received"], wholesaler["dispatched"], wholesaler["closing_balance"]) == (100, -30, 70)
    assert wholesaler["in_transit"] == 0


def test_sign_stores_the_month_and_refuses_a_second_signature(county, two_months, client_for):
    earlier, later, b1 = two_months
    client = client_for(county.pharmacist)
    response = client.post("/api/closings/sign/", {"month": f"{earlier.month:%Y-%m}", "statement": "账物相符"},
                           format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["holder"] == county.hospital.pk and body["lines"][0]["closing_balance"] == 28
    again = client.post("/api/closings/sign/", {"month": f"{earlier.month:%Y-%m}"}, format="json")
    assert again.status_code == 409 and error_of(again)["code"] == "period_signed"
    for method in ("patch", "put", "delete"):
        response = getattr(client, method)(f"/api/closings/{body['id']}/", {"statement": "x"}, format="json")
        assert response.status_code == 409 and error_of(response)["code"] == "period_signed"
    with pytest.raises(Exception) as exc:
        closing.closing_change(actor=county.pharmacist, closing=SignedClosing.objects.get())
    assert exc.value.code == "period_signed"


def test_next_month_opens_from_the_stored_closing_and_takes_late_entries(county, two_months):
    earlier, later, b1 = two_months
    signed = closing.closing_sign(actor=county.pharmacist, month=earlier.month)
    # Entered after the signature, dated in the signed month: lands in the next period.
    late = services.dispense_record(actor=county.pharmacist, occurred_at=earlier.at(20),
                                    **dispense_kwargs(county, b1, quantity=1))
    later.dispense(b1, day=5, quantity=3)
    rows = closing.closing_rows(later.month, holder_ids=[county.hospital.pk])
    row = rows[(county.hospital.pk, b1.pk)]
    assert row["opening"] == 28  # as signed, not as the ledger now says
    assert row["prior_period"] == -1 and row["dispensed"] == -3 and row["closing_balance"] == 24
    assert row["references"]["prior_period_movements"] == [late.movements.get().pk]
    # The signed period still says what was signed.
    assert SignedClosingLine.objects.get(closing=signed).closing_balance == 28
    # The next closing's opening is read from the stored one: it adds up to the ledger.
    later_signed = closing.closing_sign(actor=county.pharmacist, month=later.month)
    line = later_signed.lines.get()
    assert (line.opening, line.prior_period, line.closing_balance) == (28, -1, 24)
    assert later_signed.previous == signed


def test_a_count_shows_as_last_count_and_variance(county, two_months):
    earlier, _later, b1 = two_months
    services.stock_count_record(actor=county.pharmacist, batch=b1, counted=27, occurred_at=earlier.at(28))
    row = closing.closing_rows(earlier.month, holder_ids=[county.hospital.pk])[(county.hospital.pk, b1.pk)]
    assert (row["adjusted"], row["last_counted"], row["last_count_variance"], row["closing_balance"]) == (
        -1, 27, -1, 27)


def test_a_month_not_over_cannot_be_signed(county):
    with pytest.raises(Exception) as exc:
        closing.closing_sign(actor=county.pharmacist, month=timezone.localdate().replace(day=1))
    assert exc.value.code == "period_not_over"


def test_only_the_custodian_signs(county, two_months, client_for):
    earlier, _later, _b1 = two_months
    for user in (county.physician, county.inspector, county.office_admin):
        response = client_for(user).post("/api/closings/sign/", {"month": f"{earlier.month:%Y-%m}"}, format="json")
        assert response.status_code == 403, user.role


def test_preview_and_visibility(county, two_months, client_for):
    earlier, _later, b1 = two_months
    url = f"/api/closings/preview/?month={earlier.month:%Y-%m}&holder={county.hospital.pk}"
    body = client_for(county.inspector).get(url).json()
    assert body["signed"] is None and body["lines"][0]["closing_balance"] == 28
    assert client_for(county.clerk).get(url).status_code == 403
    assert client_for(county.other.inspector).get(url).status_code == 403
    closing.closing_sign(actor=county.pharmacist, month=earlier.month)
    assert client_for(county.pharmacist).get(url).json()["signed"] is not None
    assert client_for(county.clerk).get("/api/closings/").json()["count"] == 0
    assert client_for(county.office_admin).get(f"/api/closings/?month={earlier.month:%Y-%m}").json()["count"] == 1


def test_wholesaler_signs_too(county, two_months):
    earlier, _later, b1 = two_months
    signed = closing.closing_sign(actor=county.clerk, month=earlier.month)
    line = signed.lines.get()
    assert (line.received, line.dispatched, line.closing_balance) == (100, -30, 70)


@pytest.mark.postgres
def test_raw_update_of_a_signed_period_is_refused(county, two_months):
    if connection.vendor != "postgresql":
        pytest.skip("the append-only trigger exists on PostgreSQL only")
    earlier, _later, _b1 = two_months
    signed = closing.closing_sign(actor=county.pharmacist, month=earlier.month)
    for sql in ("UPDATE audits_signedclosingline SET closing_balance = closing_balance + 1, opening = opening + 1 "
                "WHERE closing_id = %s",
                "DELETE FROM audits_signedclosingline WHERE closing_id = %s",
                "UPDATE audits_signedclosing SET statement = 'x' WHERE id = %s",
                "DELETE FROM audits_signedclosing WHERE id = %s"):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as c:
            c.execute(sql, [signed.pk])


def test_month_bounds_follow_local_time():
    start, end = periods.month_bounds(dt.date(2026, 10, 1))
    assert timezone.localtime(start).isoformat().startswith("2026-10-01T00:00:00+08:00")
    assert end - start == dt.timedelta(days=31)


def test_the_pivot_and_the_per_kind_query_agree(county, two_months, monkeypatch):
    """Many holders are pivoted by the database, a few grouped per kind: same figures."""
    earlier, later, b1 = two_months
    services.stock_count_record(actor=county.pharmacist, batch=b1, counted=27, occurred_at=earlier.at(28))
    holders = [county.hospital.pk, county.wholesaler.pk]
    per_kind = closing.closing_rows(earlier.month, holder_ids=holders)
    monkeypatch.setattr(closing, "PIVOT_ABOVE", 0)
    pivoted = closing.closing_rows(earlier.month, holder_ids=holders)
    assert pivoted == per_kind and len(pivoted) == 2
