"""Time-based rules (`run_alert_rules`): each fires on a planted case and stays quiet on a
near miss; running twice raises nothing new; what the office resolved stays resolved."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.core.management import call_command
from django.utils import timezone

from audits import periods
from audits.alerts import rules, services
from audits.alerts.models import Alert
from audits.models import SalesFiling, SignedClosing
from inventory import services as inventory_services
from inventory.errors import RecipientNotAuthorized
from inventory.models import Dispense, ShipmentRefusal, StockPosition
from tests.alerts.helpers import alerts_of
from tests.devices.factories import file_device, operator
from tests.factories import LicenceFactory, OrganisationFactory, PersonFactory
from tests.inventory.factories import BatchFactory, dispense_kwargs, stock_institution, stock_wholesaler

pytestmark = pytest.mark.django_db


def run(rule: str, today: dt.date | None = None) -> list[Alert]:
    return rules.RULES[rule](rules.Context(today=today or timezone.localdate()))


# --- dispensing spike ------------------------------------------------------------------------------


@pytest.mark.parametrize(("baseline", "current", "spike"), [
    ([100, 100, 100, 100, 100, 100], 201, True),   # flat: above the mean and above twice the median
    ([100, 100, 100, 100, 100, 100], 200, False),  # near miss: exactly twice the median
    ([50, 150, 50, 150, 50, 150], 250, False),     # above 2 × median (200) but not mean + 3σ (264)
    ([50, 150, 50, 150, 50, 150], 270, True),
    ([10, 10, 400, 10, 10, 10], 300, False),       # a noisy baseline: not above mean + 3σ
    ([100, 100], 1000, False),                     # too little history
    ([90, 100, 110], 400, True),                   # three months of history are enough
])
def test_spike_thresholds(baseline, current, spike):
    assert (rules.spike_figures(baseline, current) is not None) is spike


def _monthly_dispenses(county, batch, uses: dict[dt.date, int], *, quantity: int = 1):
    """`uses[month]` register entries in each month (written directly: the rule reads the
    register), each of `quantity` units."""
    base = Dispense(**{k: v for k, v in dispense_kwargs(county, batch).items() if k != "patient_resident_id"})
    fields = {f.attname: getattr(base, f.attname) for f in Dispense._meta.concrete_fields if f.attname != "id"}
    rows = []
    for month, count in uses.items():
        for i in range(count):
            at = timezone.make_aware(dt.datetime.combine(month.replace(day=1 + i % 27), dt.time(8 + i % 10)))
            rows.append(Dispense(**fields | {"occurred_at": at, "quantity": quantity,
                                             "institution_id": county.hospital.pk,
                                             "pharmacist_id": county.pharmacist.pk}))
    return Dispense.objects.bulk_create(rows, batch_size=500)


def _months_back(n: int) -> list[dt.date]:
    month, out = timezone.localdate().replace(day=1), []
    for _i in range(n):
        month = periods.previous_month(month)
        out.insert(0, month)
    return out


@pytest.mark.parametrize(("last", "fires"), [(400, True), (190, False)])
def test_dispensing_spike_against_the_institutions_own_baseline(county, last, fires):
    batch = BatchFactory()
    months = _months_back(7)  # six months of baseline, then last month
    _monthly_dispenses(county, batch, dict(zip(months, [90, 100, 110, 95, 105, 100, last], strict=True)))
    found = run("dispensing_spike")
    if not fires:
        assert found == []
        return
    (alert,) = found
    assert alert.subject_type == "backend.organisation" and alert.subject_id == county.hospital.pk
    assert alert.occurrence == months[-1].strftime("%Y-%m") and alert.figures["current"] == 400
    assert alert.figures["baseline"] == [90, 100, 110, 95, 105, 100]
    assert run("dispensing_spike") == []  # already raised for that month


def test_a_spike_counts_uses_not_units(county):
    """Six-tablet doses in one month are not six times the patients: same number of uses,
    bigger doses, no spike."""
    batch = BatchFactory()
    months = _months_back(7)
    _monthly_dispenses(county, batch, dict(zip(months[:-1], [20] * 6, strict=True)))
    _monthly_dispenses(county, batch, {months[-1]: 20}, quantity=6)
    assert run("dispensing_spike") == []


def test_entries_corrected_away_are_not_uses(county):
    """60 entries last month against 20 a month would be a spike; 45 of them were mistaken
    entries corrected by compensating movements, so the month had 15 uses."""
    from inventory.models import StockMovement

    batch = BatchFactory()
    months = _months_back(7)
    _monthly_dispenses(county, batch, dict(zip(months[:-1], [20] * 6, strict=True)))
    entries = _monthly_dispenses(county, batch, {months[-1]: 60})
    moves = StockMovement.objects.bulk_create([
        StockMovement(holder=county.hospital, batch=batch, quantity=-1, kind="dispense", dispense=d,
                      occurred_at=d.occurred_at, actor=county.pharmacist) for d in entries])
    StockMovement.objects.bulk_create([
        StockMovement(holder=county.hospital, batch=batch, quantity=1, kind="correction", corrects=m,
                      occurred_at=m.occurred_at, actor=county.pharmacist, note="误录") for m in moves[:45]])
    assert run("dispensing_spike") == []

# --- dispensed more than received ------------------------------------------------------------------


def test_dispensing_stock_that_was_never_received(county):
    batch = BatchFactory()
    stock_institution(county, batch, 10)
    inventory_services.dispense_record(actor=county.pharmacist, **dispense_kwargs(county, batch, quantity=10))
    assert run("dispensed_without_receipt") == []  # near miss: everything dispensed was received
    # 6 more "found" at a count, then dispensed: drugs with no supplier behind them
    inventory_services.stock_count_record(actor=county.pharmacist, batch=batch, counted=6)
    inventory_services.dispense_record(actor=county.pharmacist, **dispense_kwargs(county, batch, quantity=6))
    (alert,) = run("dispensed_without_receipt")
    position = StockPosition.objects.get(holder=county.hospital, batch=batch, in_transit=False)
    assert alert.subject_id == position.pk and alert.severity == "high"
    assert alert.figures == {"received": 10, "dispensed": 16, "excess": 6}


# --- expired stock -------------------------------------------------------------------------------------


def test_expired_stock_on_hand(county):
    batch = BatchFactory(expiry_date=timezone.localdate() + dt.timedelta(days=3))
    stock_institution(county, batch, 10)
    assert run("expired_stock", today=batch.expiry_date) == []  # the last day it is good
    (alert,) = run("expired_stock", today=batch.expiry_date + dt.timedelta(days=1))
    assert alert.organisation == county.hospital and alert.figures["quantity"] == 10


def test_expired_stock_disposed_of_is_no_alert(county):
    batch = BatchFactory(expiry_date=timezone.localdate() + dt.timedelta(days=3))
    stock_institution(county, batch, 10)
    inventory_services.disposal_record(actor=county.pharmacist, batch=batch, quantity=10, reason="expired",
                                       witness_name="刘护士长")
    assert run("expired_stock", today=batch.expiry_date + dt.timedelta(days=1)) == []


# --- devices filed late ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("purchased_ago", "fires"), [(7, False), (10, True)])
def test_device_filed_late(county, purchased_ago, fires):
    device = file_device(county.hospital, purchased_ago=purchased_ago)
    found = run("device_filed_late")
    assert bool(found) is fires
    if fires:
        assert found[0].figures["days_late"] == 3 and found[0].organisation == county.hospital
        assert {"type": "devices.device", "id": device.pk} in found[0].evidence


# --- licences ---------------------------------------------------------------------------------------------


def _days(n: int) -> dt.date:
    return timezone.localdate() + dt.timedelta(days=n)


def test_institution_licence_expired_fires_unless_renewed(county):
    clinic = OrganisationFactory(kind="private_clinic", jurisdiction=county.township)
    lapsed = LicenceFactory(holder_organisation=clinic, kind="medical_practice", valid_until=_days(-1))
    LicenceFactory(holder_organisation=county.clinic, kind="medical_practice", valid_until=_days(-1))  # has another
    LicenceFactory(holder_organisation=county.pharmacy, kind="drug_retail", valid_until=_days(-1))
    LicenceFactory(holder_organisation=county.pharmacy, kind="drug_retail", valid_from=_days(0))  # renewed
    found = run("licences")
    assert [(a.type, a.subject_id) for a in found] == [("licence_expired", lapsed.pk)]
    assert found[0].severity == "high" and found[0].organisation == clinic
    assert found[0].jurisdiction_code == county.township.code


@pytest.mark.parametrize(("until", "renewed", "fires"), [(30, False, True), (31, False, False), (10, True, False)])
def test_institution_licence_expiring_within_30_days(county, until, renewed, fires):
    wholesaler = OrganisationFactory(kind="wholesaler", jurisdiction=county.jurisdiction)
    licence = LicenceFactory(holder_organisation=wholesaler, kind="drug_wholesale", valid_until=_days(until))
    if renewed:  # the renewal takes over the next day
        LicenceFactory(holder_organisation=wholesaler, kind="drug_wholesale", valid_from=_days(until + 1))
    found = [a for a in run("licences") if a.subject_id == licence.pk]
    assert bool(found) is fires
    if fires:
        assert found[0].type == "licence_expiring" and found[0].severity == "low"


def test_operator_licence_expired_but_not_anyones(county):
    sono = operator(county.hospital)
    file_device(county.hospital, operators=[sono])
    # the operator's 母婴保健 certificate lapses (a second one, newer, ended yesterday)
    cert = LicenceFactory(holder_organisation=None, holder_person=sono, kind="maternal_infant",
                          valid_from=_days(-400), valid_until=_days(-1), scope=["ultrasound"])
    sono.licences.exclude(pk=cert.pk).update(valid_until=_days(-2))
    nobody = PersonFactory(organisation=county.hospital)  # not an operator: not the office's alert
    LicenceFactory(holder_organisation=None, holder_person=nobody, kind="maternal_infant", valid_until=_days(-1))
    found = [a for a in run("licences") if a.subject_type == "backend.licence" and a.type == "licence_expired"]
    assert [a.subject_id for a in found] == [cert.pk]
    assert found[0].organisation == county.hospital


# --- monthly filings and closings ---------------------------------------------------------------------


def _on_time(holder, user, month, *, late=False):
    due = periods.due_on(month, holder.jurisdiction)
    at = timezone.make_aware(dt.datetime.combine(due + dt.timedelta(days=3 if late else -2), dt.time(10)))
    if holder.kind == "wholesaler":
        SalesFiling.objects.create(wholesaler=holder, month=month, source="json", row_count=0, total_quantity=0,
                                   due_on=due, late=late, submitted_by=user, submitted_at=at)
    else:
        SignedClosing.objects.create(holder=holder, month=month, signed_by=user, signed_at=at)


@pytest.mark.parametrize("day", [1, 5, 6, 28])  # before, on and after the 5th (the due day)
def test_filings_late_or_missing(county, day):
    """The last three due months only: a month older than those is not looked at, and the
    latest is not late before its due day, whatever day of the month the rule runs."""
    today = timezone.localdate().replace(day=day)
    month, back = today.replace(day=1), []
    for _i in range(5):
        month = periods.previous_month(month)
        back.insert(0, month)
    months = [m for m in back if periods.due_on(m, county.jurisdiction) < today][-3:]
    for month in months:
        _on_time(county.wholesaler, county.clerk, month, late=month == months[-1])
        if month != months[0]:
            _on_time(county.hospital, county.pharmacist, month)
    ours = {county.wholesaler.pk, county.hospital.pk}
    found = {(a.type, a.subject_id, a.occurrence, a.severity) for a in run("filings_late", today)
             if a.subject_id in ours}
    assert found == {("filing_late", county.wholesaler.pk, months[-1].strftime("%Y-%m"), "low"),
                     ("closing_late", county.hospital.pk, months[0].strftime("%Y-%m"), "medium")}
    assert run("filings_late", today) == []


# --- sweeps of missed events -----------------------------------------------------------------------------


def test_the_sweep_catches_an_event_whose_alert_was_missed(county):
    batch = BatchFactory()
    stock_wholesaler(county, batch, 100)
    shipment = inventory_services.shipment_create(actor=county.clerk, recipient=county.pharmacy,
                                                  lines=[{"batch": batch, "quantity": 10}])
    with pytest.raises(RecipientNotAuthorized):  # on_commit callbacks do not run in this test
        inventory_services.shipment_dispatch(actor=county.clerk, shipment=shipment)
    assert not Alert.objects.exists()
    (alert,) = run("sweep_shipment_refusals")
    assert alert.subject_id == ShipmentRefusal.objects.get().pk and alert.was_created
    services.alert_resolve(actor=county.office_admin, alert=alert, note="已约谈批发企业")
    assert run("sweep_shipment_refusals") == []  # resolved stays resolved


# --- the command ----------------------------------------------------------------------------------------------


def test_run_alert_rules_twice_makes_no_second_open_alert(county):
    batch = BatchFactory(expiry_date=timezone.localdate() + dt.timedelta(days=3))
    stock_institution(county, batch, 10)
    LicenceFactory(holder_organisation=OrganisationFactory(kind="private_clinic", jurisdiction=county.township),
                   kind="medical_practice", valid_until=_days(-1))
    day = (batch.expiry_date + dt.timedelta(days=1)).isoformat()
    out = io.StringIO()
    call_command("run_alert_rules", "--today", day, stdout=out)
    first = Alert.objects.count()
    assert first >= 2 and "new alerts" in out.getvalue()
    call_command("run_alert_rules", "--today", day, stdout=io.StringIO())
    assert Alert.objects.count() == first
    assert len(alerts_of("expired_stock")) == 1


def test_run_alert_rules_refuses_a_bad_date():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError):
        call_command("run_alert_rules", "--today", "2026-13-01", stdout=io.StringIO())


# --- reconciliation (账账相符) --------------------------------------------------------------------------


@pytest.mark.parametrize(("filed", "fires"), [(12, True), (10, False)])
def test_reconciliation_finds_a_mismatch_once_the_filings_are_due(county, filed, fires):
    """Nobody opened the reconciliation: the rule reconciles the month once its sales filings
    are due, records what it finds and alerts on it; a filing that matches the shipments is a
    near miss."""
    from audits.models import Discrepancy
    from tests.reconciliation.scenario import Month

    month = Month(county)
    (batch,) = month.batches(1)
    month.ship({batch: 10}, day=8)
    month.filing([month.row(batch, filed)])
    due = periods.due_on(month.month, county.jurisdiction)
    assert run("reconciliation", today=due) == []  # due today: not yet late, not reconciled
    assert not Discrepancy.objects.exists()
    found = run("reconciliation", today=due + dt.timedelta(days=1))
    if not fires:
        assert found == [] and not Discrepancy.objects.filter(resolved_at__isnull=True).exists()
        return
    (alert,) = found
    discrepancy = Discrepancy.objects.get()
    assert (discrepancy.kind, discrepancy.month, discrepancy.wholesaler) == ("quantity_mismatch", month.month,
                                                                           county.wholesaler)
    assert alert.type == "cross_party_mismatch" and alert.was_created and alert.subject_id == discrepancy.pk
    assert alert.figures["filed"] == 12 and alert.figures["shipped"] == 10
    assert run("reconciliation", today=due + dt.timedelta(days=2)) == []  # nothing new the next day
    assert Alert.objects.count() == 1
