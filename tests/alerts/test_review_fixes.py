"""From a review of the alerts: a pack typed twice into the use register is the same lead as
one scanned twice; the reconciliation an authority opens raises nothing a wholesaler still
has days to file."""

import datetime as dt

import pytest
from django.utils import timezone

from audits import periods
from audits.alerts import rules
from audits.alerts.models import Alert
from audits.models import Discrepancy
from inventory.models import Dispense
from tests.inventory.factories import dispense_context
from tests.reconciliation.scenario import Month
from tests.scanning.scan_helpers import gs1_batch, stock_with_packs, trace_codes

pytestmark = pytest.mark.django_db


def dispense_pack(client, county, batch, pack, rx):
    body = dispense_context(county, prescription_number=rx, pack_code=pack)
    r = client.post("/api/dispenses/", body, format="json")
    assert r.status_code == 201, r.content
    return r.json()["id"]


def test_a_pack_typed_twice_into_the_register_raises_the_alert(county, client_for, django_capture_on_commit_callbacks):
    batch = gs1_batch()
    (pack,) = trace_codes(batch, 1)
    stock_with_packs(county, batch, 12, [pack])
    pharmacist = client_for(county.pharmacist)
    with django_capture_on_commit_callbacks(execute=True):
        first = dispense_pack(pharmacist, county, batch, pack, "RX-1")
    assert not Alert.objects.exists()  # once is the normal case
    with django_capture_on_commit_callbacks(execute=True):
        second = dispense_pack(pharmacist, county, batch, pack, "RX-2")
    alert = Alert.objects.get(type="pack_dispensed_twice")
    assert (alert.severity, alert.organisation, alert.subject_type) == ("high", county.hospital, "inventory.packcode")
    assert {e["id"] for e in alert.evidence if e["type"] == "inventory.dispense"} == {first, second}
    shown = client_for(county.office_admin).get("/api/alerts/", {"type": "pack_dispensed_twice"}).json()
    assert shown["count"] == 1
    # The daily rules find nothing more to raise.
    assert rules.run(only=["sweep_dispensed_packs"])["sweep_dispensed_packs"]["new"] == 0


def test_the_daily_rule_catches_a_pack_twice_whose_alert_was_missed(county, client_for):
    batch = gs1_batch()
    (pack,) = trace_codes(batch, 1)
    stock_with_packs(county, batch, 12, [pack])
    pharmacist = client_for(county.pharmacist)
    for rx in ("RX-1", "RX-2"):  # no on-commit callbacks run: the after-commit alert is lost
        dispense_pack(pharmacist, county, batch, pack, rx)
    assert Dispense.objects.filter(pack_code__code=pack).count() == 2
    assert not Alert.objects.exists()
    rules.run(only=["sweep_dispensed_packs"])
    assert Alert.objects.filter(type="pack_dispensed_twice", organisation=county.hospital).count() == 1
    rules.run(only=["sweep_dispensed_packs"])  # twice changes nothing
    assert Alert.objects.filter(type="pack_dispensed_twice").count() == 1


def test_opening_the_reconciliation_before_the_filings_are_due_raises_nothing(
        county, client_for, django_capture_on_commit_callbacks, monkeypatch):
    month = Month(county)
    due = periods.due_on(month.month, county.jurisdiction)
    (batch,) = month.batches(1)
    month.ship({batch: 10}, day=8)
    url = f"/api/reconciliations/?month={month.month:%Y-%m}&jurisdiction=430421"
    with monkeypatch.context() as m:  # opened the day before the filings are due
        m.setattr(timezone, "localdate", lambda *a, **k: due - dt.timedelta(days=1))
        with django_capture_on_commit_callbacks(execute=True):
            r = client_for(county.office_admin).get(url)
    assert r.status_code == 200, r.content
    assert r.json()["summary"].get("shipped_not_filed") == 1  # shown...
    assert "recorded" not in r.json() and not Discrepancy.objects.exists()  # ...not recorded
    assert not Alert.objects.exists()
    # Filed on time: after the due day the rule reconciles and finds the books agree.
    month.filing([month.row(batch, 10)])
    with django_capture_on_commit_callbacks(execute=True):
        rules.run(today=due + dt.timedelta(days=1), only=["reconciliation"])
    assert not Discrepancy.objects.filter(resolved_at__isnull=True).exists()
    assert not Alert.objects.filter(status="open").exists()


