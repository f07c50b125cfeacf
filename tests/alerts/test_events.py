"""Event-driven rules: each fires after the commit of its source row and stays quiet on a
near miss; a rolled-back write raises nothing; a failing alert never breaks the write."""

from __future__ import annotations

import logging

import pytest

from audits import counts, reconciliation
from audits.alerts.models import Alert
from audits.models import CountLine, Discrepancy
from inventory import services
from inventory.errors import RecipientNotAuthorized
from inventory.models import ShipmentDiscrepancy, ShipmentRefusal
from tests.alerts.helpers import alerts_of
from tests.factories import UserFactory
from tests.inventory.factories import (
    BatchFactory,
    dispense_context,
    ship,
    stock_institution,
    stock_wholesaler,
)
from tests.scanning.scan_helpers import gs1_batch, scan, stock_with_packs, trace_codes

pytestmark = pytest.mark.django_db


# --- refused shipment ---------------------------------------------------------------------------


def test_refused_shipment_attempt_raises_a_high_alert_after_commit(county, django_capture_on_commit_callbacks):
    batch = BatchFactory()
    stock_wholesaler(county, batch, 100)
    shipment = services.shipment_create(actor=county.clerk, recipient=county.pharmacy,
                                        lines=[{"batch": batch, "quantity": 10}])
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RecipientNotAuthorized):
        services.shipment_dispatch(actor=county.clerk, shipment=shipment)
    refusal = ShipmentRefusal.objects.get()
    (alert,) = alerts_of("shipment_refused")
    assert (alert.subject_type, alert.subject_id) == ("inventory.shipmentrefusal", refusal.pk)
    assert alert.severity == "high" and alert.status == "open"
    assert alert.organisation == county.wholesaler and alert.jurisdiction_code == "430421"
    assert {"type": "inventory.shipment", "id": shipment.pk} in alert.evidence
    assert {"type": "backend.organisation", "id": county.pharmacy.pk} in alert.evidence
    assert alert.raised_by is None  # raised by the system, not by the clerk


def test_a_dispatch_to_an_approved_institution_raises_nothing(county, django_capture_on_commit_callbacks):
    batch = BatchFactory()
    stock_wholesaler(county, batch, 100)
    with django_capture_on_commit_callbacks(execute=True):
        ship(county, batch, 10)
    assert not Alert.objects.exists()


# --- receipt shortage / overage ---------------------------------------------------------------------


@pytest.mark.parametrize(("received", "type_"), [(8, "receipt_shortage"), (12, "receipt_overage"), (10, None)])
def test_receipt_discrepancy(county, django_capture_on_commit_callbacks, received, type_):
    batch = BatchFactory()
    stock_wholesaler(county, batch, 100)
    shipment = ship(county, batch, 10, receive=False)
    line = shipment.lines.get()
    with django_capture_on_commit_callbacks(execute=True):
        services.shipment_receive(actor=county.pharmacist, shipment=shipment,
                                  lines=[{"line": line.pk, "received_quantity": received}])
    if type_ is None:
        assert not Alert.objects.exists()
        return
    (alert,) = Alert.objects.all()
    assert alert.type == type_ and alert.severity == "medium"
    assert alert.subject_id == ShipmentDiscrepancy.objects.get().pk
    assert alert.organisation == county.hospital
    assert alert.figures == {"shipped": 10, "received": received, "difference": received - 10}


# --- count variance -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("reason", "fires"), [("suspected_loss", True), ("breakage", False)])
def test_count_variance_suspected_loss_is_high(county, django_capture_on_commit_callbacks, reason, fires):
    batch = BatchFactory()
    stock_institution(county, batch, 30)
    session = counts.count_session_open(actor=county.pharmacist)
    counts.count_line_set(actor=county.pharmacist, session=session, batch=batch, counted=24)
    with django_capture_on_commit_callbacks(execute=True):
        counts.count_session_close(actor=county.pharmacist, session=session,
                                   reasons={batch.pk: (reason, "柜内少了一盒")})
    found = alerts_of("count_suspected_loss")
    if not fires:
        assert found == []
        return
    (alert,) = found
    line = CountLine.objects.get(session=session)
    assert alert.subject_id == line.pk and alert.severity == "high"
    assert alert.figures["variance"] == -6 and alert.organisation == county.hospital


def test_a_count_refused_for_a_missing_reason_raises_nothing(county, django_capture_on_commit_callbacks):
    """One line is a suspected loss, another has a variance and no reason: the close is
    refused as a whole, so the suspected loss was never recorded and nothing is alerted."""
    from audits.errors import VarianceNeedsReason

    lost, short = BatchFactory(), BatchFactory()
    stock_institution(county, lost, 30)
    stock_institution(county, short, 30)
    session = counts.count_session_open(actor=county.pharmacist)
    counts.count_line_set(actor=county.pharmacist, session=session, batch=lost, counted=24)
    counts.count_line_set(actor=county.pharmacist, session=session, batch=short, counted=29)
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(VarianceNeedsReason):
        counts.count_session_close(actor=county.pharmacist, session=session,
                                   reasons={lost.pk: ("suspected_loss", "柜内少了一盒")})
    assert not CountLine.objects.filter(suspected_loss=True).exists()
    assert not Alert.objects.exists()
    # The same close with both reasons given does alert.
    with django_capture_on_commit_callbacks(execute=True):
        counts.count_session_close(actor=county.pharmacist, session=session,
                                   reasons={lost.pk: ("suspected_loss", "柜内少了一盒"), short.pk: ("breakage", "碎了一片")})
    assert [a.subject_id for a in alerts_of("count_suspected_loss")] == [CountLine.objects.get(batch=lost).pk]


