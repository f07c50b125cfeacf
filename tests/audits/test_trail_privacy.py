"""What the audit trail and the monthly forms may not tell: patient fields to readers the
dispense detail refuses them to; the authorities' enforcement work (alerts, sweep plans,
cases) and their full reads to the organisation concerned; an alert to another county."""

import io
import uuid

import openpyxl
import pytest
from django.utils import timezone

from audits.services import audit_record
from inventory.models import Dispense
from tests.factories import PersonFactory, make_resident_id
from tests.inventory.factories import BatchFactory, dispense_payload, stock_institution

pytestmark = pytest.mark.django_db

PATIENT = {"patient_age": 37, "children_count": 0, "pregnancy_status": "宫内孕16周双胎，胎位异常需引产", "birth_permit": "none",
           "gestational_weeks": 16, "midterm_certificate_number": "衡计证〔2026〕15号",
           "midterm_certificate_office": "衡阳县西渡镇计划生育办公室", "patient_address": "西渡镇梅花村三组十二号",
           "patient_resident_id": make_resident_id(4242)}


@pytest.fixture
def dispense_id(county, client_for):
    batch = BatchFactory()
    stock_institution(county, batch, 20)
    r = client_for(county.pharmacist).post("/api/dispenses/", dispense_payload(county, batch, **PATIENT),
                                           format="json")
    assert r.status_code == 201, r.json()
    return r.json()["id"]


def trail(client, **params):
    r = client.get("/api/audit-trail/", {"page_size": 200, **params})
    assert r.status_code == 200, r.json()
    return r.json()["results"]


def test_no_patient_field_in_clear_in_the_dispense_entry(county, client_for, dispense_id):
    for user in (county.office_admin, county.inspector, county.pharmacist):
        (entry,) = [e for e in trail(client_for(user), object_type="inventory.dispense", object_id=dispense_id)
                    if e["action"] == "create"]
        for name in (*Dispense.PATIENT_FIELDS, "midterm_certificate_office"):
            value = entry["after"][name]
            assert isinstance(value, dict) and set(value) == {"masked", "hmac"}, (user, name, value)
    # 0 children is masked like any other count (a falsy value is still a value); long free
    # text shows nothing of itself, a resident ID its region and last four as lists do.
    assert entry["after"]["children_count"]["masked"] == "*"
    assert entry["after"]["pregnancy_status"]["masked"] == "*" * len(PATIENT["pregnancy_status"])
    assert entry["after"]["patient_address"]["masked"] == "*" * len(PATIENT["patient_address"])
    assert entry["after"]["patient_resident_id"]["masked"] == PATIENT["patient_resident_id"][:6] + "********" + \
        PATIENT["patient_resident_id"][-4:]


def test_an_entry_written_with_a_patient_field_in_clear_is_served_masked(county, client_for, dispense_id):
    # An entry from before the field was on the masked list (or from a caller passing its own
    # `after`): the chain keeps it as written, the API masks it.
    dispense = Dispense.objects.get(pk=dispense_id)
    audit_record(action="update", instance=dispense, actor=county.pharmacist,
                 before={"pregnancy_status": "宫内孕15周"}, after={"pregnancy_status": "宫内孕16周双胎", "dose": "200mg"})
    (entry,) = [e for e in trail(client_for(county.office_admin), object_type="inventory.dispense",
                                 object_id=dispense_id) if e["action"] == "update"]
    assert entry["before"]["pregnancy_status"]["masked"] == "*" * len("宫内孕15周")
    assert entry["after"]["pregnancy_status"]["masked"] == "*" * len("宫内孕16周双胎")
    assert entry["after"]["dose"] == "200mg"  # not a patient field


def test_usage_register_masks_what_the_detail_does_not_show(county, client_for, dispense_id):
    month = timezone.localdate().strftime("%Y-%m")

    def rows(user):
        r = client_for(user).get("/api/forms/usage-register.xlsx", {"month": month, "organisation": county.hospital.pk})
        assert r.status_code == 200
        sheet = openpyxl.load_workbook(io.BytesIO(r.content)).active
        return [[c.value for c in row] for row in sheet.iter_rows()]

    def line(user):
        return next(row for row in rows(user) if row[0] == 1)

    detail = client_for(county.office_admin).get(f"/api/dispenses/{dispense_id}/").json()
    assert "pregnancy_status" not in detail and "patient_age" not in detail
    masked = line(county.office_admin)
    assert 37 not in masked and "37" not in masked
    assert not {PATIENT["pregnancy_status"], "未持证", "西渡镇梅花村三组十二号", 0}.intersection(masked)
    full = line(county.inspector)
    assert {37, PATIENT["pregnancy_status"], "西渡镇梅花村三组十二号", 0}.issubset(full)


