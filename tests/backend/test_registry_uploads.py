"""Operator photos (Person.photo) and licence scans (Licence.scan) go through the shared
upload pipeline (backend/uploads.py), from the API and from the Django admin: bad files are
refused with the error envelope and nothing is stored; good ones lose their GPS, are stored by
content hash and get a thumbnail."""

from __future__ import annotations

import hashlib
import importlib
import io
from pathlib import Path

import pytest
from django.apps import apps as django_apps
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.test import Client
from PIL import Image

from backend.models import Licence, Person
from tests.conftest import error_of
from tests.devices.factories import image_bytes, upload
from tests.devices.test_uploads import FAKE_PDF, png_claiming, truncated_jpeg
from tests.factories import PersonFactory, UserFactory, make_resident_id

pytestmark = pytest.mark.django_db

ELEVEN_MB = b"\xff\xd8\xff\xe0" + b"\x00" * (11 * 1024 * 1024)

BAD = [
    ("report.jpg", lambda: FAKE_PDF, "upload_type_not_allowed"),  # a PDF renamed .jpg
    ("truncated.jpg", truncated_jpeg, "upload_corrupt"),
    ("huge.png", lambda: png_claiming(30000, 30000), "upload_too_many_pixels"),
    ("big.jpg", lambda: ELEVEN_MB, "upload_too_large"),
]
IDS = [b[0] for b in BAD]


def stored_files() -> list[Path]:
    root = Path(settings.MEDIA_ROOT)
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def gps_jpeg() -> bytes:
    exif = Image.Exif()
    exif[0x010F] = "HUAWEI"
    exif[0x8825] = {1: "N", 2: (26.0, 53.0, 2.0), 3: "E", 4: (112.0, 29.0, 0.0)}
    return image_bytes("JPEG", size=(400, 300), exif=exif.tobytes())


def assert_stored_without_gps(path: str, thumbnail: str) -> None:
    stored = Path(settings.MEDIA_ROOT) / path
    data = stored.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    assert path == f"uploads/{digest[:2]}/{digest}.jpg"  # by content hash
    exif = Image.open(io.BytesIO(data)).getexif()
    assert 0x8825 not in exif and exif.get(0x010F) == "HUAWEI"  # GPS gone, the rest kept
    thumb = Image.open(Path(settings.MEDIA_ROOT) / thumbnail)
    assert thumbnail != path and max(thumb.size) <= 320


# --- licence scans through the API --------------------------------------------------------


@pytest.mark.parametrize("name, make, code", BAD, ids=IDS)
def test_bad_licence_scan_refused_and_nothing_stored(county, client_for, name, make, code):
    licence = county.hospital.licences.get(kind="termination_approval")
    response = client_for(county.pharmacist).patch(
        f"/api/licences/{licence.pk}/", {"scan": upload(make(), name=name, content_type="image/jpeg")},
        format="multipart",
    )
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == code and error["details"]["field"] == "scan"
    licence.refresh_from_db()
    assert licence.scan == "" and stored_files() == []


def test_good_licence_scan_stored_without_gps_by_hash_with_thumbnail(county, client_for):
    licence = county.hospital.licences.get(kind="termination_approval")
    response = client_for(county.pharmacist).patch(
        f"/api/licences/{licence.pk}/", {"scan": upload(gps_jpeg(), name="IMG_2024.JPG", content_type="image/jpeg")},
        format="multipart",
    )
    assert response.status_code == 200, response.content
    licence.refresh_from_db()
    assert_stored_without_gps(licence.scan, licence.scan_thumbnail)
    body = response.json()
    assert body["scan"] == default_storage.url(licence.scan)
    assert body["scan_thumbnail"] == default_storage.url(licence.scan_thumbnail)
    # the same picture again is the same stored file
    other = county.hospital.licences.exclude(pk=licence.pk).first()
    again = client_for(county.office_admin).patch(
        f"/api/licences/{other.pk}/", {"scan": upload(gps_jpeg(), name="copy.jpg", content_type="image/jpeg")},
        format="multipart",
    )
    assert again.status_code == 200
    other.refresh_from_db()
    assert other.scan == licence.scan
    assert len(stored_files()) == 2  # one scan, one thumbnail


