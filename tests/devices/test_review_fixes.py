"""From a review of the device rules: the register of an exam is the holder's at the time of
the exam; transfers cannot rewrite who held the device; refused acts that are leads for
inspectors (a transfer or scrapping of a sealed device, an unlicensed operator, an exam on an
unfiled device, the fetal sex in the register) are kept where the device's inspectors look."""

import datetime as dt

import pytest
from django.utils import timezone

from inventory.devices import errors, services
from inventory.devices.models import Device, DeviceRefusal
from tests.devices.factories import file_device, operator
from tests.factories import OrganisationFactory, PersonFactory, UserFactory, make_resident_id

pytestmark = pytest.mark.django_db
PID = make_resident_id(4_321_007)


def exam(device, op, *, actor, performed_at, **kw):
    fields = {"patient_name": "刘美华", "patient_resident_id": PID, "gestational_weeks": 22,
              "indication": "孕中期常规产检", "result_summary": "单胎", **kw}
    return services.exam_record(actor=actor, device=device, performed_at=performed_at, operator=op, **fields)


def centre_with_operator(county):
    centre = OrganisationFactory(kind="township_health_centre", jurisdiction=county.township, licensed=True)
    return centre, operator(centre)


def transferred(county, now, *, filed_days_ago: int, handed_over_days_ago: int):
    """A device filed at the hospital (operator sono_a), handed to a centre (operator op_b,
    physician staff_b) and the transfer recorded now: (device, sono_a, centre, op_b, staff_b)."""
    sono_a = operator(county.hospital)
    device = file_device(county.hospital, operators=[sono_a], at=now - dt.timedelta(days=filed_days_ago))
    centre, op_b = centre_with_operator(county)
    staff_b = UserFactory(role="physician", organisation=centre)
    services.device_transfer(actor=county.physician, device=device, to_holder=centre, custodian=op_b,
                             operators=[op_b],
                             transferred_on=timezone.localdate(now - dt.timedelta(days=handed_over_days_ago)))
    return device, sono_a, centre, op_b, staff_b


def test_an_exam_before_a_transfer_stays_in_the_old_holders_register(county):
    now = timezone.now()
    device, sono_a, centre, op_b, staff_b = transferred(county, now, filed_days_ago=10, handed_over_days_ago=1)
    performed = now - dt.timedelta(days=3)
    with pytest.raises(errors.DeviceForbidden):  # not the new holder's register
        exam(device, sono_a, actor=staff_b, performed_at=performed)
    record = exam(device, sono_a, actor=county.physician, performed_at=performed)
    assert record.holder == county.hospital
    # After the transfer was recorded, the device's exams are the new holder's.
    assert exam(device, op_b, actor=staff_b, performed_at=timezone.now()).holder == centre


def test_a_transfer_cannot_be_dated_before_the_current_holder_took_the_device(county):
    device = file_device(county.hospital, purchased_ago=60)
    b, op_b = centre_with_operator(county)
    c = OrganisationFactory(kind="hospital", jurisdiction=county.township, licensed=True)
    op_c = operator(c)
    today = timezone.localdate()
    services.device_transfer(actor=None, device=device, to_holder=b, custodian=op_b, operators=[op_b],
                             transferred_on=today - dt.timedelta(days=10))
    with pytest.raises(errors.BadDates) as info:
        services.device_transfer(actor=None, device=device, to_holder=c, custodian=op_c, operators=[op_c],
                                 transferred_on=today - dt.timedelta(days=50))
    assert info.value.code == "device_transfer_before_current_holder"


def test_the_old_holders_staff_cannot_move_a_device_from_a_stale_read(county):
    device = file_device(county.hospital)
    stale = Device.objects.get(pk=device.pk)  # loaded before the first transfer committed
    b, op_b = centre_with_operator(county)
    c = OrganisationFactory(kind="hospital", jurisdiction=county.township, licensed=True)
    op_c = operator(c)
    services.device_transfer(actor=county.physician, device=device, to_holder=b, custodian=op_b,
                             operators=[op_b], transferred_on=timezone.localdate())
    with pytest.raises(errors.DeviceForbidden):
        services.device_transfer(actor=county.physician, device=stale, to_holder=c, custodian=op_c,
                                 operators=[op_c], transferred_on=timezone.localdate())
    assert Device.objects.get(pk=device.pk).holder == b


def test_a_refused_transfer_is_kept_where_the_devices_inspectors_look(county, client_for):
    device = file_device(county.hospital)
    clinic = OrganisationFactory(kind="individual_clinic", jurisdiction=county.other.jurisdiction, licensed=True)
    op = operator(clinic)
    with pytest.raises(errors.HolderNotAllowed):
        services.device_transfer(actor=county.physician, device=device, to_holder=clinic, custodian=op,
                                 operators=[op], transferred_on=timezone.localdate())
    refusal = DeviceRefusal.objects.get(device=device, act="transfer")
    assert refusal.holder == county.hospital and refusal.to_holder == clinic
    counts = [client_for(u).get("/api/device-refusals/", {"device": device.pk}).json()["count"]
              for u in (county.inspector, county.physician, county.other.inspector)]
    # The county the device was to go to sees the attempt (an individual clinic there tried
    # to take an ultrasound device), not the device itself.
    assert counts == [1, 1, 1]
    seen = client_for(county.other.inspector).get("/api/device-refusals/", {"to_holder": clinic.pk}).json()
    assert [(r["holder_name"], r["to_holder_name"], r["code"]) for r in seen["results"]] == [
        (county.hospital.name, clinic.name, "device_holder_not_allowed")]
    assert client_for(county.other.inspector).get(f"/api/devices/{device.pk}/").status_code == 404
    assert client_for(county.other.inspector).get("/api/device-refusals/", {"act": "filing"}).json()["count"] == 0


