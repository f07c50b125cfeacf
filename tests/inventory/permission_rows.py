"""Permission-matrix rows for the drug-chain endpoints (see tests/backend/permission_matrix.py).

Places: "own" = the user's organisation, "county" = the retail pharmacy of 衡阳县, "outside"
= the hospital of 长沙县. Records are made directly (ORM + ledger) so that any organisation
can own one; the rules themselves are tested in test_services.py and test_api.py."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from inventory import ledger
from inventory.ledger import Leg
from inventory.models import (
    Dispense,
    DispenseRefusal,
    Disposal,
    Intake,
    Seizure,
    Shipment,
    ShipmentLine,
    ShipmentRefusal,
)
from tests.backend.permission_matrix import PUBLIC_READ, SCOPED_READ, Endpoint, Extra, same, table
from tests.factories import OrganisationFactory, UserFactory
from tests.inventory.factories import (
    BatchFactory,
    DrugProductFactory,
    dispense_payload,
    ship,
    stock_wholesaler,
)

NOT_ALLOWED = "403 not_allowed"
OUTSIDE = "403 outside_jurisdiction"
NO_WRITE = same(405)


def give_stock(owner, batch=None, quantity=10) -> Intake:
    batch = batch or BatchFactory()
    user = UserFactory(role="", organisation=None)
    with transaction.atomic():
        intake = Intake.objects.create(wholesaler=owner, supplier_name="厂", batch=batch, quantity=quantity,
                                       invoice_number="M-1", received_at=timezone.now(), recorded_by=user)
        ledger.post(legs=[Leg(owner.pk, batch.pk, quantity)], kind="intake", actor=user, occurred_at=timezone.now(),
                    document={"intake": intake})
    return intake


def _partner(owner):
    """An approved institution in the owner's county (a second party that no test user belongs to)."""
    return OrganisationFactory(kind="hospital", jurisdiction=owner.jurisdiction, licensed=True,
                               termination_approved=True)


def _draft(county, owner) -> Shipment:
    intake = give_stock(owner)
    user = UserFactory(role="", organisation=None)
    shipment = Shipment.objects.create(sender=owner, recipient=_partner(owner), created_by=user)
    ShipmentLine.objects.create(shipment=shipment, batch=intake.batch, quantity=3)
    return shipment


def _refusal(county, owner) -> ShipmentRefusal:
    return ShipmentRefusal.objects.create(sender=owner, recipient=_partner(owner), attempted_at=timezone.now(),
                                          code="recipient_not_authorized", message="x", clauses=[], lines=[])


def _dispense(county, owner) -> Dispense:
    from tests.factories import PersonFactory

    intake = give_stock(owner)
    return Dispense.objects.create(
        institution=owner, occurred_at=timezone.now(), patient_name="陈小红", patient_age=30, patient_address="某地",
        birth_permit="holds", children_count=1, pregnancy_status="早孕", gestational_weeks=6, batch=intake.batch,
        quantity=1, dose="1片", prescription_number="RX", physician=PersonFactory(organisation=owner),
        pharmacist=UserFactory(role="", organisation=None))


def _dispense_refusal(county, owner) -> DispenseRefusal:
    return DispenseRefusal.objects.create(institution=owner, attempted_by=UserFactory(role="", organisation=None),
                                          attempted_at=timezone.now(), code="physician_not_licensed", message="x")


def _disposal(county, owner) -> Disposal:
    intake = give_stock(owner)
    return Disposal.objects.create(holder=owner, batch=intake.batch, quantity=1, reason="damaged", witness_name="某",
                                   occurred_at=timezone.now(), recorded_by=UserFactory(role="", organisation=None))


def _seizure(county, owner) -> Seizure:
    intake = give_stock(owner)
    authority = county.other.authority if owner == county.other.hospital else county.authority
    return Seizure.objects.create(holder=owner, authority=authority, batch=intake.batch, quantity=1,
                                  occurred_at=timezone.now(), inspector=county.inspector)


def _intake_payload(county, owner):
    return {"batch": BatchFactory().pk, "quantity": 5, "invoice_number": "FP-9", "supplier_name": "厂"}


def _shipment_payload(county, owner):
    return {"recipient": owner.pk, "lines": [{"batch": BatchFactory().pk, "quantity": 2}]}


def _dispense_payload(county, owner):
    batch = BatchFactory()
    stock_wholesaler(county, batch, 5)
    ship(county, batch, 5)
    return dispense_payload(county, batch)


def _disposal_payload(county, owner):
    batch = BatchFactory()
    stock_wholesaler(county, batch, 10)
    ship(county, batch, 5)  # 5 stay with the wholesaler, 5 go to the hospital
    return {"batch": batch.pk, "quantity": 1, "reason": "damaged", "witness_name": "王护士长"}


