"""The lifecycle is a list of immutable events; the device's state is derived from them."""

import datetime as dt

import pytest
from django.utils import timezone

from audits.models import AuditEntry
from inventory.devices import errors, services
from inventory.devices.models import DeviceEvent
from inventory.devices.selectors import cached_state, device_state
from tests.conftest import error_of
from tests.devices.factories import file_device, operator
from tests.factories import OrganisationFactory, PersonFactory

pytestmark = pytest.mark.django_db


def assert_cache_matches_events(device):
    device.refresh_from_db()
    assert cached_state(device) == device_state(device)


def test_state_derived_from_events_through_a_whole_life(county):
    t0 = timezone.now() - dt.timedelta(days=30)
    sono = operator(county.hospital)
    device = file_device(county.hospital, operators=[sono], at=t0)
    assert_cache_matches_events(device)

    second = operator(county.hospital)
    services.device_operator_add(actor=county.physician, device=device, person=second, at=t0 + dt.timedelta(days=1))
    services.device_seal(actor=county.inspector, device=device, reference="衡县卫执罚〔2026〕12号",
                         reason="非医学需要胎儿性别鉴定线索", at=t0 + dt.timedelta(days=2))
    assert_cache_matches_events(device)
    services.device_unseal(actor=county.inspector, device=device, reference="衡县卫执罚〔2026〕12号",
                           reason="查明无违法", at=t0 + dt.timedelta(days=5))
    services.device_operator_remove(actor=county.office_admin, device=device, person=sono,
                                    at=t0 + dt.timedelta(days=6))
    assert_cache_matches_events(device)

    other = OrganisationFactory(kind="township_health_centre", jurisdiction=county.township, licensed=True)
    new_op = operator(other)
    services.device_transfer(actor=county.physician, device=device, to_holder=other, custodian=new_op,
                             operators=[new_op], transferred_on=timezone.localdate(t0 + dt.timedelta(days=7)),
                             at=t0 + dt.timedelta(days=20))
    assert_cache_matches_events(device)
    services.device_scrap(actor=county.office_admin, device=device, witness="王芳（镇卫生院院长）",
                          reason="主机损坏无法维修")
    assert_cache_matches_events(device)

    kinds = list(device.events.values_list("kind", flat=True))
    assert kinds == ["filed", "operator_added", "sealed", "unsealed", "operator_removed", "transferred", "scrapped"]

    # State at any moment is the fold of the events up to then.
    at = lambda days: device_state(device, at=t0 + dt.timedelta(days=days, hours=1))  # noqa: E731
    assert at(0).status == "active" and at(0).operator_ids == {sono.pk}
    assert at(1).operator_ids == {sono.pk, second.pk}
    assert at(3).status == "sealed"
    assert at(5).status == "active"
    assert at(6).operator_ids == {second.pk}
    assert (at(20).holder_id, at(20).operator_ids, at(20).days_late) == (other.pk, {new_op.pk}, 6)
    assert device_state(device).status == "scrapped"
    assert device_state(device, at=t0 - dt.timedelta(days=1)) is None

    # Every event is on the audit trail, with its actor.
    trail = AuditEntry.objects.filter(object_type="devices.device", object_id=str(device.pk)).order_by("seq")
    assert list(trail.values_list("transition", flat=True)) == kinds
    assert trail.get(transition="sealed").actor_username == "inspector"
    assert trail.get(transition="sealed").after["event"]["reference"] == "衡县卫执罚〔2026〕12号"


def test_seal_needs_inspector_and_reference(county):
    device = file_device(county.hospital)
    with pytest.raises(errors.DeviceForbidden) as info:
        services.device_seal(actor=county.office_admin, device=device, reference="X1")
    assert info.value.code == "device_inspector_required"
    with pytest.raises(errors.DeviceForbidden):
        services.device_seal(actor=county.other.inspector, device=device, reference="X1")
    with pytest.raises(errors.BadDates) as info:
        services.device_seal(actor=county.inspector, device=device, reference="  ")
    assert info.value.code == "device_seal_reference_required"
    services.device_seal(actor=county.inspector, device=device, reference="F-1")
    with pytest.raises(errors.DeviceSealed):
        services.device_seal(actor=county.inspector, device=device, reference="F-2")


def test_sealed_device_cannot_be_transferred_scrapped_or_extended(county):
    device = file_device(county.hospital)
    services.device_seal(actor=county.inspector, device=device, reference="F-1")
    other = OrganisationFactory(kind="hospital", jurisdiction=county.township, licensed=True)
    op = operator(other)
    with pytest.raises(errors.DeviceSealed):
        services.device_transfer(actor=county.physician, device=device, to_holder=other, custodian=op,
                                 operators=[op], transferred_on=timezone.localdate())
    with pytest.raises(errors.DeviceSealed):
        services.device_scrap(actor=county.physician, device=device, witness="张三")
    with pytest.raises(errors.DeviceSealed):
        services.device_operator_add(actor=county.physician, device=device, person=operator(county.hospital))


def test_unseal_only_sealed(county):
    device = file_device(county.hospital)
    with pytest.raises(errors.DeviceNotSealed):
        services.device_unseal(actor=county.inspector, device=device, reference="F-1")


