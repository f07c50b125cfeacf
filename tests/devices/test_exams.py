"""The exam register (孕妇超声波诊断检查登记表): refusals, dual sign-off, masking, audited reads."""

import datetime as dt

import pytest
from django.utils import timezone

from audits.models import AuditEntry
from inventory.devices import errors, services
from inventory.devices.models import DeviceExam
from tests.conftest import error_of
from tests.devices.factories import file_device, operator
from tests.factories import make_resident_id

pytestmark = pytest.mark.django_db

PATIENT_ID = make_resident_id(4_321_007)


def exam(device, op, *, actor=None, hours_ago=1, **fields):
    data = {
        "performed_at": timezone.now() - dt.timedelta(hours=hours_ago),
        "patient_name": "刘美华", "patient_resident_id": PATIENT_ID, "gestational_weeks": 22,
        "indication": "孕中期常规产检", "result_summary": "单胎，胎心胎动可见，羊水适量",
        "operator": op, **fields,
    }
    return services.exam_record(actor=actor, device=device, **data)


@pytest.fixture
def setup(county):
    sono = operator(county.hospital)
    device = file_device(county.hospital, operators=[sono], at=timezone.now() - dt.timedelta(days=10))
    return county, device, sono


def test_exam_recorded_and_audited_with_patient_masked(setup):
    county, device, sono = setup
    record = exam(device, sono, actor=county.physician)
    assert record.holder == county.hospital and record.second_operator is None
    assert not hasattr(record, "fetal_sex") and "sex" not in {f.name for f in DeviceExam._meta.fields}
    entry = AuditEntry.objects.get(object_type="devices.deviceexam", object_id=str(record.pk))
    assert entry.after["patient_resident_id"]["masked"] == PATIENT_ID[:6] + "********" + PATIENT_ID[-4:]
    assert "刘美华" not in str(entry.after)


def test_sealed_or_scrapped_device_refused(setup):
    county, device, sono = setup
    services.device_seal(actor=county.inspector, device=device, reference="案-1")
    with pytest.raises(errors.DeviceSealed):
        exam(device, sono)
    services.device_unseal(actor=county.inspector, device=device, reference="案-1")
    # An exam dated while it was sealed is refused too; after unsealing it is fine.
    with pytest.raises(errors.DeviceSealed):
        exam(device, sono, hours_ago=0, performed_at=device.events.get(kind="sealed").occurred_at)
    exam(device, sono, hours_ago=0)
    services.device_scrap(actor=county.physician, device=device, witness="院办主任")
    with pytest.raises(errors.DeviceScrapped):
        exam(device, sono)


def test_operator_not_licensed_that_day(county):
    today = timezone.localdate()
    sono = operator(county.hospital, valid_until=today - dt.timedelta(days=2))
    device = file_device(county.hospital, operators=[sono], at=timezone.now() - dt.timedelta(days=20))
    with pytest.raises(errors.ExamOperatorNotLicensed) as info:
        exam(device, sono)
    assert info.value.code == "exam_operator_not_licensed"
    assert [c["code"] for c in info.value.details["clauses"]] == ["maternal_infant_expired"]
    # Before the certificate lapsed the same operator was fine.
    assert exam(device, sono, hours_ago=24 * 5).operator == sono


def test_operator_not_registered_on_device(setup):
    county, device, sono = setup
    colleague = operator(county.hospital)
    with pytest.raises(errors.ExamOperatorNotRegistered) as info:
        exam(device, colleague)
    assert info.value.code == "exam_operator_not_registered"
    services.device_operator_add(actor=county.physician, device=device, person=colleague)
    assert exam(device, colleague, hours_ago=0).operator == colleague
    # Registered now, but not at the time of an earlier exam.
    with pytest.raises(errors.ExamOperatorNotRegistered):
        exam(device, colleague, hours_ago=5)


def test_dual_signoff_when_the_jurisdiction_requires_it(setup):
    county, device, sono = setup
    county.city.dual_signoff_required = True  # set on the city, inherited by the county
    county.city.save()
    with pytest.raises(errors.ExamSecondOperatorRequired) as info:
        exam(device, sono)
    assert info.value.code == "exam_second_operator_required"
    with pytest.raises(errors.ExamSecondOperatorRequired) as info:
        exam(device, sono, second_operator=sono)
    assert info.value.code == "exam_second_operator_same"
    second = operator(county.hospital)
    with pytest.raises(errors.ExamOperatorNotRegistered):
        exam(device, sono, second_operator=second)
    services.device_operator_add(actor=None, device=device, person=second)
    assert exam(device, sono, second_operator=second, hours_ago=0).second_operator == second
    county.jurisdiction.dual_signoff_required = False  # the county opts out
    county.jurisdiction.save()
    assert exam(device, sono, hours_ago=0).second_operator is None


@pytest.mark.parametrize("summary", ["胎儿性别：男", "男胎，发育正常", "fetal sex female"])
def test_fetal_sex_has_no_place(setup, summary):
    county, device, sono = setup
    with pytest.raises(errors.ExamMentionsSex) as info:
        exam(device, sono, result_summary=summary)
    assert info.value.code == "exam_mentions_fetal_sex"


