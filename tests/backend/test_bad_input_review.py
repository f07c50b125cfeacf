"""Bad input from a review of the write paths: each gets a clear 4xx with a stable code and
leaves nothing half-written, on SQLite and PostgreSQL alike (NUL is what PostgreSQL refuses
in text, so those cases matter there; they must be 4xx everywhere)."""

import datetime as dt

import pytest
from django.test.client import encode_multipart
from django.utils import timezone

from audits.models import AuditEntry
from backend.models import Licence
from inventory.devices.models import Device, DeviceRefusal, identity_key
from inventory.models import Batch, Intake
from scanning.models import ScanLog
from tests.conftest import error_of
from tests.devices.factories import image_bytes, operator, upload
from tests.inventory.factories import BatchFactory, DrugProductFactory, dispense_payload

pytestmark = pytest.mark.django_db


def _new_lot(product, **over):
    return {"product": product.pk, "lot_number": "NEWLOT-1", "expiry_printed": "281231", "quantity": 10,
            "invoice_number": "INV-9", "supplier_name": "测试制药有限公司", **over}


@pytest.mark.parametrize(("who", "over", "status", "code"), [
    ("clerk", {"received_at": "future"}, 400, "occurred_in_future"),
    ("clerk", {"pack_codes": "twice"}, 409, "pack_code_taken"),
    ("pharmacist", {}, 403, None),
])
def test_a_refused_intake_of_a_new_lot_registers_no_batch(county, client_for, who, over, status, code):
    product = DrugProductFactory()
    if over.get("received_at") == "future":
        over = {"received_at": (timezone.now() + dt.timedelta(days=2)).isoformat()}
    elif over.get("pack_codes") == "twice":
        over = {"pack_codes": [product.traceability_product_code + "1234567890123"] * 2}
    r = client_for(getattr(county, who)).post("/api/intakes/", _new_lot(product, **over), format="json")
    assert r.status_code == status, r.content
    if code:
        assert error_of(r)["code"] == code
    assert not Intake.objects.exists()
    assert not Batch.objects.filter(lot_number="NEWLOT-1").exists()
    assert not AuditEntry.objects.filter(object_type="inventory.batch").exists()


@pytest.mark.parametrize("month", ["9999-12", "0001-01", "0000-05"])
@pytest.mark.parametrize(("method", "url"), [
    ("get", "/api/reconciliations/"), ("get", "/api/reconciliations/export.xlsx"), ("get", "/api/filings/status/"),
    ("get", "/api/closings/preview/"), ("get", "/api/forms/drug-summary.pdf"), ("post", "/api/closings/sign/"),
])
def test_a_month_at_the_ends_of_the_calendar_is_refused(county, client_for, month, method, url):
    user = county.inspector if url.startswith(("/api/reconciliations", "/api/filings")) else county.pharmacist
    client = client_for(user)
    r = client.get(url, {"month": month}) if method == "get" else client.post(url, {"month": month}, format="json")
    assert r.status_code == 400, r.content
    assert error_of(r)["code"] == "invalid_month"


@pytest.mark.parametrize("body", [[1, 2], "scan", 5])
def test_a_licence_update_that_is_not_an_object_is_a_400(county, client_for, body):
    licence = Licence.objects.filter(holder_organisation=county.hospital).first()
    r = client_for(county.pharmacist).patch(f"/api/licences/{licence.pk}/", body, format="json")
    assert r.status_code == 400, r.content


@pytest.mark.parametrize(("url", "field"), [("/api/dispenses/", "birth_permit"), ("/api/scan/", "action")])
def test_a_refusal_that_echoes_a_lone_surrogate_still_renders(county, client_for, url, field):
    body = dispense_payload(county, BatchFactory()) if url == "/api/dispenses/" else {"code": "x"}
    body[field] = "\ud800"
    import json

    r = client_for(county.pharmacist).post(url, json.dumps(body), content_type="application/json")
    assert r.status_code == 400, r.content
    assert b"\\\\ud800" in r.content  # written out in the JSON, not a lone surrogate escaped as one


def test_a_nul_in_the_jurisdiction_parameter_is_an_unknown_jurisdiction(county, client_for):
    r = client_for(county.inspector).get("/api/reconciliations/", {"month": "2026-01", "jurisdiction": "43\x0021"})
    assert r.status_code == 400 and error_of(r)["code"] == "invalid_filter"


def test_a_nul_in_a_dispensed_pack_code_is_an_unknown_pack(county, client_for):
    body = dispense_payload(county, BatchFactory(), pack_code="8600000\x001234567890123")
    r = client_for(county.pharmacist).post("/api/dispenses/", body, format="json")
    assert r.status_code == 400
    assert error_of(r)["details"]["pack_code"][0]["code"] == "does_not_exist"


