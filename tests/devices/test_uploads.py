"""The shared upload pipeline (backend/uploads.py): bad files are refused fast with a stable
code and nothing is stored; good ones are turned upright, lose their GPS and are stored by hash."""

import hashlib
import io
import struct
import time
import zlib
from pathlib import Path

import pytest
from django.conf import settings
from PIL import Image

from backend.uploads import UploadRefused, check_image, prepare_image, store_image
from inventory.devices.models import Device
from tests.conftest import error_of
from tests.devices.factories import image_bytes, operator, upload


def stored_files() -> list[Path]:
    root = Path(settings.MEDIA_ROOT)
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def png_claiming(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(
        b"IEND", b"")


def truncated_jpeg() -> bytes:
    data = image_bytes("JPEG", size=(800, 600))
    return data[: len(data) // 2]


FAKE_PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
FIFTY_MB = b"\xff\xd8\xff\xe0" + b"\x00" * (50 * 1024 * 1024)

BAD = [
    ("truncated.jpg", truncated_jpeg, "upload_corrupt"),
    ("huge.png", lambda: png_claiming(30000, 30000), "upload_too_many_pixels"),
    ("report.jpg", lambda: FAKE_PDF, "upload_type_not_allowed"),
    ("big.jpg", lambda: FIFTY_MB, "upload_too_large"),
    ("noise.png", lambda: b"hello, not an image at all" * 10, "upload_not_image"),
    ("41mp.png", lambda: png_claiming(8000, 5200), "upload_too_many_pixels"),
]


@pytest.mark.parametrize("name, make, code", BAD, ids=[b[0] for b in BAD])
def test_bad_file_refused_fast_and_nothing_stored(name, make, code):
    data = make()
    started = time.perf_counter()
    with pytest.raises(UploadRefused) as info:
        store_image(upload(data, name=name, content_type="image/jpeg"))
    elapsed = time.perf_counter() - started
    assert info.value.code == code and info.value.status_code == 400
    assert elapsed < 1.0, f"{name} took {elapsed:.3f} s"
    assert stored_files() == []


@pytest.mark.parametrize("name, make, code", BAD, ids=[b[0] for b in BAD])
def test_checking_only_refuses_the_same_files(name, make, code):
    """check_image (a photo that is read, not kept: the scan endpoint) applies every rule."""
    with pytest.raises(UploadRefused) as info:
        check_image(upload(make(), name=name, content_type="image/jpeg"))
    assert info.value.code == code and info.value.status_code == 400


def test_checked_image_is_upright_unchanged_and_prepares_upright_without_gps():
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to view
    exif[0x8825] = {1: "N", 2: (26.0, 53.0, 2.0)}
    data = image_bytes("JPEG", size=(80, 40), exif=exif.tobytes())
    checked = check_image(upload(data, name="IMG_0002.JPG", content_type="image/jpeg"))
    assert checked.image.size == (checked.width, checked.height) == (40, 80)
    assert checked.data == data and checked.sha256 == hashlib.sha256(data).hexdigest()
    prepared = checked.prepare()
    stored = Image.open(io.BytesIO(prepared.data))
    assert stored.size == (40, 80)  # the turn applied to the pixels
    assert 0x0112 not in stored.getexif() or stored.getexif()[0x0112] == 1  # and not applied twice by a viewer
    assert 0x8825 not in stored.getexif()
    assert stored_files() == []


@pytest.mark.django_db
@pytest.mark.parametrize("name, make, code", BAD[:4], ids=[b[0] for b in BAD[:4]])
def test_bad_file_in_a_filing_gets_400_and_nothing_stored(county, client_for, name, make, code):
    sono = operator(county.hospital)
    body = {
        "kind": "ultrasound", "brand": "SonoScape", "model": "P60", "place_of_origin": "深圳",
        "manufactured_on": "2025-01-01", "purchased_on": "2025-02-01", "serial_number": "S-1",
        "holder": county.hospital.pk, "main_use": "产检", "custodian": sono.pk, "operators": [sono.pk],
        "photos": [upload(make(), name=name, content_type="image/jpeg")], "seal_image": upload(name="seal.png"),
    }
    client = client_for(county.physician)
    client.get("/api/devices/")  # warm up: URL conf and views imported, token cached
    started = time.perf_counter()
    response = client.post("/api/devices/", body, format="multipart")
    elapsed = time.perf_counter() - started
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == code and error["details"]["field"] == "photos"
    assert elapsed < 1.0, f"{name} took {elapsed:.3f} s end to end"
    assert stored_files() == [] and not Device.objects.exists()


def test_good_jpeg_is_turned_upright_loses_gps_and_is_stored_by_hash():
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to view
    exif[0x010F] = "Canon"
    exif[0x8825] = {1: "N", 2: (26.0, 53.0, 2.0), 3: "E", 4: (112.0, 29.0, 0.0)}
    data = image_bytes("JPEG", size=(80, 40), exif=exif.tobytes())
    info = store_image(upload(data, name="IMG_0001.JPG", content_type="image/jpeg"))
    assert (info.width, info.height, info.content_type) == (40, 80, "image/jpeg")
    path = Path(settings.MEDIA_ROOT) / info.path
    stored = path.read_bytes()
    assert info.sha256 == hashlib.sha256(stored).hexdigest() and info.size == len(stored)
    assert info.path == f"uploads/{info.sha256[:2]}/{info.sha256}.jpg"
    image = Image.open(io.BytesIO(stored))
    assert image.size == (40, 80)
    kept = image.getexif()
    assert 0x8825 not in kept and kept.get_ifd(0x8825) == {}
    assert kept.get(0x0112, 1) == 1 and kept.get(0x010F) == "Canon"
    thumb = Image.open(Path(settings.MEDIA_ROOT) / info.thumbnail_path)
    assert thumb.format == "JPEG" and max(thumb.size) <= 320
    # Same picture again: same name, stored once.
    again = store_image(upload(data, name="copy.jpg", content_type="image/jpeg"))
    assert again.path == info.path
    assert len(stored_files()) == 2


@pytest.mark.parametrize("fmt, ext", [("PNG", "png"), ("WEBP", "webp")])
def test_png_and_webp_accepted_whatever_the_name(fmt, ext):
    info = prepare_image(upload(image_bytes(fmt), name="photo.jpg", content_type="image/jpeg"))
    assert info.extension == ext and (info.width, info.height) == (64, 48)
    assert stored_files() == []  # prepared, not yet stored


def test_gif_refused_as_type():
    out = io.BytesIO()
    Image.new("P", (4, 4)).save(out, format="GIF")
    with pytest.raises(UploadRefused) as info:
        prepare_image(upload(out.getvalue(), name="a.png"))
    assert info.value.code == "upload_type_not_allowed"