def test_scrapped_is_final(county):
    device = file_device(county.hospital)
    with pytest.raises(errors.BadDates) as info:
        services.device_scrap(actor=county.physician, device=device, witness="")
    assert info.value.code == "device_scrap_witness_required"
    services.device_scrap(actor=county.physician, device=device, witness="李四")
    for act in (
        lambda: services.device_seal(actor=county.inspector, device=device, reference="F"),
        lambda: services.device_scrap(actor=county.physician, device=device, witness="李四"),
        lambda: services.device_operator_add(actor=county.physician, device=device,
                                             person=operator(county.hospital)),
    ):
        with pytest.raises(errors.DeviceScrapped):
            act()


def test_transfer_only_to_a_holder_that_may_hold_it_and_duties_restart(county):
    device = file_device(county.hospital, purchased_ago=60)
    clinic_op = operator(county.clinic)
    with pytest.raises(errors.HolderNotAllowed) as info:
        services.device_transfer(actor=county.physician, device=device, to_holder=county.clinic,
                                 custodian=clinic_op, operators=[clinic_op], transferred_on=timezone.localdate())
    assert info.value.details["clauses"][0]["code"] == "individual_clinic"
    assert device.events.count() == 1
    with pytest.raises(errors.SameHolder):
        services.device_transfer(actor=county.physician, device=device, to_holder=county.hospital,
                                 custodian=device.custodian, operators=[device.custodian],
                                 transferred_on=timezone.localdate())

    centre = OrganisationFactory(kind="township_health_centre", jurisdiction=county.township, licensed=True)
    op = operator(centre)
    services.device_transfer(actor=county.physician, device=device, to_holder=centre, custodian=op, operators=[op],
                             transferred_on=timezone.localdate() - dt.timedelta(days=10), reason="调拨")
    device.refresh_from_db()
    assert (device.holder, device.days_late, device.duty_started_on) == (
        centre, 3, timezone.localdate() - dt.timedelta(days=10))
    event = device.events.get(kind="transferred")
    assert (event.holder, event.days_late, event.operators) == (centre, 3, [op.pk])


def test_operators_add_remove(county):
    sono = operator(county.hospital)
    device = file_device(county.hospital, operators=[sono])
    with pytest.raises(errors.LastOperator):
        services.device_operator_remove(actor=county.physician, device=device, person=sono)
    unlicensed = PersonFactory(organisation=county.hospital)
    with pytest.raises(errors.OperatorNotLicensed):
        services.device_operator_add(actor=county.physician, device=device, person=unlicensed)
    with pytest.raises(errors.OperatorAlreadyRegistered):
        services.device_operator_add(actor=county.physician, device=device, person=sono)
    with pytest.raises(errors.PersonNotAtHolder):
        services.device_operator_add(actor=county.physician, device=device, person=operator(county.other.hospital))
    with pytest.raises(errors.ExamOperatorNotRegistered) as info:
        services.device_operator_remove(actor=county.physician, device=device, person=unlicensed)
    assert info.value.code == "device_operator_not_registered"


def test_lifecycle_api(county, client_for):
    device = file_device(county.hospital)
    inspector, physician = client_for(county.inspector), client_for(county.physician)
    sealed = inspector.post(f"/api/devices/{device.pk}/seal/", {"reference": "案-7", "reason": "线索"})
    assert sealed.status_code == 200 and sealed.json()["status"] == "sealed"
    refused = physician.post(f"/api/devices/{device.pk}/scrap/", {"witness": "王"})
    assert refused.status_code == 409 and error_of(refused)["code"] == "device_sealed"
    assert physician.post(f"/api/devices/{device.pk}/seal/", {"reference": "x"}).status_code == 403
    assert inspector.post(f"/api/devices/{device.pk}/unseal/", {"reference": "案-7"}).json()["status"] == "active"
    new = operator(county.hospital)
    added = physician.post(f"/api/devices/{device.pk}/add-operator/", {"person": new.pk})
    assert added.status_code == 200 and new.pk in [o["id"] for o in added.json()["operators"]]
    events = physician.get(f"/api/devices/{device.pk}/events/").json()["results"]
    assert [e["kind"] for e in events] == ["filed", "sealed", "unsealed", "operator_added"]
    assert events[1]["actor"] == "inspector" and events[1]["reference"] == "案-7"
    # the device list's filters are not the events': a status the device no longer has
    # does not 404 it (it was unsealed)
    r = physician.get(f"/api/devices/{device.pk}/events/", {"status": "sealed", "kind": "chromosome"})
    assert r.status_code == 200 and len(r.json()["results"]) == 4
    assert physician.post(f"/api/devices/{device.pk}/scrap/", {"witness": "王"}).json()["status"] == "scrapped"


@pytest.mark.django_db(transaction=True)
def test_event_table_refuses_update_and_delete_on_postgresql(county):
    from django.db import connection, transaction
    from django.db.utils import DatabaseError

    if connection.vendor != "postgresql":
        pytest.skip("the append-only trigger exists on PostgreSQL only (SQLite relies on the audit hash chain)")
    device = file_device(county.hospital)
    for sql in ("UPDATE devices_deviceevent SET reason = 'rewritten' WHERE device_id = %s",
                "DELETE FROM devices_deviceevent WHERE device_id = %s"):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cur:
            cur.execute(sql, [device.pk])
    assert DeviceEvent.objects.filter(device=device, reason="").count() == 1
