"""Registry endpoints beyond the permission matrix: licence scans by an organisation's own
staff, resident-ID masking and audited reads, writes outside the jurisdiction, filters."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.core.files.storage import default_storage
from django.utils import timezone
from PIL import Image

from audits.models import AuditEntry
from backend.models import Licence, Organisation
from tests.conftest import error_of
from tests.factories import LicenceFactory, PersonFactory, PersonLicenceFactory, make_uscc

pytestmark = pytest.mark.django_db


def png_upload(name="scan.png"):
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 30, 30)).save(buffer, format="PNG")
    buffer.seek(0)
    buffer.name = name
    return buffer


# --- licence scans: staff may upload, not change validity -------------------------------


@pytest.mark.parametrize("role", ["pharmacist", "physician"])
def test_staff_upload_a_scan_of_their_own_licence(county, client_for, role):
    licence = county.hospital.licences.get(kind="termination_approval")
    response = client_for(county.users()[role]).patch(
        f"/api/licences/{licence.pk}/", {"scan": png_upload()}, format="multipart",
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["scan"]
    assert body["valid_until"] == licence.valid_until.isoformat()
    licence.refresh_from_db()
    assert licence.scan and default_storage.exists(licence.scan)
    assert body["scan"] == default_storage.url(licence.scan)
    entry = AuditEntry.objects.get(object_type="backend.licence", object_id=str(licence.pk))
    assert entry.action == "update" and entry.actor_username == county.users()[role].username


def test_staff_upload_a_scan_of_a_colleagues_certificate(county, client_for):
    certificate = county.physician.person.licences.get()
    response = client_for(county.pharmacist).patch(
        f"/api/licences/{certificate.pk}/", {"scan": png_upload()}, format="multipart",
    )
    assert response.status_code == 200, response.content


@pytest.mark.parametrize("data", [
    {"valid_until": "2099-12-31"},
    {"valid_from": "2000-01-01"},
    {"kind": "medical_practice"},
], ids=["valid_until", "valid_from", "kind"])
def test_staff_may_not_change_validity(county, client_for, data):
    licence = county.hospital.licences.get(kind="termination_approval")
    original = (licence.valid_from, licence.valid_until, licence.kind)
    response = client_for(county.pharmacist).patch(
        f"/api/licences/{licence.pk}/", {"scan": png_upload(), **data}, format="multipart",
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.status_code == 403
    error = error_of(response)
    assert error["code"] == "licence_fields_locked"
    assert error["details"] == {"fields": sorted(data)}
    assert next(iter(data)) in error["message"]
    licence.refresh_from_db()
    assert (licence.valid_from, licence.valid_until, licence.kind) == original
    assert not licence.scan


def test_staff_may_not_upload_to_another_organisations_licence(county, client_for):
    licence = county.wholesaler.licences.get()
    response = client_for(county.pharmacist).patch(
        f"/api/licences/{licence.pk}/", {"scan": png_upload()}, format="multipart",
    )
    assert response.status_code == 404


def test_scan_must_be_an_image(county, client_for):
    licence = county.hospital.licences.get(kind="termination_approval")
    fake = io.BytesIO(b"%PDF-1.4 not an image")
    fake.name = "scan.png"
    response = client_for(county.pharmacist).patch(
        f"/api/licences/{licence.pk}/", {"scan": fake}, format="multipart",
    )
    assert response.status_code == 400
    assert "scan" in str(error_of(response))


def test_inspector_may_not_upload_scans(county, client_for):
    licence = county.hospital.licences.get(kind="termination_approval")
    response = client_for(county.inspector).patch(
        f"/api/licences/{licence.pk}/", {"scan": png_upload()}, format="multipart",
    )
    assert response.status_code == 403
    assert error_of(response)["code"] == "office_admin_required"


def test_admin_changes_validity(county, client_for):
    licence = county.hospital.licences.get(kind="termination_approval")
    response = client_for(county.office_admin).patch(
        f"/api/licences/{licence.pk}/", {"valid_until": "2031-12-31"}, format="json",
    )
    assert response.status_code == 200
    assert response.json()["valid_until"] == "2031-12-31"


# --- licence status and revocation ----------------------------------------------------


def test_licence_status_shown_to_users(county, client_for):
    expired = LicenceFactory(holder_organisation=county.hospital, kind="other", expired=True)
    revoked = LicenceFactory(holder_organisation=county.hospital, kind="other", revoked=True)
    future = LicenceFactory(holder_organisation=county.hospital, kind="other", not_yet_valid=True)
    client = client_for(county.pharmacist)
    statuses = {lic["id"]: lic["status"] for lic in client.get("/api/licences/").json()["results"]}
    assert statuses[expired.pk] == "expired"
    assert statuses[revoked.pk] == "revoked"
    assert statuses[future.pk] == "not_yet_valid"
    assert statuses[county.hospital.licences.get(kind="termination_approval").pk] == "valid"


def test_revoke_records_reason_and_refuses_twice(county, client_for):
    licence = county.hospital.licences.get(kind="termination_approval")
    admin = client_for(county.office_admin)
    today = timezone.localdate().isoformat()
    response = admin.post(f"/api/licences/{licence.pk}/revoke/", {"reason": "  非法鉴定胎儿性别  "}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["revoked_at"] == today
    assert response.json()["revoked_reason"] == "非法鉴定胎儿性别"
    assert response.json()["status"] == "revoked"
    entry = AuditEntry.objects.filter(object_type="backend.licence", object_id=str(licence.pk)).get()
    assert (entry.action, entry.transition) == ("transition", "revoke")
    assert entry.before["revoked_at"] is None and entry.after["revoked_at"] == today

    again = admin.post(f"/api/licences/{licence.pk}/revoke/", {"reason": "再次"}, format="json")
    assert again.status_code == 409
    assert error_of(again)["code"] == "licence_already_revoked"


@pytest.mark.parametrize("reason", ["", "   "])
def test_revoke_needs_a_reason(county, client_for, reason):
    licence = county.hospital.licences.get(kind="termination_approval")
    response = client_for(county.office_admin).post(f"/api/licences/{licence.pk}/revoke/", {"reason": reason},
                                                    format="json")
    assert response.status_code == 400
    assert "reason" in error_of(response)["details"]
    licence.refresh_from_db()
    assert licence.revoked_at is None


def test_licence_filters(county, client_for):
    hospital = county.hospital
    expiring = LicenceFactory(holder_organisation=hospital, kind="other",
                              valid_until=timezone.localdate() + dt.timedelta(days=20))
    expired = LicenceFactory(holder_organisation=hospital, kind="other", expired=True)
    client = client_for(county.inspector)

    def ids(**params):
        return {lic["id"] for lic in client.get("/api/licences/", params).json()["results"]}

    assert ids(expiring_within=30) == {expiring.pk}
    assert expired.pk not in ids(valid_on=timezone.localdate().isoformat())
    assert expired.pk in ids(valid_on=(timezone.localdate() - dt.timedelta(days=2)).isoformat())
    person_licences = {lic.pk for lic in Licence.objects.filter(holder_person__organisation=hospital)}
    assert ids(holder=hospital.pk) == {*hospital.licences.values_list("pk", flat=True), *person_licences}


# --- people: masked in lists, audited in detail ----------------------------------------


@pytest.mark.parametrize("role", ["office_admin", "inspector", "pharmacist"])
def test_people_list_masks_resident_id(county, client_for, role):
    person = county.pharmacist.person
    response = client_for(county.users()[role]).get("/api/people/")
    assert response.status_code == 200
    rows = {row["id"]: row for row in response.json()["results"]}
    assert all("resident_id" not in row for row in rows.values())
    assert rows[person.pk]["resident_id_masked"] == person.resident_id[:6] + "********" + person.resident_id[-4:]
    assert person.resident_id not in response.content.decode()


def test_person_detail_shows_resident_id_and_audits_the_read(county, client_for):
    person = county.pharmacist.person
    before = AuditEntry.objects.count()
    response = client_for(county.inspector).get(f"/api/people/{person.pk}/")
    assert response.status_code == 200
    assert response.json()["resident_id"] == person.resident_id
    assert AuditEntry.objects.count() == before + 1
    entry = AuditEntry.objects.latest("seq")
    assert entry.action == "sensitive_read"
    assert entry.transition == "resident_id"
    assert (entry.object_type, entry.object_id) == ("backend.person", str(person.pk))
    assert entry.actor_username == "inspector"
    assert entry.organisation_id == county.authority.pk
    assert entry.subject_organisation_id == county.hospital.pk
    assert person.resident_id not in str(AuditEntry.objects.filter(pk=entry.pk).values().get())


def test_hidden_person_detail_is_not_audited(county, client_for):
    other = PersonFactory(organisation=county.other.hospital)
    before = AuditEntry.objects.count()
    assert client_for(county.inspector).get(f"/api/people/{other.pk}/").status_code == 404
    assert AuditEntry.objects.count() == before


def test_people_filters(county, client_for):
    nurse = PersonFactory(organisation=county.hospital, position="nurse")
    client = client_for(county.office_admin)
    result = client.get("/api/people/", {"organisation": county.hospital.pk, "position": "nurse"}).json()
    assert [row["id"] for row in result["results"]] == [nurse.pk]


# --- writes outside the jurisdiction ---------------------------------------------------


def test_admin_may_not_move_an_organisation_out_of_the_jurisdiction(county, client_for):
    response = client_for(county.office_admin).patch(
        f"/api/organisations/{county.pharmacy.pk}/", {"jurisdiction": county.other.jurisdiction.pk}, format="json",
    )
    assert response.status_code == 403
    assert error_of(response)["code"] == "outside_jurisdiction"
    county.pharmacy.refresh_from_db()
    assert county.pharmacy.jurisdiction == county.jurisdiction.children.get()


def test_admin_may_not_move_a_person_out_of_the_jurisdiction(county, client_for):
    person = county.physician.person
    response = client_for(county.office_admin).patch(
        f"/api/people/{person.pk}/", {"organisation": county.other.hospital.pk}, format="json",
    )
    assert response.status_code == 403
    assert error_of(response)["code"] == "outside_jurisdiction"


def test_member_may_not_move_a_colleague_to_another_organisation(county, client_for):
    person = county.physician.person
    response = client_for(county.pharmacist).patch(
        f"/api/people/{person.pk}/", {"organisation": county.wholesaler.pk}, format="json",
    )
    assert response.status_code == 403
    assert error_of(response)["code"] == "own_organisation_only"
    person.refresh_from_db()
    assert person.organisation == county.hospital


def test_admin_may_not_give_an_outside_organisation_a_licence(county, client_for):
    response = client_for(county.office_admin).post("/api/licences/", {
        "holder_organisation": county.other.hospital.pk, "kind": "termination_approval", "number": "X-1",
        "issuing_authority": "长沙县卫生健康局", "valid_from": "2025-01-01",
    }, format="json", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 403
    error = error_of(response)
    assert error["code"] == "outside_jurisdiction"
    assert "长沙县" in error["message"]


def test_office_admin_may_not_add_a_top_level_division(county, client_for):
    response = client_for(county.office_admin).post(
        "/api/jurisdictions/", {"code": "440000", "name": "广东省", "level": "province"}, format="json",
    )
    assert response.status_code == 403
    assert error_of(response)["code"] == "outside_jurisdiction"


def test_city_admin_reaches_every_county_of_the_city(county, client_for):
    from tests.factories import JurisdictionFactory, OrganisationFactory, UserFactory

    city_office = OrganisationFactory(kind="authority", jurisdiction=county.city)
    city_admin = client_for(UserFactory(role="office_admin", organisation=city_office))
    hengnan = JurisdictionFactory(code="430422")
    response = city_admin.post("/api/organisations/", {
        "name": "衡南县人民医院", "kind": "hospital", "credit_code": make_uscc(888_001, "430422"),
        "jurisdiction": hengnan.pk,
    }, format="json")
    assert response.status_code == 201
    listed = {row["id"] for row in city_admin.get("/api/organisations/", {"page_size": 100}).json()["results"]}
    assert {county.hospital.pk, county.pharmacy.pk, response.json()["id"]} <= listed
    assert county.other.hospital.pk not in listed


def test_organisation_filter_by_jurisdiction_includes_townships(county, client_for):
    client = client_for(county.inspector)
    result = client.get("/api/organisations/", {"jurisdiction": "430421", "kind": "retail_pharmacy"}).json()
    assert [row["id"] for row in result["results"]] == [county.pharmacy.pk]
    township = client.get("/api/organisations/", {"jurisdiction": county.township.code}).json()
    assert {row["id"] for row in township["results"]} == {county.pharmacy.pk, county.clinic.pk}
    assert client.get("/api/organisations/", {"jurisdiction": "999999"}).json()["count"] == 0


def test_created_organisation_is_visible_to_the_office(county, client_for):
    admin = client_for(county.office_admin)
    response = admin.post("/api/organisations/", {
        "name": "衡阳县妇幼保健院", "kind": "family_planning", "credit_code": make_uscc(888_002),
        "jurisdiction": county.jurisdiction.pk,
    }, format="json")
    assert response.status_code == 201
    created = Organisation.objects.get(pk=response.json()["id"])
    assert created.kind == "family_planning"
    assert client_for(county.inspector).get(f"/api/organisations/{created.pk}/").status_code == 200
    assert client_for(county.other.inspector).get(f"/api/organisations/{created.pk}/").status_code == 404


def test_person_licence_visible_to_the_persons_organisation(county, client_for):
    person = PersonFactory(organisation=county.wholesaler)
    certificate = PersonLicenceFactory(holder_person=person, kind="pharmacist")
    assert client_for(county.clerk).get(f"/api/licences/{certificate.pk}/").status_code == 200
    assert client_for(county.pharmacist).get(f"/api/licences/{certificate.pk}/").status_code == 404


def test_revocation_date_defaults_to_today_in_china(county, client_for, monkeypatch):
    """17:00 UTC on 1 January is already 2 January in Asia/Shanghai: the revocation is dated
    by the governance office's calendar, not the server's clock zone."""
    import django.utils.timezone

    monkeypatch.setattr(django.utils.timezone, "now", lambda: dt.datetime(2031, 1, 1, 17, 0, tzinfo=dt.UTC))
    licence = county.hospital.licences.get(kind="termination_approval")
    response = client_for(county.office_admin).post(f"/api/licences/{licence.pk}/revoke/", {"reason": "吊销"},
                                                    format="json")
    assert response.status_code == 200, response.content
    assert response.json()["revoked_at"] == "2031-01-02"


def test_admin_may_not_recode_a_division_out_of_the_jurisdiction(county, client_for):
    admin = client_for(county.office_admin)
    response = admin.patch(f"/api/jurisdictions/{county.jurisdiction.pk}/", {"code": "430499"}, format="json")
    assert response.status_code == 403
    assert error_of(response)["code"] == "outside_jurisdiction"
    county.jurisdiction.refresh_from_db()
    assert county.jurisdiction.code == "430421"
    # within the jurisdiction a township may be recoded
    response = admin.patch(f"/api/jurisdictions/{county.township.pk}/", {"code": "430421009"}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["code"] == "430421009"