def test_a_month_past_its_due_day_is_recorded_when_opened(county, client_for, django_capture_on_commit_callbacks):
    month = Month(county, periods.previous_month(periods.previous_month(timezone.localdate().replace(day=1))))
    assert periods.filings_due(month.month, county.jurisdiction)
    (batch,) = month.batches(1)
    month.ship({batch: 10}, day=8)  # shipped, never filed, and the filing is overdue
    with django_capture_on_commit_callbacks(execute=True):
        r = client_for(county.office_admin).get(f"/api/reconciliations/?month={month.month:%Y-%m}&jurisdiction=430421")
    assert r.json()["recorded"]["created"] == 1
    assert Alert.objects.filter(type="cross_party_mismatch", figures__kind="shipped_not_filed").count() == 1


def test_a_mismatch_that_comes_back_after_it_was_fixed_raises_a_new_alert(county, django_capture_on_commit_callbacks):
    from audits.alerts import services

    m = Month(county)
    (b,) = m.batches(1)
    m.ship({b: 10}, day=8)
    m.filing([m.row(b, 12, "INV-1")])
    day = periods.due_on(m.month, county.jurisdiction) + dt.timedelta(days=1)

    def run():
        nonlocal day
        with django_capture_on_commit_callbacks(execute=True):
            rules.run(today=day, only=["reconciliation"])
        day += dt.timedelta(days=1)

    run()
    (first,) = Alert.objects.filter(type="cross_party_mismatch")
    services.alert_resolve(actor=county.office_admin, alert=first, note="批发企业已更正申报")
    m.filing([m.row(b, 10, "INV-1")], amendment_reason="更正数量")  # v2 agrees with the shipment
    run()
    assert not Discrepancy.objects.filter(resolved_at__isnull=True).exists()
    run()  # still agreeing: nothing new
    assert Alert.objects.filter(type="cross_party_mismatch").count() == 1
    m.filing([m.row(b, 40, "INV-1")], amendment_reason="再次修改")  # v3: 40 filed against 10 shipped
    run()
    d = Discrepancy.objects.get(resolved_at__isnull=True)
    assert (d.figures["filed"], d.occurrence) == (40, 2)
    (again,) = Alert.objects.filter(type="cross_party_mismatch", status="open")
    assert again.pk != first.pk and again.figures["filed"] == 40
    first.refresh_from_db()
    assert first.status == "resolved"  # the office's resolution stands
    run()  # and the rule raises it once
    assert Alert.objects.filter(type="cross_party_mismatch").count() == 2


def test_a_pack_seen_in_a_third_county_reaches_that_countys_office(county, client_for,
                                                                   django_capture_on_commit_callbacks):
    from backend.models import Organisation
    from tests.factories import JurisdictionFactory, OrganisationFactory, UserFactory
    from tests.scanning.scan_helpers import scan

    batch = gs1_batch()
    (pack,) = trace_codes(batch, 1)
    stock_with_packs(county, batch, 6, [pack])
    third = JurisdictionFactory(code="430521")
    elsewhere = OrganisationFactory(kind=Organisation.Kind.HOSPITAL, jurisdiction=third, licensed=True,
                                    termination_approved=True)
    second_pharmacist = UserFactory(role="pharmacist", organisation=county.other.hospital)
    with django_capture_on_commit_callbacks(execute=True):
        scan(client_for(county.pharmacist), pack)  # where it belongs
        scan(client_for(second_pharmacist), pack)  # 430121
        scan(client_for(second_pharmacist), pack)  # again there: the same alert
        scan(client_for(UserFactory(role="pharmacist", organisation=elsewhere)), pack)  # 430521
    seen = sorted(Alert.objects.filter(type="pack_at_two_holders").values_list("jurisdiction_code", flat=True))
    assert seen == ["430121", "430521"]
    assert rules.run(only=["sweep_scan_anomalies"])["sweep_scan_anomalies"]["new"] == 0


