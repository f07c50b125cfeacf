"""Filing rules: who may hold a device, who may operate it, duplicates, the 7-day deadline."""

import datetime as dt

import pytest
from django.utils import timezone

from backend.models import Licence
from inventory.devices import errors
from inventory.devices.models import Device, DeviceEvent, DeviceRefusal
from tests.conftest import error_of
from tests.devices.factories import file_device, operator, upload
from tests.factories import LicenceFactory, OrganisationFactory, PersonFactory

pytestmark = pytest.mark.django_db


def clause_codes(exc) -> list[str]:
    return [c["code"] for c in exc.details["clauses"]]


def test_filing_on_time(county):
    device = file_device(county.hospital, actor=county.physician, purchased_ago=7)
    assert device.days_late == 0 and not device.late
    assert device.status == "active"
    assert device.asset_tag == f"DV-{device.pk:08d}"
    assert device.filed_by == county.physician
    assert device.images.count() == 1 and device.seal_image.startswith("uploads/")
    event = device.events.get()
    assert (event.kind, event.holder, event.days_late) == ("filed", county.hospital, 0)


@pytest.mark.parametrize("kind_attr, code", [
    ("clinic", "individual_clinic"),
    ("pharmacy", "retail_pharmacy"),
    ("wholesaler", "wholesaler"),
])
def test_holder_refused_with_clause(county, kind_attr, code):
    holder = getattr(county, kind_attr)
    with pytest.raises(errors.HolderNotAllowed) as info:
        file_device(holder)
    assert info.value.code == "device_holder_not_allowed"
    assert clause_codes(info.value) == [code]
    assert not Device.objects.exists()
    refusal = DeviceRefusal.objects.get()
    assert refusal.code == "device_holder_not_allowed" and refusal.holder == holder
    assert refusal.details["clauses"][0]["code"] == code


def test_family_planning_needs_ultrasound_in_scope(county):
    # (with a medical practice licence it could hold one as a medical institution)
    fp = OrganisationFactory(kind="family_planning", jurisdiction=county.jurisdiction)
    LicenceFactory(holder_organisation=fp, kind=Licence.Kind.FAMILY_PLANNING_SERVICE, scope=["termination_surgery"])
    with pytest.raises(errors.HolderNotAllowed) as info:
        file_device(fp)
    assert clause_codes(info.value) == ["family_planning_service_scope_missing"]


def test_holder_with_expired_practice_licence_refused(county):
    hospital = OrganisationFactory(kind="hospital", jurisdiction=county.jurisdiction)
    LicenceFactory(holder_organisation=hospital, kind=Licence.Kind.MEDICAL_PRACTICE, expired=True)
    with pytest.raises(errors.HolderNotAllowed) as info:
        file_device(hospital)
    assert clause_codes(info.value) == ["medical_practice_expired"]


def test_operator_without_certificate_refused(county):
    nobody = PersonFactory(organisation=county.hospital, position="sonographer")
    with pytest.raises(errors.OperatorNotLicensed) as info:
        file_device(county.hospital, operators=[nobody])
    assert info.value.code == "device_operator_not_licensed"
    assert clause_codes(info.value) == ["maternal_infant_missing"]
    assert info.value.details["people"][0]["person"] == nobody.pk


def test_operator_with_expired_or_out_of_scope_certificate_refused(county):
    expired = operator(county.hospital, valid_until=timezone.localdate() - dt.timedelta(days=1))
    with pytest.raises(errors.OperatorNotLicensed) as info:
        file_device(county.hospital, operators=[expired])
    assert clause_codes(info.value) == ["maternal_infant_expired"]
    lab_only = operator(county.hospital, scope=["chromosome_testing"])
    with pytest.raises(errors.OperatorNotLicensed) as info:
        file_device(county.hospital, operators=[lab_only])
    assert clause_codes(info.value) == ["maternal_infant_scope_missing"]
    # ...but that certificate does cover a chromosome-testing device
    assert file_device(county.hospital, kind="chromosome_testing", operators=[lab_only]).kind == "chromosome_testing"


def test_every_operator_checked(county):
    good, bad = operator(county.hospital), PersonFactory(organisation=county.hospital)
    with pytest.raises(errors.OperatorNotLicensed) as info:
        file_device(county.hospital, operators=[good, bad], custodian=good)
    assert [p["person"] for p in info.value.details["people"]] == [bad.pk]


def test_custodian_must_be_licensed_and_people_must_work_at_holder(county):
    keeper = PersonFactory(organisation=county.hospital)
    with pytest.raises(errors.CustodianNotLicensed):
        file_device(county.hospital, custodian=keeper)
    stranger = operator(county.other.hospital)
    with pytest.raises(errors.PersonNotAtHolder):
        file_device(county.hospital, operators=[stranger])


def test_at_least_one_operator_photo_and_seal(county):
    with pytest.raises(errors.OperatorsRequired):
        file_device(county.hospital, operators=[], custodian=operator(county.hospital))
    with pytest.raises(errors.PhotoRequired):
        file_device(county.hospital, photos=[])
    with pytest.raises(errors.SealImageRequired):
        file_device(county.hospital, seal_image=None)


def test_dates_checked(county):
    with pytest.raises(errors.BadDates) as info:
        file_device(county.hospital, purchased_ago=-1)
    assert info.value.code == "device_purchase_in_future"


