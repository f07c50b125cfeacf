"""Only an institution with a current termination-surgery approval may hold these drugs: the
rule is checked when they are taken into stock too, not only when they were dispatched."""

import datetime as dt

import pytest
from django.utils import timezone

from audits.alerts.models import Alert
from backend.models import Licence
from inventory import selectors, services
from inventory.errors import RecipientNotAuthorized
from inventory.models import Shipment, ShipmentRefusal
from tests.conftest import error_of
from tests.inventory.factories import BatchFactory, ship, stock_wholesaler

pytestmark = pytest.mark.django_db


def test_goods_in_transit_when_the_approval_is_revoked_are_not_taken_into_stock(
        county, client_for, django_capture_on_commit_callbacks):
    batch = BatchFactory()
    stock_wholesaler(county, batch, 10)
    shipment = ship(county, batch, 10, receive=False)  # dispatched while approved
    approval = county.hospital.licences.get(kind=Licence.Kind.TERMINATION_APPROVAL)
    Licence.objects.filter(pk=approval.pk).update(revoked_at=timezone.localdate(), revoked_reason="查实开展两非")
    pharmacist = client_for(county.pharmacist)
    with django_capture_on_commit_callbacks(execute=True):
        r = pharmacist.post(f"/api/shipments/{shipment.pk}/receive/", {}, format="json")
    assert r.status_code == 422 and error_of(r)["code"] == "recipient_not_authorized", r.content
    assert selectors.position_quantity(county.hospital.pk, batch.pk) == 0
    assert Shipment.objects.get(pk=shipment.pk).status == Shipment.Status.DISPATCHED
    refusal = ShipmentRefusal.objects.get()
    assert (refusal.act, refusal.sender, refusal.recipient, refusal.code) == (
        "receipt", county.wholesaler, county.hospital, "recipient_not_authorized")
    listed = client_for(county.inspector).get("/api/shipment-refusals/").json()["results"]
    assert [(x["act"], x["shipment"]) for x in listed] == [("receipt", shipment.pk)]
    alert = Alert.objects.get(type="shipment_refused")
    assert county.hospital.name in alert.summary
    # The goods go back to the wholesaler.
    r = pharmacist.post(f"/api/shipments/{shipment.pk}/reject/", {"reason": "本院资质已被吊销"}, format="json")
    assert r.status_code == 200, r.content
    assert selectors.position_quantity(county.wholesaler.pk, batch.pk) == 10
    assert selectors.ledger_mismatches() == []


def test_a_receipt_dated_while_the_approval_was_valid_is_taken_in(county):
    """A receipt recorded late, dated the day it arrived (before the revocation), stands."""
    batch = BatchFactory()
    stock_wholesaler(county, batch, 10)
    dispatched = timezone.now() - dt.timedelta(days=3)
    shipment = services.shipment_create(actor=county.clerk, recipient=county.hospital,
                                        lines=[{"batch": batch, "quantity": 10}])
    services.shipment_dispatch(actor=county.clerk, shipment=shipment, occurred_at=dispatched)
    approval = county.hospital.licences.get(kind=Licence.Kind.TERMINATION_APPROVAL)
    Licence.objects.filter(pk=approval.pk).update(revoked_at=timezone.localdate(), revoked_reason="两非")
    with pytest.raises(RecipientNotAuthorized):
        services.shipment_receive(actor=county.pharmacist, shipment=shipment)
    services.shipment_receive(actor=county.pharmacist, shipment=shipment,
                              occurred_at=dispatched + dt.timedelta(days=1))
    assert selectors.position_quantity(county.hospital.pk, batch.pk) == 10