def test_a_mismatch_between_city_level_parties_reaches_the_office(county, django_capture_on_commit_callbacks):
    from audits import filings
    from backend.models import Organisation, User
    from inventory import services as inventory_services
    from tests.factories import OrganisationFactory, UserFactory
    from tests.inventory.factories import BatchFactory

    kind = Organisation.Kind
    wholesaler = OrganisationFactory(kind=kind.WHOLESALER, jurisdiction=county.city, licensed=True)
    hospital = OrganisationFactory(kind=kind.HOSPITAL, jurisdiction=county.city, licensed=True,
                                   termination_approved=True)
    clerk = UserFactory(role=User.Role.WHOLESALER_CLERK, organisation=wholesaler)
    m = Month(county)
    batch = BatchFactory(product=m.product)
    inventory_services.intake_record(actor=clerk, batch=batch, quantity=100, invoice_number="IN-9",
                                     supplier_name="测试制药有限公司", received_at=m.at(2))
    shipment = inventory_services.shipment_create(actor=clerk, recipient=hospital,
                                                  lines=[{"batch": batch, "quantity": 10}])
    inventory_services.shipment_dispatch(actor=clerk, shipment=shipment, occurred_at=m.at(8))
    filings.sales_filing_submit(actor=clerk, month=m.month, source="json", rows=filings.rows_from_json([
        m.row(batch, 50, customer=hospital)]))  # 50 filed against 10 shipped
    today = periods.due_on(m.month, county.city) + dt.timedelta(days=1)
    with django_capture_on_commit_callbacks(execute=True):
        rules.run(today=today, only=["reconciliation"])
    (alert,) = Alert.objects.filter(type="cross_party_mismatch", organisation=wholesaler)
    assert (alert.jurisdiction_code, alert.figures["filed"], alert.figures["shipped"]) == ("430400", 50, 10)
    with django_capture_on_commit_callbacks(execute=True):
        rules.run(today=today, only=["reconciliation"])
    assert Alert.objects.filter(type="cross_party_mismatch").count() == 1


def test_a_mismatch_with_a_customer_in_another_county_reaches_both_offices(
        county, client_for, django_capture_on_commit_callbacks):
    """The wholesaler's county acts on it; the customer's county sees it (its clinic's
    receipts are half of the finding)."""
    m = Month(county)
    (b,) = m.batches(1)
    m.ship({b: 10}, day=8, recipient=county.other.hospital, receive=False)
    m.filing([m.row(b, 4, customer=county.other.hospital)])  # 4 filed against 10 shipped
    today = periods.due_on(m.month, county.jurisdiction) + dt.timedelta(days=1)
    with django_capture_on_commit_callbacks(execute=True):
        rules.run(today=today, only=["reconciliation"])
    (alert,) = Alert.objects.filter(type="cross_party_mismatch")
    assert (alert.jurisdiction_code, alert.other_jurisdiction_code) == ("430421", "430121")
    other_admin = client_for(county.other.office_admin)
    listed = other_admin.get("/api/alerts/", {"jurisdiction": "430121"}).json()["results"]
    assert [(a["id"], a["other_jurisdiction_code"]) for a in listed] == [(alert.pk, "430121")]
    assert other_admin.get(f"/api/alerts/{alert.pk}/").status_code == 200
    # Only the wholesaler's office acts on it.
    r = other_admin.post(f"/api/alerts/{alert.pk}/resolve/", {"note": "不是我们的"}, format="json")
    assert r.status_code in (403, 404) and Alert.objects.get(pk=alert.pk).status == "open"
    mine = client_for(county.office_admin).post(f"/api/alerts/{alert.pk}/acknowledge/", {"note": "已约谈张经理"},
                                                format="json")
    assert mine.status_code == 200, mine.content
    assert (mine.json()["acknowledgement_note"], mine.json()["acknowledged_by"]) == (
        "已约谈张经理", county.office_admin.username)
    # The other county reads the finding, not the acting office's notes or its people.
    seen = other_admin.get(f"/api/alerts/{alert.pk}/").json()
    assert (seen["status"], seen["acknowledgement_note"], seen["acknowledged_by"], seen["raised_by"]) == (
        "acknowledged", "", None, None)
    assert "张经理" not in other_admin.get("/api/alerts/").content.decode()
    # A third county sees nothing.
    from tests.factories import JurisdictionFactory, OrganisationFactory, UserFactory

    third = OrganisationFactory(kind="authority", jurisdiction=JurisdictionFactory(code="430521"))
    assert client_for(UserFactory(role="office_admin", organisation=third)).get("/api/alerts/").json()["count"] == 0


def test_a_refused_shipment_to_a_pharmacy_in_the_same_county_names_no_other_county(
        county, django_capture_on_commit_callbacks):
    from backend.errors import DomainError
    from inventory import services as inventory_services
    from tests.inventory.factories import BatchFactory, stock_wholesaler

    batch = BatchFactory()
    stock_wholesaler(county, batch, 5)
    draft = inventory_services.shipment_create(actor=county.clerk, recipient=county.pharmacy,
                                               lines=[{"batch": batch, "quantity": 5}])
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(DomainError):
        inventory_services.shipment_dispatch(actor=county.clerk, shipment=draft)
    (alert,) = Alert.objects.filter(type="shipment_refused")
    assert (alert.jurisdiction_code, alert.other_jurisdiction_code) == ("430421", "")