def test_a_json_client_sends_the_scan_as_a_data_uri(county, client_for):
    import base64

    licence = county.hospital.licences.get(kind="termination_approval")
    uri = "data:image/jpeg;base64," + base64.b64encode(gps_jpeg()).decode()
    response = client_for(county.physician).patch(f"/api/licences/{licence.pk}/", {"scan": uri}, format="json")
    assert response.status_code == 200, response.content
    licence.refresh_from_db()
    assert_stored_without_gps(licence.scan, licence.scan_thumbnail)


def test_staff_still_may_not_change_validity_with_a_good_scan(county, client_for):
    licence = county.hospital.licences.get(kind="termination_approval")
    response = client_for(county.pharmacist).patch(
        f"/api/licences/{licence.pk}/",
        {"scan": upload(gps_jpeg(), content_type="image/jpeg"), "valid_until": "2099-12-31"}, format="multipart",
    )
    assert response.status_code == 403 and error_of(response)["code"] == "licence_fields_locked"
    licence.refresh_from_db()
    assert licence.scan == "" and str(licence.valid_until) != "2099-12-31" and stored_files() == []


# --- operator photos through the API ------------------------------------------------------


def _person_body(**extra):
    return {"name": "周超声", "resident_id": make_resident_id(4242), "position": "sonographer", **extra}


@pytest.mark.parametrize("name, make, code", BAD, ids=IDS)
def test_bad_operator_photo_refused_and_nothing_stored(county, client_for, name, make, code):
    response = client_for(county.physician).post(
        "/api/people/", _person_body(organisation=county.hospital.pk,
                                     photo=upload(make(), name=name, content_type="image/jpeg")),
        format="multipart",
    )
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == code and error["details"]["field"] == "photo"
    assert not Person.objects.filter(name="周超声").exists() and stored_files() == []


def test_good_operator_photo_stored_without_gps_by_hash_with_thumbnail(county, client_for):
    client = client_for(county.physician)
    response = client.post(
        "/api/people/", _person_body(organisation=county.hospital.pk,
                                     photo=upload(gps_jpeg(), name="me.jpg", content_type="image/jpeg")),
        format="multipart",
    )
    assert response.status_code == 201, response.content
    person = Person.objects.get(name="周超声")
    assert_stored_without_gps(person.photo, person.photo_thumbnail)
    assert response.json()["photo"] == default_storage.url(person.photo)
    listed = client.get("/api/people/", {"organisation": county.hospital.pk}).json()["results"]
    row = next(p for p in listed if p["id"] == person.pk)
    assert row["photo_thumbnail"] == default_storage.url(person.photo_thumbnail)


def test_photo_replaced_on_update(county, client_for):
    person = PersonFactory(organisation=county.hospital)
    response = client_for(county.pharmacist).patch(
        f"/api/people/{person.pk}/", {"photo": upload(image_bytes("PNG", size=(90, 60)), name="p.png")},
        format="multipart",
    )
    assert response.status_code == 200, response.content
    person.refresh_from_db()
    assert person.photo.startswith("uploads/") and person.photo.endswith(".png")
    assert default_storage.exists(person.photo) and default_storage.exists(person.photo_thumbnail)


# --- the Django admin -------------------------------------------------------------------


def _admin_client() -> Client:
    client = Client()
    client.force_login(UserFactory(role="", organisation=None, is_staff=True, is_superuser=True))
    return client


def _person_form(person: Person, **files) -> dict:
    return {"name": person.name, "resident_id": person.resident_id, "organisation": person.organisation_id,
            "position": person.position, "phone": person.phone, **files}