def test_moving_or_scrapping_a_sealed_device_is_kept(county):
    device = file_device(county.hospital)
    services.device_seal(actor=county.inspector, device=device, reference="案-1")
    centre, op = centre_with_operator(county)
    with pytest.raises(errors.DeviceSealed):
        services.device_transfer(actor=county.physician, device=device, to_holder=centre, custodian=op,
                                 operators=[op], transferred_on=timezone.localdate())
    with pytest.raises(errors.DeviceSealed):
        services.device_scrap(actor=county.physician, device=device, witness="张三")
    assert sorted(DeviceRefusal.objects.filter(device=device).values_list("act", "code")) == [
        ("scrap", "device_sealed"), ("transfer", "device_sealed")]


def test_an_unlicensed_operator_is_refused_and_kept(county):
    device = file_device(county.hospital)
    nobody = PersonFactory(organisation=county.hospital)
    with pytest.raises(errors.OperatorNotLicensed):
        services.device_operator_add(actor=county.physician, device=device, person=nobody)
    refusal = DeviceRefusal.objects.get(code="device_operator_not_licensed")
    assert (refusal.act, refusal.device, refusal.details["person"]) == ("operator", device, nobody.pk)


def test_the_fetal_sex_in_the_register_is_refused_and_kept_without_the_patient(county):
    sono = operator(county.hospital)
    device = file_device(county.hospital, operators=[sono], at=timezone.now() - dt.timedelta(days=5))
    with pytest.raises(errors.ExamMentionsSex):
        exam(device, sono, actor=county.physician, performed_at=timezone.now(), result_summary="胎儿性别：男")
    refusal = DeviceRefusal.objects.get(device=device, act="exam")
    assert refusal.code == "exam_mentions_fetal_sex"
    assert "刘美华" not in str(refusal.details) and PID not in str(refusal.details)


def test_an_exam_before_the_filing_is_refused_and_kept(county):
    sono = operator(county.hospital)
    device = file_device(county.hospital, operators=[sono])
    with pytest.raises(errors.ExamInvalid) as info:
        exam(device, sono, actor=county.physician, performed_at=timezone.now() - dt.timedelta(days=1))
    assert info.value.code == "exam_before_filing"
    assert DeviceRefusal.objects.get(device=device, act="exam").code == "exam_before_filing"


def test_no_exam_once_the_holders_practice_licence_is_revoked(county):
    sono = operator(county.hospital)
    device = file_device(county.hospital, operators=[sono], at=timezone.now() - dt.timedelta(days=5))
    licence = county.hospital.licences.get(kind="medical_practice")
    licence.revoked_at, licence.revoked_reason = timezone.localdate() - dt.timedelta(days=2), "吊销"
    licence.save()
    with pytest.raises(errors.HolderNotAllowed):
        exam(device, sono, actor=county.physician, performed_at=timezone.now())
    # An exam from before the revocation can still be entered.
    assert exam(device, sono, actor=county.physician,
                performed_at=timezone.now() - dt.timedelta(days=3)).holder == county.hospital
    assert DeviceRefusal.objects.get(device=device, act="exam").code == "device_holder_not_allowed"


def test_an_operator_who_left_the_institution_cannot_sign(county):
    sono = operator(county.hospital)
    device = file_device(county.hospital, operators=[sono], at=timezone.now() - dt.timedelta(days=5))
    sono.organisation = county.other.hospital
    sono.save()
    with pytest.raises(errors.ExamOperatorNotRegistered) as info:
        exam(device, sono, actor=county.physician, performed_at=timezone.now())
    assert info.value.code == "exam_operator_not_at_holder"


def test_exams_around_a_transfer_recorded_late_go_through_the_api_to_the_right_register(county, client_for):
    """Handed over 10 days ago, the transfer recorded today: an exam done 5 days ago was done at
    the new holder (its staff, its operator); one done 12 days ago at the old holder, whose
    staff can still name the device although it no longer holds it."""
    now = timezone.now()
    device, sono_a, centre, op_b, staff_b = transferred(county, now, filed_days_ago=20, handed_over_days_ago=10)

    def body(op, days_ago):
        return {"device": device.pk, "performed_at": (now - dt.timedelta(days=days_ago)).isoformat(),
                "patient_name": "陈小红", "patient_resident_id": PID, "gestational_weeks": 30,
                "indication": "胎位检查", "operator": op.pk, "result_summary": "头位"}

    at_b = client_for(staff_b).post("/api/device-exams/", body(op_b, 5), format="json")
    assert at_b.status_code == 201, at_b.json()
    at_a = client_for(county.physician).post("/api/device-exams/", body(sono_a, 12), format="json")
    assert at_a.status_code == 201, at_a.json()
    assert client_for(staff_b).post("/api/device-exams/", body(sono_a, 12), format="json").status_code == 403
    assert client_for(county.physician).post("/api/device-exams/", body(sono_a, 5), format="json").status_code == 403
    from inventory.devices.models import DeviceExam

    assert sorted((e.holder_id, e.operator_id) for e in DeviceExam.objects.all()) == sorted(
        [(centre.pk, op_b.pk), (county.hospital.pk, sono_a.pk)])
    # The old holder's refused attempt is kept in the old holder's records.
    assert client_for(county.physician).post("/api/device-exams/", body(sono_a, 12) | {
        "result_summary": "胎儿性别：男"}, format="json").status_code == 400
    assert DeviceRefusal.objects.get(code="exam_mentions_fetal_sex").holder == county.hospital
