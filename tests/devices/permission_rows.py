"""Permission-matrix rows for the device endpoints (see tests/backend/permission_matrix.py).

Places: "own" = the user's organisation, "county" = the retail pharmacy of 衡阳县, "outside"
= the hospital of 长沙县. Records are made directly with the ORM so that any organisation
can hold one (the filing rules themselves are tested in test_filing.py); a filing through
the API for a holder that may not hold a device answers 422 device_holder_not_allowed.

Who may act (inventory/devices/permissions.py): the holder's own staff and the office
administrators of its jurisdiction file, transfer, scrap and change operators; inspectors of
the jurisdiction seal and unseal; only the holder's staff record exams.
"""

from __future__ import annotations

import base64
import datetime as dt
import itertools

from django.utils import timezone

from inventory.devices import services
from inventory.devices.models import Device, DeviceEvent, DeviceExam, DeviceRefusal
from tests.backend.permission_matrix import SCOPED_READ, Endpoint, Extra, same, table
from tests.devices.factories import image_bytes, operator
from tests.factories import OrganisationFactory, make_resident_id

_serials = itertools.count(1)
PNG_URI = "data:image/png;base64," + base64.b64encode(image_bytes()).decode()

STAFF_OR_OFFICE = "403 device_holder_staff_or_office_required"
INSPECTOR_ONLY = "403 device_inspector_required"
NOT_HOLDABLE = "422 device_holder_not_allowed"
EXAM_STAFF_ONLY = "403 exam_holder_staff_required"
INVISIBLE = "400 validation_error"  # a device the user cannot see is not a valid choice


def device_record(county, owner) -> Device:
    """An active ultrasound device held by `owner`, filed two days ago (events included)."""
    sono = operator(owner)
    at = timezone.now() - dt.timedelta(days=2)
    serial = f"PM-{next(_serials):05d}"
    device = Device.objects.create(
        kind="ultrasound", brand="GE", model="Voluson S8", place_of_origin="美国",
        manufactured_on=dt.date(2024, 1, 1), purchased_on=dt.date(2024, 3, 1), serial_number=serial,
        identity=f"GE|VOLUSONS8|{serial}", main_use="产检", seal_image="uploads/seal.png", holder=owner,
        custodian=sono, duty_started_on=dt.date(2024, 3, 1), filed_at=at, days_late=0,
    )
    device.asset_tag = services.asset_tag_for(device)
    device.save(update_fields=["asset_tag"])
    device.operators.set([sono])
    DeviceEvent.objects.create(device=device, kind="filed", occurred_at=at, holder=owner, custodian=sono,
                               operators=[sono.pk], duty_started_on=device.duty_started_on, days_late=0)
    return device


def _filing_payload(county, owner):
    sono = operator(owner)
    return {
        "kind": "ultrasound", "brand": "Mindray", "model": "DC-70", "place_of_origin": "深圳",
        "manufactured_on": "2025-01-01", "purchased_on": (timezone.localdate() - dt.timedelta(days=1)).isoformat(),
        "serial_number": f"MX-{next(_serials):05d}", "holder": owner.pk, "main_use": "产检",
        "custodian": sono.pk, "operators": [sono.pk], "photos": [PNG_URI], "seal_image": PNG_URI,
    }


def _transfer_payload(device):
    target = OrganisationFactory(kind="hospital", jurisdiction=device.holder.jurisdiction, licensed=True)
    sono = operator(target)
    return {"to_holder": target.pk, "custodian": sono.pk, "operators": [sono.pk]}


def _seal_then_unseal(device):
    services.device_seal(actor=None, device=device, reference="案-1")
    return {"reference": "案-1", "reason": "解除"}


def _second_operator_to_remove(device):
    second = operator(device.holder)
    services.device_operator_add(actor=None, device=device, person=second)
    return {"person": second.pk}


def _exam_record(county, owner) -> DeviceExam:
    device = device_record(county, owner)
    return DeviceExam.objects.create(
        device=device, performed_at=timezone.now() - dt.timedelta(hours=2), patient_name="陈小红",
        patient_resident_id=make_resident_id(7_000_001), gestational_weeks=20, indication="产检",
        operator=device.custodian, result_summary="单胎", holder=owner,
    )