@pytest.mark.parametrize("name, make, code", BAD, ids=IDS)
def test_admin_refuses_a_bad_photo_and_stores_nothing(county, name, make, code):
    person = PersonFactory(organisation=county.hospital)
    response = _admin_client().post(
        f"/admin/backend/person/{person.pk}/change/",
        _person_form(person, photo_upload=upload(make(), name=name, content_type="image/jpeg")), secure=True,
    )
    assert response.status_code == 200  # the form again, with the error
    errors = response.context["adminform"].form.errors
    assert [e.code for e in errors.as_data()["photo_upload"]] == [code]
    person.refresh_from_db()
    assert person.photo == "" and stored_files() == []


def test_admin_photo_goes_through_the_pipeline(county):
    person = PersonFactory(organisation=county.hospital)
    client = _admin_client()
    response = client.post(f"/admin/backend/person/{person.pk}/change/",
                           _person_form(person, photo_upload=upload(gps_jpeg(), name="x.jpg",
                                                                    content_type="image/jpeg")), secure=True)
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else ""
    person.refresh_from_db()
    assert_stored_without_gps(person.photo, person.photo_thumbnail)
    page = client.get(f"/admin/backend/person/{person.pk}/change/", secure=True)
    assert default_storage.url(person.photo_thumbnail).encode() in page.content


def test_admin_scan_goes_through_the_pipeline(county):
    licence = county.hospital.licences.get(kind="termination_approval")
    client = _admin_client()
    form = {"holder_organisation": licence.holder_organisation_id, "holder_person": "", "kind": licence.kind,
            "number": licence.number, "issuing_authority": licence.issuing_authority,
            "valid_from": licence.valid_from.isoformat(),
            "valid_until": licence.valid_until.isoformat() if licence.valid_until else "",
            "scope": "[]", "scope_text": licence.scope_text, "revoked_at": "", "revoked_reason": "",
            "scan_upload": upload(FAKE_PDF, name="licence.jpg", content_type="image/jpeg")}
    refused = client.post(f"/admin/backend/licence/{licence.pk}/change/", form, secure=True)
    assert refused.status_code == 200 and "scan_upload" in refused.context["adminform"].form.errors
    assert stored_files() == []
    form["scan_upload"] = upload(gps_jpeg(), name="licence.jpg", content_type="image/jpeg")
    saved = client.post(f"/admin/backend/licence/{licence.pk}/change/", form, secure=True)
    assert saved.status_code == 302, saved.context["adminform"].form.errors if saved.context else ""
    licence.refresh_from_db()
    assert_stored_without_gps(licence.scan, licence.scan_thumbnail)


# --- existing files are moved onto the pipeline by the migration ---------------------------


def test_migration_runs_old_uploads_through_the_pipeline(county):
    old_photo = default_storage.save("people/IMG_0001.jpg", ContentFile(gps_jpeg()))
    person = PersonFactory(organisation=county.hospital)
    missing = PersonFactory(organisation=county.hospital)
    Person.objects.filter(pk=person.pk).update(photo=old_photo)
    Person.objects.filter(pk=missing.pk).update(photo="people/gone.jpg")
    licence = county.hospital.licences.get(kind="termination_approval")
    old_scan = default_storage.save("licences/scan.png", ContentFile(image_bytes("PNG")))
    Licence.objects.filter(pk=licence.pk).update(scan=old_scan)

    migration = importlib.import_module("backend.migrations.0003_registry_images_through_uploads")
    migration.through_the_pipeline(django_apps, None)
    migration.through_the_pipeline(django_apps, None)  # a second run changes nothing

    person.refresh_from_db()
    assert_stored_without_gps(person.photo, person.photo_thumbnail)
    licence.refresh_from_db()
    assert licence.scan.startswith("uploads/") and default_storage.exists(licence.scan_thumbnail)
    missing.refresh_from_db()
    assert (missing.photo, missing.photo_thumbnail) == ("people/gone.jpg", "")  # kept, not lost
    assert default_storage.exists(old_photo)  # the audit trail may name the old file