def test_a_pack_alert_raised_before_alerts_were_per_holder_still_covers_its_sightings(
        county, client_for, django_capture_on_commit_callbacks):
    """An alert raised before (no occurrence) is not raised again by the first daily run."""
    from tests.factories import UserFactory
    from tests.scanning.scan_helpers import scan

    batch = gs1_batch()
    (pack,) = trace_codes(batch, 1)
    stock_with_packs(county, batch, 6, [pack])
    scan(client_for(county.pharmacist), pack)
    scan(client_for(UserFactory(role="pharmacist", organisation=county.other.hospital)), pack)  # no callbacks
    assert not Alert.objects.exists()
    rules.run(only=["sweep_scan_anomalies"])
    (alert,) = Alert.objects.filter(type="pack_at_two_holders")
    Alert.objects.filter(pk=alert.pk).update(occurrence="")  # as the alerts of before were
    assert rules.run(only=["sweep_scan_anomalies"])["sweep_scan_anomalies"]["new"] == 0


def test_a_city_wholesalers_mismatch_waits_for_the_latest_due_day_below_the_city(
        county, django_capture_on_commit_callbacks):
    """A county may give its wholesalers a later day than its city: the city's reconciliation
    records nothing about the county's wholesalers before that county's day."""
    from audits import filings
    from backend.models import Organisation, User
    from inventory import services as inventory_services
    from tests.factories import OrganisationFactory, UserFactory
    from tests.inventory.factories import BatchFactory

    type(county.jurisdiction).objects.filter(pk=county.city.pk).update(monthly_filing_due_day=5)
    type(county.jurisdiction).objects.filter(pk=county.jurisdiction.pk).update(monthly_filing_due_day=20)
    county.jurisdiction.refresh_from_db()
    county.city.refresh_from_db()
    city_wholesaler = OrganisationFactory(kind=Organisation.Kind.WHOLESALER, jurisdiction=county.city, licensed=True)
    clerk = UserFactory(role=User.Role.WHOLESALER_CLERK, organisation=city_wholesaler)
    m = Month(county)
    (b,) = m.batches(1)
    m.ship({b: 10}, day=8)  # the county's wholesaler: not filed yet, due on the 20th
    batch = BatchFactory(product=m.product)
    inventory_services.intake_record(actor=clerk, batch=batch, quantity=50, invoice_number="IN-9",
                                     supplier_name="测试制药有限公司", received_at=m.at(2))
    on_the_10th = periods.next_month(m.month).replace(day=10)
    with django_capture_on_commit_callbacks(execute=True):
        rules.run(today=on_the_10th, only=["reconciliation"])
    assert not Alert.objects.filter(type="cross_party_mismatch").exists()
    assert not Discrepancy.objects.exists()
    filings.sales_filing_submit(actor=county.clerk, month=m.month, source="json",
                                rows=filings.rows_from_json([m.row(b, 4)]))  # 4 against 10, on time
    with django_capture_on_commit_callbacks(execute=True):
        rules.run(today=periods.next_month(m.month).replace(day=21), only=["reconciliation"])
    assert list(Alert.objects.filter(type="cross_party_mismatch").values_list("figures__filed", flat=True)) == [4]


def test_a_pack_twice_on_a_register_page_raises_the_alert(county, django_capture_on_commit_callbacks):
    """The register page writes its entries in bulk (no post_save): the service hands them over."""
    from inventory import services as inventory_services
    from inventory.models import PackCode
    from tests.inventory.factories import dispense_kwargs

    batch = gs1_batch()
    (code,) = trace_codes(batch, 1)
    stock_with_packs(county, batch, 12, [code])
    pack = PackCode.objects.get(code=code)
    entries = [dispense_kwargs(county, batch, pack_code=pack, prescription_number=f"RX-{i}") for i in (1, 2)]
    with django_capture_on_commit_callbacks(execute=True):
        inventory_services.dispense_record_many(actor=county.pharmacist, entries=entries)
    (alert,) = Alert.objects.filter(type="pack_dispensed_twice")
    assert (alert.organisation, alert.other_jurisdiction_code) == (county.hospital, "")
    assert len([e for e in alert.evidence if e["type"] == "inventory.dispense"]) == 2