def _exam_payload(county, owner):
    device = device_record(county, owner)
    return {"device": device.pk, "patient_name": "刘美华", "patient_resident_id": make_resident_id(7_000_002),
            "gestational_weeks": 24, "indication": "产检", "operator": device.custodian_id,
            "result_summary": "单胎，头位"}


def _refusal_record(county, owner) -> DeviceRefusal:
    return DeviceRefusal.objects.create(holder=owner, code="device_duplicate_filing", message="x",
                                              brand="GE", model="E8", serial_number="S1", identity="GE|E8|S1")


# The holder's staff and the office administrators of its jurisdiction.
MANAGE = table(
    #                  own              county           outside
    office_admin=(200, 200, 404),
    inspector=(STAFF_OR_OFFICE, STAFF_OR_OFFICE, 404),
    pharmacist=(200, 404, 404),
    physician=(200, 404, 404),
    wholesaler_clerk=(200, 404, 404),
    anonymous=(401, 401, 401),
)
SEAL = table(
    office_admin=(INSPECTOR_ONLY, INSPECTOR_ONLY, 404),
    inspector=(200, 200, 404),
    pharmacist=(INSPECTOR_ONLY, 404, 404),
    physician=(INSPECTOR_ONLY, 404, 404),
    wholesaler_clerk=(INSPECTOR_ONLY, 404, 404),
    anonymous=(401, 401, 401),
)

ENDPOINTS = {
    "devices": Endpoint(
        record=device_record,
        read=SCOPED_READ,
        create=(_filing_payload, table(
            # an authority, a pharmacy and a wholesaler may not hold a device (policy refusal)
            office_admin=(NOT_HOLDABLE, NOT_HOLDABLE, STAFF_OR_OFFICE),
            inspector=(STAFF_OR_OFFICE, STAFF_OR_OFFICE, STAFF_OR_OFFICE),
            pharmacist=(201, STAFF_OR_OFFICE, STAFF_OR_OFFICE),
            physician=(201, STAFF_OR_OFFICE, STAFF_OR_OFFICE),
            wholesaler_clerk=(NOT_HOLDABLE, STAFF_OR_OFFICE, STAFF_OR_OFFICE),
            anonymous=(401, 401, 401),
        )),
        update=None,
        extra={
            "events": Extra("get", lambda device: {}, SCOPED_READ),
            "seal": Extra("post", lambda device: {"reference": "衡县卫执〔2026〕1号"}, SEAL),
            "unseal": Extra("post", _seal_then_unseal, SEAL),
            "transfer": Extra("post", _transfer_payload, MANAGE),
            "scrap": Extra("post", lambda device: {"witness": "王芳"}, MANAGE),
            "add-operator": Extra("post", lambda device: {"person": operator(device.holder).pk}, MANAGE),
            "remove-operator": Extra("post", _second_operator_to_remove, MANAGE),
            "photos": Extra("post", lambda device: {"photos": [PNG_URI]}, table(
                office_admin=(201, 201, 404),
                inspector=(STAFF_OR_OFFICE, STAFF_OR_OFFICE, 404),
                pharmacist=(201, 404, 404),
                physician=(201, 404, 404),
                wholesaler_clerk=(201, 404, 404),
                anonymous=(401, 401, 401),
            )),
            "late-filings": Extra("get", lambda device: {}, same(200), detail=False),
        },
    ),
    "device-exams": Endpoint(
        record=_exam_record,
        read=SCOPED_READ,
        create=(_exam_payload, table(
            office_admin=(EXAM_STAFF_ONLY, EXAM_STAFF_ONLY, INVISIBLE),
            inspector=(EXAM_STAFF_ONLY, EXAM_STAFF_ONLY, INVISIBLE),
            pharmacist=(201, INVISIBLE, INVISIBLE),
            physician=(201, INVISIBLE, INVISIBLE),
            # a wholesaler may not hold a device, so no exam on one is registered (the refusal is kept)
            wholesaler_clerk=(NOT_HOLDABLE, INVISIBLE, INVISIBLE),
            anonymous=(401, 401, 401),
        )),
        update=None,
    ),
    "device-refusals": Endpoint(
        record=_refusal_record,
        read=SCOPED_READ,
        create=None,
        update=None,
    ),
}