# --- scan anomalies --------------------------------------------------------------------------------------


def test_pack_dispensed_twice(county, client_for, django_capture_on_commit_callbacks):
    batch = gs1_batch()
    packs = trace_codes(batch, 2)
    stock_with_packs(county, batch, 12, packs)
    pharmacist = client_for(county.pharmacist)
    with django_capture_on_commit_callbacks(execute=True):
        assert scan(pharmacist, packs[0], action="dispense", **dispense_context(county)).status_code == 201
        assert scan(pharmacist, packs[1], action="dispense", **dispense_context(county)).status_code == 201
    assert not Alert.objects.exists()  # near miss: two packs, each dispensed once
    with django_capture_on_commit_callbacks(execute=True):
        r = scan(pharmacist, packs[0], action="dispense", **dispense_context(county, prescription_number="RX-2"))
    assert r.status_code == 201
    (alert,) = alerts_of("pack_dispensed_twice")
    assert alert.subject_type == "inventory.packcode" and alert.severity == "high"
    assert alert.organisation == county.hospital
    assert {"type": "scanning.scanlog", "id": r.json()["scan"]} in alert.evidence


def test_pack_seen_at_two_holders(county, client_for, django_capture_on_commit_callbacks):
    batch = gs1_batch()
    packs = trace_codes(batch, 1)
    stock_with_packs(county, batch, 6, packs)
    with django_capture_on_commit_callbacks(execute=True):
        scan(client_for(county.pharmacist), packs[0])  # where it belongs: nothing
    assert not Alert.objects.exists()
    other = UserFactory(role="pharmacist", organisation=county.other.hospital)
    with django_capture_on_commit_callbacks(execute=True):
        scan(client_for(other), packs[0])
        scan(client_for(other), packs[0])  # seen again while the alert is open: the same alert
    (alert,) = alerts_of("pack_at_two_holders")
    assert alert.organisation == county.other.hospital and alert.jurisdiction_code == "430121"
    assert len([e for e in alert.evidence if e["type"] == "scanning.scananomaly"]) >= 2


# --- cross-party mismatch -------------------------------------------------------------------------------


def _result(kind: str, county, batch) -> dict:
    return {"month": "2026-10", "discrepancies": [{
        "kind": kind, "key": f"{county.wholesaler.pk}:{county.hospital.pk}:{batch.pk}",
        "wholesaler": county.wholesaler.pk if kind != "institution_unbalanced" else None,
        "holder": county.hospital.pk, "batch": batch.pk, "figures": {"filed": 12, "shipped": 10, "received": 10},
        "documents": {"filings": [], "shipments": []}}]}


@pytest.mark.parametrize(("kind", "severity"), [("quantity_mismatch", "medium"), ("shipped_not_filed", "medium"),
                                                ("shipped_not_received", "low"), ("institution_unbalanced", None)])
def test_cross_party_mismatch(county, django_capture_on_commit_callbacks, kind, severity):
    batch = BatchFactory()
    with django_capture_on_commit_callbacks(execute=True):
        reconciliation.reconciliation_record(_result(kind, county, batch), jurisdiction_code="430421")
    found = alerts_of("cross_party_mismatch")
    if severity is None:
        assert found == []
        return
    (alert,) = found
    assert alert.subject_id == Discrepancy.objects.get().pk and alert.severity == severity
    assert alert.organisation == county.wholesaler
    # seen again by the next reconciliation: refreshed, not a second alert
    with django_capture_on_commit_callbacks(execute=True):
        reconciliation.reconciliation_record(_result(kind, county, batch), jurisdiction_code="430421")
    assert Alert.objects.count() == 1


# --- robustness ------------------------------------------------------------------------------------------


def test_a_failing_alert_never_breaks_the_write(county, django_capture_on_commit_callbacks, monkeypatch, caplog):
    from audits.alerts import services as alert_services

    def broken(**kwargs):
        raise RuntimeError("alerts are down")

    monkeypatch.setattr(alert_services, "alert_raise", broken)
    batch = BatchFactory()
    stock_wholesaler(county, batch, 100)
    shipment = ship(county, batch, 10, receive=False)
    line = shipment.lines.get()
    with caplog.at_level(logging.ERROR, logger="audits.alerts.events"), django_capture_on_commit_callbacks(
            execute=True):
        services.shipment_receive(actor=county.pharmacist, shipment=shipment,
                                  lines=[{"line": line.pk, "received_quantity": 7}])
    shipment.refresh_from_db()
    assert shipment.status == "received" and ShipmentDiscrepancy.objects.count() == 1
    assert not Alert.objects.exists()
    assert "alerts are down" in caplog.text


def test_the_alert_is_raised_only_after_commit(county, django_capture_on_commit_callbacks):
    batch = BatchFactory()
    stock_wholesaler(county, batch, 100)
    shipment = ship(county, batch, 10, receive=False)
    line = shipment.lines.get()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.shipment_receive(actor=county.pharmacist, shipment=shipment,
                                  lines=[{"line": line.pk, "received_quantity": 9}])
        assert not Alert.objects.exists()
    assert callbacks
    for callback in callbacks:
        callback()
    assert len(alerts_of("receipt_shortage")) == 1
