"""From a review of the monthly figures: a back-dated signature, off-the-books seizures, a
city-level reconciliation's findings, a count closed in one month and approved in the next,
and a recount after resetting a line."""

import datetime as dt

import pytest
from django.utils import timezone

from audits import closing, counts, periods, reconciliation
from audits.models import CountLine, Discrepancy
from backend.models import Organisation, User
from inventory import services
from inventory.models import StockMovement
from tests.factories import OrganisationFactory, UserFactory
from tests.inventory.factories import BatchFactory, dispense_kwargs
from tests.reconciliation.scenario import Month

pytestmark = pytest.mark.django_db


def test_a_back_dated_signature_does_not_count_the_month_twice(county):
    earlier = Month(county, periods.previous_month(periods.previous_month(timezone.localdate().replace(day=1))))
    later = Month(county, periods.next_month(earlier.month))
    (b,) = earlier.batches(1)
    earlier.ship({b: 10}, day=8)
    third = timezone.make_aware(dt.datetime.combine(later.month.replace(day=3), dt.time(10)))
    closing.closing_sign(actor=county.pharmacist, month=earlier.month, signed_at=third)  # as the demo does
    row = closing.closing_rows(later.month, holder_ids=[county.hospital.pk])[(county.hospital.pk, b.pk)]
    ledger = sum(StockMovement.objects.filter(holder=county.hospital, batch=b, in_transit=False)
                 .values_list("quantity", flat=True))
    assert (row["opening"], row["prior_period"], row["closing_balance"]) == (10, 0, ledger)
    # An entry dated in the signed month but recorded after the signature is a late entry.
    services.dispense_record(actor=county.pharmacist, **dispense_kwargs(county, b, occurred_at=earlier.at(20)))
    row = closing.closing_rows(later.month, holder_ids=[county.hospital.pk])[(county.hospital.pk, b.pk)]
    assert (row["opening"], row["prior_period"], row["closing_balance"]) == (10, -1, 9)
def test_a_seizure_off_the_books_leaves_the_holder_balanced(county, month):
    (b,) = month.batches(1)
    month.ship({b: 10}, day=8)
    month.filing([month.row(b, 10)])
    # inspector finds 5 more on the hospital shelf than the books show; off the books
    services.seizure_record(actor=county.inspector, holder=county.hospital, batch=b, quantity=5,
                            off_books=True, occurred_at=month.at(20))
    # and 3 at the retail pharmacy, which has no books at all
    services.seizure_record(actor=county.inspector, holder=county.pharmacy, batch=b, quantity=3,
                            off_books=True, occurred_at=month.at(21))
    result = reconciliation.reconcile(month.month, jurisdiction_prefix=county.jurisdiction.prefix)
    rows = {(r["holder"], r["batch"]): r for r in result["holders"]}
    h = rows[(county.hospital.pk, b.pk)]
    assert h["status"] == "balanced", h
    assert (county.pharmacy.pk, b.pk) not in rows, rows[(county.pharmacy.pk, b.pk)]  # no books, no row



def test_a_city_reconciliation_resolves_what_it_no_longer_finds(county, month, client_for, filings_due):
    city_office = OrganisationFactory(kind=Organisation.Kind.AUTHORITY, jurisdiction=county.city, name="衡阳市综治办")
    city_inspector = UserFactory(username="city_insp", role=User.Role.INSPECTOR, organisation=city_office)
    (b,) = month.batches(1)
    month.ship({b: 10}, day=8)  # shipped, not filed
    url = f"/api/reconciliations/?month={month.month:%Y-%m}&jurisdiction={county.city.code}"
    first = client_for(city_inspector).get(url).json()
    assert first["recorded"]["created"] == 1
    month.filing([month.row(b, 10)])  # the wholesaler files it: nothing left to find
    again = client_for(city_inspector).get(url).json()
    assert again["recorded"]["resolved"] == 1
    d = Discrepancy.objects.get()
    assert d.resolved_at is not None