def _seizure_payload(county, owner):
    return {"holder": owner.pk, "batch": give_stock(owner).batch_id, "quantity": 1, "case_reference": "C-9"}


ONLY_WRITE_OWN_ROLE = {  # who may create a document in their own organisation
    "intakes": ("wholesaler_clerk",),
    "dispenses": ("pharmacist",),
    "disposals": ("pharmacist", "wholesaler_clerk"),
}


def _creates(prefix):
    allowed = ONLY_WRITE_OWN_ROLE[prefix]
    return table(**{role: ((201,) * 3 if role in allowed else (NOT_ALLOWED,) * 3)
                    for role in ("office_admin", "inspector", "pharmacist", "physician", "wholesaler_clerk")},
                 anonymous=(401, 401, 401))


DISPENSE_READ = table(
    office_admin=(200, 200, 404),
    inspector=(200, 200, 404),
    pharmacist=(200, 404, 404),
    physician=(200, 404, 404),
    wholesaler_clerk=(404, 404, 404),  # wholesalers never see the use register
    anonymous=(401, 401, 401),
)

# A party that sees the shipment but is not the one who may act gets 403; hidden: 404.
SHIPMENT_PARTY_ONLY = table(
    office_admin=(NOT_ALLOWED, NOT_ALLOWED, 404),
    inspector=(NOT_ALLOWED, NOT_ALLOWED, 404),
    pharmacist=(NOT_ALLOWED, 404, 404),
    physician=(NOT_ALLOWED, 404, 404),
    wholesaler_clerk=(NOT_ALLOWED, 404, 404),
    anonymous=(401, 401, 401),
)

ENDPOINTS = {
    "drugs": Endpoint(record=lambda county, owner: DrugProductFactory(), read=PUBLIC_READ),
    "batches": Endpoint(record=lambda county, owner: BatchFactory(), read=PUBLIC_READ),
    "stock/balances": Endpoint(
        record=lambda county, owner: give_stock(owner).batch.positions.get(holder=owner), read=SCOPED_READ),
    "stock/movements": Endpoint(
        record=lambda county, owner: give_stock(owner).movements.get(), read=SCOPED_READ,
        extra={"correct": Extra("post", lambda record: {"reason": "录入错误"}, table(
            office_admin=(201, 201, 404),
            inspector=(NOT_ALLOWED, NOT_ALLOWED, 404),
            pharmacist=(201, 404, 404),
            physician=(NOT_ALLOWED, 404, 404),
            wholesaler_clerk=(201, 404, 404),
            anonymous=(401, 401, 401),
        ))},
    ),
    "intakes": Endpoint(record=lambda county, owner: give_stock(owner), read=SCOPED_READ,
                        create=(_intake_payload, _creates("intakes"))),
    "shipments": Endpoint(
        record=_draft, read=SCOPED_READ,
        create=(_shipment_payload, table(
            office_admin=(NOT_ALLOWED,) * 3,
            inspector=(NOT_ALLOWED,) * 3,
            pharmacist=(400, "422 only_wholesalers_ship", "422 only_wholesalers_ship"),
            physician=(NOT_ALLOWED,) * 3,
            wholesaler_clerk=(400, 201, 201),  # a draft; the recipient is checked at dispatch
            anonymous=(401, 401, 401),
        )),
        extra={
            "dispatch": Extra("post", lambda record: {}, table(
                office_admin=(NOT_ALLOWED, NOT_ALLOWED, 404),
                inspector=(NOT_ALLOWED, NOT_ALLOWED, 404),
                pharmacist=(NOT_ALLOWED, 404, 404),
                physician=(NOT_ALLOWED, 404, 404),
                wholesaler_clerk=(200, 404, 404),
                anonymous=(401, 401, 401),
            )),
            "receive": Extra("post", lambda record: {}, SHIPMENT_PARTY_ONLY),
            "reject": Extra("post", lambda record: {"reason": "拒收"}, SHIPMENT_PARTY_ONLY),
        },
    ),
    "shipment-refusals": Endpoint(record=_refusal, read=SCOPED_READ),
    "dispenses": Endpoint(record=_dispense, read=DISPENSE_READ,
                          create=(_dispense_payload, _creates("dispenses"))),
    "dispense-refusals": Endpoint(record=_dispense_refusal, read=SCOPED_READ),
    "disposals": Endpoint(record=_disposal, read=SCOPED_READ, create=(_disposal_payload, _creates("disposals"))),
    "seizures": Endpoint(
        record=_seizure, read=SCOPED_READ,
        create=(_seizure_payload, table(
            office_admin=(NOT_ALLOWED,) * 3,
            inspector=(201, 201, OUTSIDE),
            pharmacist=(NOT_ALLOWED,) * 3,
            physician=(NOT_ALLOWED,) * 3,
            wholesaler_clerk=(NOT_ALLOWED,) * 3,
            anonymous=(401, 401, 401),
        )),
    ),
}
