"""POST /api/scan/ with a photo (multipart `image`): every code found for a lookup, exactly
one for an action, and the shared upload pipeline's refusals within a second."""

from __future__ import annotations

import hashlib
import io
import time
from pathlib import Path

import pytest
from PIL import Image

from inventory.models import Dispense
from scanning.models import ScanLog
from tests.conftest import error_of
from tests.devices.factories import file_device
from tests.inventory.factories import dispense_payload, stock_institution
from tests.scanning.scan_helpers import URL, gs1_batch, gs1_text, photo, png_of

pytestmark = pytest.mark.django_db


def post_photo(client, data: bytes, action: str = "lookup", **fields):
    return client.post(URL, {"image": photo(data), "action": action, **fields}, format="multipart")


def test_lookup_answers_for_every_code_in_the_photo(county, client_for):
    batch = gs1_batch()
    stock_institution(county, batch, 12)
    device = file_device(holder=county.hospital)
    r = post_photo(client_for(county.inspector), png_of(gs1_text(batch), device.asset_tag, gs1=(True, False)))
    assert r.status_code == 200, r.content
    body = r.json()
    assert body["source"] == "image" and len(body["image"]["sha256"]) == 64
    codes = {c["symbology"]: c for c in body["codes"]}
    assert set(codes) == {"gs1-128", "code128"}
    gs1 = codes["gs1-128"]
    assert gs1["text"] == gs1_text(batch) and gs1["decoder"] in ("pyzbar", "zxing-cpp")
    assert set(gs1["position"]) >= {"left", "top", "width", "height"}
    assert gs1["payload"]["kind"] == "gs1" and gs1["lookup"]["batch"]["id"] == batch.pk
    assert codes["code128"]["lookup"]["device"]["id"] == device.pk
    logs = ScanLog.objects.order_by("id")
    assert [log.pk for log in logs] == sorted(c["scan"] for c in body["codes"])
    assert {log.source for log in logs} == {"image"} and {log.image_sha256 for log in logs} == {body["image"]["sha256"]}
    assert {log.symbology for log in logs} == {"gs1-128", "code128"}


def test_a_scan_photo_is_read_not_kept(county, client_for, settings):
    """A scan photo is not evidence: it is checked and decoded, not re-encoded nor stored;
    the log keeps the SHA-256 of the bytes as uploaded."""
    data = png_of("DV-00000001")
    r = post_photo(client_for(county.inspector), data)
    assert r.status_code == 200 and [c["text"] for c in r.json()["codes"]] == ["DV-00000001"]
    assert r.json()["image"]["sha256"] == hashlib.sha256(data).hexdigest()
    assert ScanLog.objects.get().image_sha256 == hashlib.sha256(data).hexdigest()
    media = Path(settings.MEDIA_ROOT)
    assert not media.exists() or not [p for p in media.rglob("*") if p.is_file()]


def test_photo_without_a_code_is_logged(county, client_for):
    blank = io.BytesIO()
    Image.new("RGB", (200, 120), (240, 240, 240)).save(blank, format="PNG")
    r = post_photo(client_for(county.inspector), blank.getvalue())
    assert r.status_code == 200 and r.json()["codes"] == []
    log = ScanLog.objects.get()
    assert (log.source, log.raw, log.outcome) == ("image", "", "ok")


def test_an_action_needs_exactly_one_code(county, client_for):
    batch = gs1_batch()
    stock_institution(county, batch, 12)
    fields = {k: v for k, v in dispense_payload(county, batch).items() if k != "batch"}
    pharmacist = client_for(county.pharmacist)
    two = png_of(gs1_text(batch), gs1_text(batch).replace(batch.lot_number, "OTHER1"), gs1=(True, True))
    r = post_photo(pharmacist, two, action="dispense", **fields)
    assert r.status_code == 422 and error_of(r)["code"] == "image_code_count"
    assert error_of(r)["details"]["found"] == 2
    assert Dispense.objects.count() == 0

    r = post_photo(pharmacist, png_of(gs1_text(batch), gs1=(True,)), action="dispense", **fields)
    assert r.status_code == 201, r.content
    assert r.json()["decoded"]["symbology"] == "gs1-128" and r.json()["result"]["batch"] == batch.pk
    assert Dispense.objects.get().batch == batch
    assert list(ScanLog.objects.order_by("id").values_list("outcome", "source")) == [
        ("refused", "image"), ("ok", "image")]


def test_corrupt_image_is_400_within_a_second(county, client_for):
    good = png_of("DV-00000001")
    corrupt = good[: len(good) // 2]
    start = time.monotonic()
    r = post_photo(client_for(county.inspector), corrupt)
    elapsed = time.monotonic() - start
    assert r.status_code == 400 and error_of(r)["code"] == "upload_corrupt"
    assert elapsed < 1.0
    log = ScanLog.objects.get()
    assert (log.source, log.outcome, log.error_code) == ("image", "invalid", "upload_corrupt")


def test_huge_image_is_400_within_a_second(county, client_for):
    # 8000 x 8000 = 64 megapixels, a small PNG: refused from the header, never decoded
    big = io.BytesIO()
    Image.new("1", (8000, 8000), 1).save(big, format="PNG")
    start = time.monotonic()
    r = post_photo(client_for(county.inspector), big.getvalue())
    assert r.status_code == 400 and error_of(r)["code"] == "upload_too_many_pixels"
    assert time.monotonic() - start < 1.0


def test_too_large_a_file_is_400_within_a_second(county, client_for):
    start = time.monotonic()
    r = post_photo(client_for(county.inspector), b"\xff\xd8\xff" + b"\0" * (11 * 1024 * 1024))
    assert r.status_code == 400 and error_of(r)["code"] == "upload_too_large"
    assert time.monotonic() - start < 1.0


def test_not_an_image(county, client_for):
    r = post_photo(client_for(county.inspector), b"%PDF-1.7 not a photo")
    assert r.status_code == 400 and error_of(r)["code"] == "upload_type_not_allowed"


def test_code_and_image_together_is_400(county, client_for):
    r = client_for(county.inspector).post(URL, {"image": photo(png_of("DV-00000001")), "code": "DV-00000001"},
                                          format="multipart")
    assert r.status_code == 400 and error_of(r)["code"] == "validation_error"