def test_a_count_is_booked_in_the_month_it_was_closed(county, month, monkeypatch):
    (b,) = month.batches(1)
    month.ship({b: 10}, day=8)
    real_now = timezone.now
    closed = timezone.make_aware(dt.datetime.combine(periods.last_day(month.month), dt.time(23, 0)))
    approved = timezone.make_aware(dt.datetime.combine(periods.next_month(month.month), dt.time(0, 30)))
    assert approved < real_now()
    monkeypatch.setattr(timezone, "now", lambda: closed)
    s = counts.count_session_open(actor=county.pharmacist)
    counts.count_line_set(actor=county.pharmacist, session=s, batch=b, counted=9)
    counts.count_session_close(actor=county.pharmacist, session=s, reasons={b.pk: ("breakage", "碎了一片")})
    monkeypatch.setattr(timezone, "now", lambda: approved)
    counts.count_session_approve(actor=county.pharmacist, session=s)
    monkeypatch.setattr(timezone, "now", real_now)
    s.refresh_from_db()
    assert s.lines.get().stock_count.occurred_at == closed
    row = closing.closing_rows(month.month, holder_ids=[county.hospital.pk])[(county.hospital.pk, b.pk)]
    assert row["last_counted"] == 9 and row["closing_balance"] == 9


def test_a_recount_after_resetting_a_line_may_scan_the_same_packs(county, month):
    b = BatchFactory(product=month.product)
    codes = [f"{month.product.traceability_product_code}{n:013d}" for n in (1, 2)]
    services.intake_record(actor=county.clerk, batch=b, quantity=12, invoice_number="I", supplier_name="x",
                           pack_codes=codes)
    s = counts.count_session_open(actor=county.clerk)
    for c in codes:
        counts.count_line_scan(actor=county.clerk, session=s, code=c)
    # the clerk restarts the line (typed 0) and scans the shelf again
    counts.count_line_set(actor=county.clerk, session=s, batch=b, counted=0)
    for c in codes:  # neither is refused as already counted
        counts.count_line_scan(actor=county.clerk, session=s, code=c)
    line = CountLine.objects.get(session=s)
    assert line.counted == 12


def test_a_filed_lot_two_manufacturers_share_is_the_one_the_wholesaler_shipped(county, month):
    from audits.filings import validate_rows
    from tests.inventory.factories import DrugProductFactory

    made_by_a = DrugProductFactory(generic_name="米非司酮片", strength="25 mg", manufacturer="甲制药")
    made_by_b = DrugProductFactory(generic_name="米非司酮片", strength="25 mg", manufacturer="乙制药")
    batch_a = BatchFactory(product=made_by_a, lot_number="240101")
    batch_b = BatchFactory(product=made_by_b, lot_number="240101")
    for batch in (batch_a, batch_b):
        services.intake_record(actor=county.clerk, batch=batch, quantity=100, invoice_number="IN",
                               supplier_name="x", received_at=month.at(2))
    month.ship({batch_b: 10}, day=8)  # only 乙's lot went to the hospital
    month.filing([month.row(batch_b, 10)])
    result = reconciliation.reconcile(month.month, jurisdiction_prefix=county.jurisdiction.prefix)
    assert [(r["batch"], r["status"]) for r in result["cross_party"]] == [(batch_b.pk, "matched")]
    # Both lots shipped to the same customer: the form cannot say which; the row is refused.
    month.ship({batch_a: 5}, day=9)
    _valid, errors = validate_rows([(1, month.row(batch_a, 5))], month.month, wholesaler_id=county.wholesaler.pk)
    assert [e["code"] for e in errors] == ["ambiguous_batch"]


def test_a_signed_month_is_reconciled_as_signed(county):
    """A late entry dated in a signed month is the next month's `prior_period`: the signed
    month's report keeps its signed closing, balanced, and it equals the next opening."""
    earlier = Month(county, periods.previous_month(periods.previous_month(timezone.localdate().replace(day=1))))
    later = Month(county, periods.next_month(earlier.month))
    (b,) = earlier.batches(1)
    earlier.ship({b: 30}, day=8)
    signed = closing.closing_sign(actor=county.pharmacist, month=earlier.month)
    earlier.dispense(b, day=20, quantity=2)  # recorded after the signature, dated in the signed month

    def row(month):
        result = reconciliation.reconcile(month, organisation_id=county.hospital.pk)
        return {(r["holder"], r["batch"]): r for r in result["holders"]}[(county.hospital.pk, b.pk)]

    signed_row, next_row = row(earlier.month), row(later.month)
    assert signed_row["closing_balance"] == signed.lines.get().closing_balance == 30
    assert (signed_row["used"], signed_row["status"]) == (0, "balanced")
    assert (next_row["opening"], next_row["prior_period"], next_row["closing_balance"]) == (30, -2, 28)
    assert next_row["status"] == "balanced"
