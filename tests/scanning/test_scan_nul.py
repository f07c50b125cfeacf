"""A NUL byte in a scan (a misconfigured scanner, a crafted request): the codec refuses it
with its own code, the scan is still logged, and nothing answers 500. PostgreSQL stores no
NUL in text or jsonb, so this runs on both databases."""

import pytest

from scanning.models import ScanLog
from tests.conftest import error_of
from tests.scanning.scan_helpers import gs1_batch, gs1_text

pytestmark = pytest.mark.django_db

URL = "/api/scan/"


def scan(client, code, action="lookup", key=None):
    extra = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    return client.post(URL, {"code": code, "action": action}, format="json", **extra)


@pytest.mark.parametrize("where", ["inside_gs1", "inside_text"])
def test_nul_inside_a_scan_is_an_unreadable_code_and_logged(county, client_for, where):
    good = gs1_text(gs1_batch())
    code = good[:16] + "\x00" + good[16:] if where == "inside_gs1" else "QX-77\x0081"
    r = scan(client_for(county.pharmacist), code)
    assert r.status_code == 400
    assert error_of(r)["code"] == "nul_character"
    log = ScanLog.objects.get()
    assert (log.outcome, log.error_code, log.status_code) == ("invalid", "nul_character", 400)
    assert "\x00" not in log.raw and log.raw == code.replace("\x00", "\u2400")
    assert log.payload["code"] == "nul_character" and "\x00" not in log.payload["raw"]


def test_nul_scan_with_idempotency_key_replays(county, client_for):
    client = client_for(county.pharmacist)
    code = "QX-77\x0081"
    first = scan(client, code, key="nul-1")
    again = scan(client, code, key="nul-1")
    assert (first.status_code, again.status_code) == (400, 400)
    assert error_of(again)["code"] == "nul_character" and again.headers.get("Idempotent-Replayed") == "true"
    assert ScanLog.objects.count() == 1


def test_trailing_nul_from_a_scanner_is_stripped(county, client_for):
    batch = gs1_batch()
    r = scan(client_for(county.pharmacist), gs1_text(batch) + "\x00")
    assert r.status_code == 200, r.json()
    assert r.json()["entity"] == "batch" and r.json()["batch"]["id"] == batch.pk
    assert ScanLog.objects.get().raw.endswith("\u2400")


def test_nul_in_an_action_context_is_refused_not_500(county, client_for):
    r = client_for(county.pharmacist).post(URL, {"code": gs1_text(gs1_batch()), "action": "dispense",
                                                 "patient_name": "王\x00"}, format="json")
    assert r.status_code == 400
    assert ScanLog.objects.get().status_code == 400


@pytest.mark.parametrize("code", ["\ud800", "DV-\ud800", "]C1\ud800", "(10)\ud800", "\udfff" * 3])
@pytest.mark.parametrize("key", [None, "sur-1"])
def test_a_lone_surrogate_is_refused_and_logged_not_500(county, client_for, code, key):
    """JSON may carry "\\ud800", which no UTF-8 text can hold: a 400, and the log row keeps
    it written out (as for NUL, the database would refuse the character itself)."""
    body = __import__("json").dumps({"code": code})  # ensure_ascii: the escape travels as text
    extra = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    client = client_for(county.pharmacist)
    r = client.post(URL, body, content_type="application/json", **extra)
    assert r.status_code == 400
    log = ScanLog.objects.get()
    assert log.status_code == 400 and "\\ud" in log.raw
    if key:
        again = client.post(URL, body, content_type="application/json", **extra)
        assert again.status_code == 400 and again.headers.get("Idempotent-Replayed") == "true"
        assert ScanLog.objects.count() == 1
