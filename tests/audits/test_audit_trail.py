"""Every write through the API leaves an audit entry saying who (user, organisation, IP) did
what (object, before, after); sensitive personal data appears in the trail only masked.
(伪造、篡改 records are themselves punished: the trail must show who entered what, when.)"""

from __future__ import annotations

import pytest

from audits.models import AuditEntry
from tests.conftest import error_of
from tests.factories import make_resident_id, make_uscc

pytestmark = pytest.mark.django_db

IP = "203.0.113.7"


def entries_for(obj) -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(object_type=obj._meta.label_lower, object_id=str(obj.pk)).order_by("seq"))


def all_columns_text() -> str:
    return "\n".join(str(row) for row in AuditEntry.objects.values())


def test_create_and_update_organisation_are_audited(county, client_for):
    admin = client_for(county.office_admin)
    response = admin.post("/api/organisations/", {
        "name": "衡阳县妇幼保健院", "kind": "hospital", "credit_code": make_uscc(990_001),
        "jurisdiction": county.jurisdiction.pk, "address": "衡阳县西渡镇1号",
    }, format="json", REMOTE_ADDR=IP)
    assert response.status_code == 201
    org_id = response.json()["id"]

    response = admin.patch(f"/api/organisations/{org_id}/", {"address": "衡阳县西渡镇2号"}, format="json",
                           REMOTE_ADDR=IP)
    assert response.status_code == 200

    from backend.models import Organisation

    created, updated = entries_for(Organisation.objects.get(pk=org_id))
    for entry in (created, updated):
        assert entry.actor_id == county.office_admin.pk
        assert entry.actor_username == "admin"
        assert entry.organisation_id == county.authority.pk
        assert entry.subject_organisation_id == org_id
        assert entry.jurisdiction_code == "430421"
        assert entry.ip == IP
        assert (entry.object_type, entry.object_id) == ("backend.organisation", str(org_id))
    assert created.action == "create" and created.before is None
    assert created.after["name"] == "衡阳县妇幼保健院"
    assert created.after["credit_code"] == make_uscc(990_001)
    assert updated.action == "update"
    assert updated.before["address"] == "衡阳县西渡镇1号"
    assert updated.after["address"] == "衡阳县西渡镇2号"
    assert updated.seq == created.seq + 1
    assert updated.created_at >= created.created_at


def test_audit_entries_are_served_by_the_api(county, client_for):
    admin = client_for(county.office_admin)
    admin.patch(f"/api/organisations/{county.pharmacy.pk}/", {"contact_name": "刘强"}, format="json", REMOTE_ADDR=IP)
    response = client_for(county.inspector).get(
        "/api/audit-trail/", {"object_type": "backend.organisation", "object_id": county.pharmacy.pk},
    )
    assert response.status_code == 200
    (entry,) = response.json()["results"]
    assert entry["action"] == "update"
    assert entry["actor_username"] == "admin"
    assert entry["ip"] == IP
    assert entry["before"]["contact_name"] == "王芳"
    assert entry["after"]["contact_name"] == "刘强"
    # the pharmacy is nobody's own organisation here: members of other organisations see nothing
    assert client_for(county.physician).get(f"/api/audit-trail/{entry['id']}/").status_code == 404
    assert client_for(county.other.inspector).get(f"/api/audit-trail/{entry['id']}/").status_code == 404


def test_members_see_entries_about_and_by_their_organisation(county, client_for):
    pharmacist = client_for(county.pharmacist)
    response = pharmacist.post("/api/people/", {
        "name": "陈静", "resident_id": make_resident_id(990_002), "organisation": county.hospital.pk,
        "position": "nurse",
    }, format="json")
    assert response.status_code == 201
    admin = client_for(county.office_admin)
    admin.patch(f"/api/organisations/{county.wholesaler.pk}/", {"contact_name": "赵磊"}, format="json")

    def seen_by(user):
        return {(e["object_type"], e["object_id"]) for e in client_for(user).get("/api/audit-trail/").json()["results"]}

    person_key = ("backend.person", str(response.json()["id"]))
    wholesaler_key = ("backend.organisation", str(county.wholesaler.pk))
    assert person_key in seen_by(county.physician)
    assert wholesaler_key not in seen_by(county.physician)
    assert wholesaler_key in seen_by(county.clerk)
    assert person_key not in seen_by(county.clerk)
    assert {person_key, wholesaler_key} <= seen_by(county.inspector)
    assert not ({person_key, wholesaler_key} & seen_by(county.other.inspector))