def test_input_checks(setup, county):
    _, device, sono = setup
    with pytest.raises(errors.ExamInvalid) as info:
        bad_check = PATIENT_ID[:-1] + ("1" if PATIENT_ID[-1] != "1" else "2")
        exam(device, sono, patient_resident_id=bad_check)
    assert info.value.code == "exam_invalid_resident_id"
    with pytest.raises(errors.ExamInvalid) as info:
        exam(device, sono, hours_ago=-2)
    assert info.value.code == "exam_in_future"
    with pytest.raises(errors.ExamInvalid) as info:
        exam(device, sono, hours_ago=24 * 30)
    assert info.value.code == "exam_before_filing"
    lab = operator(county.hospital, scope=["chromosome_testing"])
    analyser = file_device(county.hospital, kind="chromosome_testing", operators=[lab])
    with pytest.raises(errors.ExamNotUltrasound):
        exam(analyser, lab, hours_ago=0)


def test_patient_fields_masked_in_lists_full_in_detail_for_staff_and_inspectors(setup, client_for):
    county, device, sono = setup
    record = exam(device, sono)
    masked_id = PATIENT_ID[:6] + "********" + PATIENT_ID[-4:]
    for user in (county.physician, county.inspector, county.office_admin):
        row = client_for(user).get("/api/device-exams/").json()["results"][0]
        assert (row["patient_name"], row["patient_resident_id"], row["patient_masked"]) == ("刘**", masked_id, True)

    reads = AuditEntry.objects.filter(action="sensitive_read", object_type="devices.deviceexam")
    for user in (county.physician, county.inspector):
        detail = client_for(user).get(f"/api/device-exams/{record.pk}/").json()
        assert (detail["patient_name"], detail["patient_resident_id"]) == ("刘美华", PATIENT_ID)
        assert reads.filter(actor_username=user.username).count() == 1
    office = client_for(county.office_admin).get(f"/api/device-exams/{record.pk}/").json()
    assert (office["patient_resident_id"], office["patient_masked"]) == (masked_id, True)
    assert not reads.filter(actor_username=county.office_admin.username).exists()
    assert client_for(county.other.inspector).get(f"/api/device-exams/{record.pk}/").status_code == 404


def test_exam_api(setup, client_for):
    county, device, sono = setup
    body = {"device": device.pk, "patient_name": "陈小红", "patient_resident_id": PATIENT_ID,
            "gestational_weeks": 30, "indication": "胎位检查", "operator": sono.pk, "result_summary": "头位"}
    created = client_for(county.physician).post("/api/device-exams/", body)
    assert created.status_code == 201, created.json()
    assert created.json()["patient_name"] == "陈小红"
    refused = client_for(county.inspector).post("/api/device-exams/", body)
    assert refused.status_code == 403 and error_of(refused)["code"] == "exam_holder_staff_required"
    invisible = client_for(county.other.office_admin).post("/api/device-exams/", body)
    assert invisible.status_code == 400  # the device is not even visible there
    services.device_seal(actor=county.inspector, device=device, reference="案-2")
    sealed = client_for(county.physician).post("/api/device-exams/", body)
    assert sealed.status_code == 409 and error_of(sealed)["code"] == "device_sealed"
    assert client_for(county.physician).delete(f"/api/device-exams/{created.json()['id']}/").status_code == 405


@pytest.mark.django_db(transaction=True)
def test_exam_register_refuses_update_and_delete_on_postgresql(county):
    from django.db import connection, transaction
    from django.db.utils import DatabaseError

    if connection.vendor != "postgresql":
        pytest.skip("the append-only trigger exists on PostgreSQL only (SQLite relies on the audit hash chain)")
    sono = operator(county.hospital)
    device = file_device(county.hospital, operators=[sono], at=timezone.now() - dt.timedelta(days=3))
    record = exam(device, sono)
    for sql in ("UPDATE devices_deviceexam SET result_summary = 'x' WHERE id = %s",
                "DELETE FROM devices_deviceexam WHERE id = %s"):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cur:
            cur.execute(sql, [record.pk])
    assert DeviceExam.objects.get(pk=record.pk).result_summary == "单胎，胎心胎动可见，羊水适量"


def test_exam_refusals_are_kept_for_inspectors_without_the_patient(setup, client_for):
    county, device, sono = setup
    stranger = operator(county.hospital)
    with pytest.raises(errors.ExamOperatorNotRegistered):
        exam(device, stranger, actor=county.physician)
    services.device_seal(actor=county.inspector, device=device, reference="案-3")
    with pytest.raises(errors.DeviceSealed):
        exam(device, sono, actor=county.physician)
    found = client_for(county.inspector).get("/api/device-refusals/", {"act": "exam", "device": device.pk}).json()
    assert [(r["code"], r["actor"]) for r in found["results"]] == [
        ("device_sealed", "physician"), ("exam_operator_not_registered", "physician")]
    assert found["results"][1]["details"]["operator"] == stranger.pk
    assert PATIENT_ID not in str(found) and "刘美华" not in str(found)
    assert not DeviceExam.objects.exists()