@pytest.fixture
def alert(county):
    from audits.alerts import services

    return services.alert_raise(type="dispensing_spike", severity="high", subject=county.hospital,
                                occurrence="2026-10", summary="用量异常", figures={"ratio": 3})


def test_the_organisation_an_alert_is_about_does_not_read_it_in_the_trail(county, client_for, alert):
    pharmacist = client_for(county.pharmacist)
    assert pharmacist.get(f"/api/alerts/{alert.pk}/").status_code == 404
    assert trail(pharmacist, object_type="alerts.alert") == []
    assert [e["object_id"] for e in trail(client_for(county.office_admin), object_type="alerts.alert")] == [str(alert.pk)]


def test_an_alert_entry_is_scoped_like_the_alert(county, client_for):
    from audits.alerts import services

    # Raised by this county's reconciliation about a party registered in the other county.
    alert = services.alert_raise(type="cross_party_mismatch", severity="medium", subject=county.other.hospital,
                                 jurisdiction=county.jurisdiction.code, organisation=county.other.hospital,
                                 occurrence="2026-10", summary="对账不符")
    other = client_for(county.other.office_admin)
    assert other.get(f"/api/alerts/{alert.pk}/").status_code == 404
    assert trail(other, object_type="alerts.alert") == []
    (entry,) = trail(client_for(county.office_admin), object_type="alerts.alert")
    assert entry["object_id"] == str(alert.pk) and entry["jurisdiction_code"] == county.jurisdiction.code


def test_a_site_does_not_learn_of_sweeps_or_cases_from_the_trail_but_sees_its_findings(county, client_for):
    from audits.sweeps import services
    from tests.sweeps.helpers import open_visit

    visit = open_visit(county, county.hospital)
    finding = services.finding_record(actor=county.inspector, visit=visit, client_id=uuid.uuid4(), rule="other",
                                      severity="high", description="账外存放米非司酮")
    case = services.case_open(actor=county.inspector, finding=finding, summary="拟移送公安机关")
    services.case_follow_up(actor=county.inspector, case=case, status="transferred", note="已移送县公安局")
    office = {e["object_type"] for e in trail(client_for(county.office_admin))}
    assert {"sweeps.sweep", "sweeps.target", "sweeps.visit", "sweeps.case", "sweeps.finding"} <= office
    pharmacist = client_for(county.pharmacist)
    seen = {e["object_type"] for e in trail(pharmacist) if e["object_type"].startswith("sweeps.")}
    assert seen == {"sweeps.finding"}
    assert pharmacist.get("/api/findings/").json()["count"] == 1  # as the findings list shows it


def test_a_site_does_not_see_who_outside_it_read_its_patients(county, client_for, dispense_id):
    assert client_for(county.inspector).get(f"/api/dispenses/{dispense_id}/").status_code == 200
    assert client_for(county.pharmacist).get(f"/api/dispenses/{dispense_id}/").status_code == 200
    reads = [e for e in trail(client_for(county.pharmacist), action="sensitive_read")]
    assert [e["actor_id"] for e in reads] == [county.pharmacist.pk]
    reads = trail(client_for(county.office_admin), action="sensitive_read")
    assert {e["actor_id"] for e in reads} == {county.pharmacist.pk, county.inspector.pk}


def test_a_dispense_refusal_does_not_name_another_organisations_staff(county, client_for):
    batch = BatchFactory()
    stock_institution(county, batch, 5)
    stranger = PersonFactory(organisation=county.other.hospital, position="physician", name="孙某某")
    r = client_for(county.pharmacist).post("/api/dispenses/", dispense_payload(county, batch, physician=stranger.pk),
                                           format="json")
    assert r.status_code == 422
    body = r.json()["error"]
    assert body["code"] == "physician_not_at_institution"
    assert "孙某某" not in r.content.decode()
    assert body["details"] == {"physician": stranger.pk}
