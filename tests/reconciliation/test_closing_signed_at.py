"""A closing signed at a stated moment (the demo seeder back-dates past months): never in the
future, never before the month is over; the filing status reads the stated moment."""

import datetime as dt

import pytest
from django.utils import timezone

from audits import closing, filings, periods
from audits.errors import PeriodNotOver
from audits.models import SignedClosing
from backend.errors import InvalidInput
from tests.reconciliation.scenario import Month

pytestmark = pytest.mark.django_db


@pytest.fixture
def earlier(county):
    month = Month(county, periods.previous_month(periods.previous_month(timezone.localdate().replace(day=1))))
    (b1,) = month.batches(1)
    month.ship({b1: 10}, day=8)
    return month


def _at(day: dt.date, hour: int = 10) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour)))


def test_signed_at_is_stored_and_read_by_the_filing_status(county, earlier):
    third = _at(periods.next_month(earlier.month).replace(day=3))
    signed = closing.closing_sign(actor=county.pharmacist, month=earlier.month, signed_at=third)
    assert SignedClosing.objects.get(pk=signed.pk).signed_at == third
    rows = filings.filing_status(user=county.office_admin, jurisdiction=county.jurisdiction, month=earlier.month)
    mine = {r["form"]: r["status"] for r in rows if r["organisation"] == county.hospital.pk}
    assert mine == {"usage_register": "filed", "drug_summary": "filed"}


def test_signed_after_the_due_day_is_late(county, earlier):
    late = _at(periods.due_on(earlier.month, county.jurisdiction) + dt.timedelta(days=1))
    closing.closing_sign(actor=county.pharmacist, month=earlier.month, signed_at=late)
    rows = filings.filing_status(user=county.office_admin, jurisdiction=county.jurisdiction, month=earlier.month)
    assert {r["status"] for r in rows if r["organisation"] == county.hospital.pk} == {"late"}


def test_signed_at_in_the_future_is_refused(county, earlier):
    with pytest.raises(InvalidInput) as exc:
        closing.closing_sign(actor=county.pharmacist, month=earlier.month,
                             signed_at=timezone.now() + dt.timedelta(hours=1))
    assert exc.value.code == "signed_at_in_future"
    assert not SignedClosing.objects.exists()


def test_signed_at_before_the_month_is_over_is_refused(county, earlier):
    last_evening = _at(periods.last_day(earlier.month), 23)
    with pytest.raises(PeriodNotOver) as exc:
        closing.closing_sign(actor=county.pharmacist, month=earlier.month, signed_at=last_evening)
    assert exc.value.code == "period_not_over"
    assert not SignedClosing.objects.exists()


def test_signed_at_defaults_to_now(county, earlier):
    before = timezone.now()
    signed = closing.closing_sign(actor=county.pharmacist, month=earlier.month)
    assert before <= signed.signed_at <= timezone.now()