@pytest.mark.parametrize("key", ["abc\x00def", "abc\ndef", "tab\there"])
def test_an_idempotency_key_with_a_control_character_is_refused(county, client_for, key):
    r = client_for(county.pharmacist).post("/api/dispenses/", {}, format="json", HTTP_IDEMPOTENCY_KEY=key)
    assert r.status_code == 400 and error_of(r)["code"] == "idempotency_key_invalid"


def test_a_multipart_retry_with_another_boundary_is_replayed(county, client_for):
    """Phone clients re-encode a form when they retry, with a new boundary: same request."""
    client = client_for(county.pharmacist)
    answers = [client.generic("POST", "/api/scan/", encode_multipart(boundary, {"code": "DV-00000042"}),
                              content_type=f"multipart/form-data; boundary={boundary}",
                              HTTP_IDEMPOTENCY_KEY="phone-retry-1")
               for boundary in ("boundary-one", "boundary-two")]
    assert [a.status_code for a in answers] == [200, 200]
    assert answers[1].headers.get("Idempotent-Replayed") == "true"
    assert ScanLog.objects.count() == 1
    # A different form under the same key is still refused.
    other = client.generic("POST", "/api/scan/", encode_multipart("b3", {"code": "DV-00000043"}),
                           content_type="multipart/form-data; boundary=b3", HTTP_IDEMPOTENCY_KEY="phone-retry-1")
    assert other.status_code == 422 and error_of(other)["code"] == "idempotency_key_reused"


def test_a_multipart_retry_with_another_photo_is_not_a_replay(county, client_for):
    client = client_for(county.inspector)
    first = client.post("/api/scan/", {"image": upload(image_bytes(colour=(10, 10, 10)), name="a.png")}, format="multipart",
                        HTTP_IDEMPOTENCY_KEY="photo-1")
    again = client.post("/api/scan/", {"image": upload(image_bytes(colour=(200, 200, 200)), name="a.png")}, format="multipart",
                        HTTP_IDEMPOTENCY_KEY="photo-1")
    assert first.status_code == 200, first.content
    assert again.status_code == 422 and error_of(again)["code"] == "idempotency_key_reused"


def test_a_nameplate_whose_letters_grow_when_upper_cased_fits_the_identity_column(county, client_for):
    ligature = "\ufb03"  # "ﬃ" is "FFI" upper-cased: 100 of them are 300 characters
    assert len(identity_key(ligature * 100, ligature * 100, ligature * 100)) <= 310
    assert identity_key(ligature * 100, ligature * 100, ligature * 100) != identity_key(
        ligature * 100, ligature * 100, ligature * 99 + "x")
    sono = operator(county.hospital)
    body = {"kind": "ultrasound", "brand": ligature * 100, "model": ligature * 100, "place_of_origin": "荷兰",
            "manufactured_on": "2024-01-10", "purchased_on": timezone.localdate().isoformat(),
            "serial_number": ligature * 100, "holder": county.hospital.pk, "main_use": "产前检查",
            "custodian": sono.pk, "operators": [sono.pk], "photos": [upload(name="a.png")],
            "seal_image": upload(name="seal.png")}
    r = client_for(county.physician).post("/api/devices/", body, format="multipart")
    assert r.status_code == 201, r.content
    assert Device.objects.count() == 1
    # The refusal record keeps the same bounded identity (a clinic may not hold a B超).
    clinic_sono = operator(county.clinic)
    refused = client_for(county.office_admin).post(
        "/api/devices/", {**body, "holder": county.clinic.pk, "custodian": clinic_sono.pk,
                          "operators": [clinic_sono.pk], "photos": [upload(name="b.png")],
                          "seal_image": upload(name="seal2.png")}, format="multipart")
    assert 400 <= refused.status_code < 500, refused.content
    assert DeviceRefusal.objects.count() == 1


def test_an_ordering_the_list_cannot_use_is_refused(county, client_for):
    client = client_for(county.pharmacist)
    r = client.get("/api/batches/", {"ordering": "-expiry_date,no_such_field"})
    assert r.status_code == 400
    err = error_of(r)
    assert err["code"] == "invalid_ordering" and err["details"]["invalid"] == ["no_such_field"]
    assert "expiry_date" in err["details"]["allowed"]
    assert client.get("/api/batches/", {"ordering": "-expiry_date,lot_number"}).status_code == 200
    assert client.get("/api/batches/", {"ordering": ""}).status_code == 200


def test_a_detail_ignores_ordering(county, client_for):
    batch = BatchFactory()
    assert client_for(county.inspector).get(f"/api/batches/{batch.pk}/", {"ordering": "bogus"}).status_code == 200