def test_duplicate_filing_refused_recorded_and_searchable(county, client_for):
    first = file_device(county.hospital, brand="Mindray", model="DC-8", serial="AB 1234-56")
    other = OrganisationFactory(kind="hospital", jurisdiction=county.township, licensed=True)
    with pytest.raises(errors.DuplicateFiling) as info:
        file_device(other, brand="MINDRAY", model="dc 8", serial="ab1234/56")
    assert info.value.code == "device_duplicate_filing" and info.value.status_code == 409
    assert Device.objects.count() == 1
    refusal = DeviceRefusal.objects.get(code="device_duplicate_filing")
    assert (refusal.device, refusal.holder, refusal.serial_number) == (first, other, "ab1234/56")

    found = client_for(county.inspector).get("/api/device-refusals/",
                                             {"code": "device_duplicate_filing", "serial": "1234"}).json()
    assert [r["id"] for r in found["results"]] == [refusal.pk]
    assert found["results"][0]["device"] == first.pk
    # Another county's inspector does not see it.
    assert client_for(county.other.inspector).get("/api/device-refusals/").json()["count"] == 0


def test_late_filing_accepted_and_listed(county, client_for):
    late = file_device(county.hospital, purchased_ago=20)
    on_time = file_device(county.hospital, purchased_ago=7)
    assert (late.days_late, late.late) == (13, True)
    assert on_time.days_late == 0
    office = client_for(county.office_admin)
    listed = office.get("/api/devices/late-filings/").json()
    assert [(e["device"], e["days_late"]) for e in listed["results"]] == [(late.pk, 13)]
    assert [d["id"] for d in office.get("/api/devices/", {"late": "true"}).json()["results"]] == [late.pk]
    assert [d["id"] for d in office.get("/api/devices/", {"late": "false"}).json()["results"]] == [on_time.pk]
    assert office.get(f"/api/devices/{late.pk}/").json()["filing_due_by"] == (
        late.purchased_on + dt.timedelta(days=7)).isoformat()
    assert client_for(county.other.office_admin).get("/api/devices/late-filings/").json()["count"] == 0


def test_filing_through_the_api(county, client_for):
    sono = operator(county.hospital)
    today = timezone.localdate()
    body = {
        "kind": "ultrasound", "brand": "Philips", "model": "EPIQ 7", "capabilities": ["colour_doppler", "3d"],
        "place_of_origin": "荷兰", "manufactured_on": "2024-01-10", "purchased_on": today.isoformat(),
        "serial_number": "US-77", "holder": county.hospital.pk, "main_use": "产前检查",
        "custodian": sono.pk, "operators": [sono.pk],
        "photos": [upload(name="a.png"), upload(name="b.png")], "seal_image": upload(name="seal.png"),
    }
    response = client_for(county.physician).post("/api/devices/", body, format="multipart")
    assert response.status_code == 201, response.json()
    data = response.json()
    assert data["asset_tag"].startswith("DV-") and data["late"] is False
    assert [o["id"] for o in data["operators"]] == [sono.pk]
    assert len(data["images"]) == 2 and data["capabilities"] == ["colour_doppler", "3d"]

    again = client_for(county.physician).post("/api/devices/", {**body, "photos": [upload()],
                                                                "seal_image": upload()}, format="multipart")
    assert again.status_code == 409 and error_of(again)["code"] == "device_duplicate_filing"

    clinic_user_body = {**body, "serial_number": "US-78", "holder": county.clinic.pk, "photos": [upload()],
                        "seal_image": upload()}
    refused = client_for(county.office_admin).post("/api/devices/", clinic_user_body, format="multipart")
    assert refused.status_code == 422
    err = error_of(refused)
    assert err["code"] == "device_holder_not_allowed"
    assert err["details"]["clauses"][0]["code"] == "individual_clinic"


def test_every_filing_is_on_the_audit_trail(county):
    from audits.models import AuditEntry

    device = file_device(county.hospital, actor=county.pharmacist)
    entry = AuditEntry.objects.get(object_type="devices.device", object_id=str(device.pk))
    assert (entry.action, entry.transition, entry.actor_username) == ("create", "filed", "pharmacist")
    assert entry.after["event"]["kind"] == "filed"
    assert DeviceEvent.objects.filter(device=device).count() == 1


@pytest.mark.parametrize("language, message", [
    ("en", "A device with this brand, model and factory serial number is already filed."),
    ("zh-hans", "相同品牌、型号和出厂编号的设备已经备案。"),
])
def test_refusal_messages_are_translated(county, client_for, language, message):
    file_device(county.hospital, serial="DUP-1")
    sono = operator(county.hospital)
    body = {"kind": "ultrasound", "brand": "GE", "model": "Voluson E8", "place_of_origin": "美国",
            "manufactured_on": "2025-01-01", "purchased_on": "2025-02-01", "serial_number": "DUP-1",
            "holder": county.hospital.pk, "main_use": "产检", "custodian": sono.pk, "operators": [sono.pk],
            "photos": [upload()], "seal_image": upload()}
    response = client_for(county.physician).post("/api/devices/", body, format="multipart",
                                                 HTTP_ACCEPT_LANGUAGE=language)
    error = error_of(response)
    assert (error["code"], error["message"]) == ("device_duplicate_filing", message)