def test_resident_id_never_in_clear_in_the_trail(county, client_for):
    resident_id = make_resident_id(990_003)
    new_id = make_resident_id(990_004)
    admin = client_for(county.office_admin)
    response = admin.post("/api/people/", {
        "name": "周伟", "resident_id": resident_id, "organisation": county.hospital.pk, "position": "sonographer",
    }, format="json")
    assert response.status_code == 201
    person_id = response.json()["id"]
    assert admin.patch(f"/api/people/{person_id}/", {"resident_id": new_id}, format="json").status_code == 200
    assert admin.get(f"/api/people/{person_id}/").json()["resident_id"] == new_id  # audited read

    trail = all_columns_text()
    assert resident_id not in trail and new_id not in trail
    api_trail = client_for(county.inspector).get("/api/audit-trail/", {"object_type": "backend.person",
                                                                        "object_id": person_id})
    assert resident_id not in api_trail.content.decode() and new_id not in api_trail.content.decode()

    from backend.models import Person

    created, updated, read = entries_for(Person.objects.get(pk=person_id))
    assert created.after["resident_id"]["masked"] == resident_id[:6] + "********" + resident_id[-4:]
    # the change is still visible: the masked forms carry different digests
    assert updated.before["resident_id"]["masked"] == created.after["resident_id"]["masked"]
    assert updated.after["resident_id"]["masked"] == new_id[:6] + "********" + new_id[-4:]
    assert updated.before["resident_id"]["hmac"] != updated.after["resident_id"]["hmac"]
    assert read.action == "sensitive_read" and read.actor_username == "admin"


def test_licence_create_and_scan_upload_are_audited(county, client_for):
    admin = client_for(county.office_admin)
    response = admin.post("/api/licences/", {
        "holder_organisation": county.hospital.pk, "kind": "termination_approval", "number": "衡县卫批〔2026〕1号",
        "issuing_authority": "衡阳县卫生健康局", "valid_from": "2026-01-01", "valid_until": "2028-12-31",
        "scope": ["termination_surgery"],
    }, format="json", REMOTE_ADDR=IP)
    assert response.status_code == 201
    from backend.models import Licence

    licence = Licence.objects.get(pk=response.json()["id"])
    (entry,) = entries_for(licence)
    assert entry.after["valid_until"] == "2028-12-31"
    assert entry.after["scope"] == ["termination_surgery"]
    assert entry.subject_organisation_id == county.hospital.pk


def test_refused_and_invalid_writes_leave_no_entry(county, client_for):
    before = AuditEntry.objects.count()
    refused = client_for(county.inspector).post("/api/organisations/", {
        "name": "x", "kind": "hospital", "credit_code": make_uscc(990_005), "jurisdiction": county.jurisdiction.pk,
    }, format="json")
    assert error_of(refused)["code"] == "office_admin_required"
    invalid = client_for(county.office_admin).post("/api/organisations/", {
        "name": "x", "kind": "hospital", "credit_code": county.hospital.credit_code,
        "jurisdiction": county.jurisdiction.pk,
    }, format="json")
    assert invalid.status_code == 400
    assert AuditEntry.objects.count() == before


def test_the_audit_trail_is_read_only_through_the_api(county, client_for):
    client_for(county.office_admin).patch(f"/api/organisations/{county.clinic.pk}/", {"address": "新址"},
                                          format="json")
    entry = AuditEntry.objects.latest("seq")
    admin = client_for(county.office_admin)
    for method in ("post", "put", "patch", "delete"):
        url = "/api/audit-trail/" if method == "post" else f"/api/audit-trail/{entry.pk}/"
        response = getattr(admin, method)(url, {"actor_username": "mallory"}, format="json")
        assert response.status_code == 405, method
    entry.refresh_from_db()
    assert entry.actor_username == "admin"
