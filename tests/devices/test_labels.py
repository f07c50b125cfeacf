"""Asset labels: Code 128 of the asset tag, decodable by pyzbar from the 200 dpi PNG."""

import io
from xml.dom import minidom

import pytest
from PIL import Image
from pyzbar import pyzbar

from inventory.devices.labels import ASSET_TAG_RE, DPI, MODULE_PX, is_asset_tag, label_lines
from tests.conftest import error_of
from tests.devices.factories import file_device

pytestmark = pytest.mark.django_db


def test_asset_tag_cannot_be_taken_for_gs1_or_a_drug_traceability_code(county):
    device = file_device(county.hospital)
    assert ASSET_TAG_RE.match(device.asset_tag)
    assert is_asset_tag(device.asset_tag)
    assert not is_asset_tag("81234567890123456789")  # 20-digit 药品追溯码
    assert not is_asset_tag("0106901234567892")  # GS1 (01) GTIN
    another = file_device(county.hospital)
    assert another.asset_tag != device.asset_tag


def test_png_label_decodes_with_pyzbar(county, client_for):
    device = file_device(county.hospital, brand="迈瑞", model="Resona 7", serial="MR-2024-0007")
    response = client_for(county.physician).get(f"/api/devices/{device.pk}/label.png")
    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    image = Image.open(io.BytesIO(response.content))
    assert round(image.info["dpi"][0]) == DPI
    decoded = pyzbar.decode(image)
    assert [(d.type, d.data.decode()) for d in decoded] == [("CODE128", device.asset_tag)]
    # Bars are whole pixels: the narrowest bar is MODULE_PX wide.
    row = decoded[0].rect.top + decoded[0].rect.height // 2
    pixels = [image.convert("L").getpixel((x, row)) < 128 for x in range(image.width)]
    runs, current = [], 0
    for dark in pixels:
        if dark:
            current += 1
        elif current:
            runs.append(current)
            current = 0
    assert min(runs) == MODULE_PX


def test_png_label_still_decodes_when_printed_smaller(county):
    """A 200 dpi label scanned back at 70 % still decodes (about 2 px per module)."""
    from inventory.devices.labels import render_png

    device = file_device(county.hospital)
    image = Image.open(io.BytesIO(render_png(device)))
    small = image.resize((int(image.width * 0.7), int(image.height * 0.7)), Image.Resampling.LANCZOS)
    assert [d.data.decode() for d in pyzbar.decode(small)] == [device.asset_tag]


def test_svg_label_carries_the_text_and_the_bars(county, client_for):
    device = file_device(county.hospital, model="Voluson <E10> & co", serial="GE-1")
    response = client_for(county.inspector).get(f"/api/devices/{device.pk}/label.svg")
    assert response.status_code == 200 and response["Content-Type"] == "image/svg+xml"
    doc = minidom.parseString(response.content)  # well-formed, names escaped
    texts = [t.firstChild.data for t in doc.getElementsByTagName("text") if t.firstChild]
    for line in label_lines(device):
        assert line in texts
    assert any(device.asset_tag in t for t in texts)
    bars = [r for r in doc.getElementsByTagName("rect") if "fill:black" in r.getAttribute("style")]
    assert len(bars) > 20
    # Rasterise the SVG's bars at 200 dpi ourselves (no SVG renderer needed) and decode them.
    from PIL import ImageDraw

    px = lambda mm: float(mm.removesuffix("mm")) * DPI / 25.4  # noqa: E731
    width = int(max(px(b.getAttribute("x")) + px(b.getAttribute("width")) for b in bars) + 40)
    raster = Image.new("L", (width, 140), 255)
    draw = ImageDraw.Draw(raster)
    for b in bars:
        x0 = px(b.getAttribute("x"))
        draw.rectangle((round(x0), 20, round(x0 + px(b.getAttribute("width"))) - 1, 120), fill=0)
    assert [d.data.decode() for d in pyzbar.decode(raster)] == [device.asset_tag]


def test_label_visibility(county, client_for):
    device = file_device(county.hospital)
    assert client_for(county.other.inspector).get(f"/api/devices/{device.pk}/label.png").status_code == 404
    anonymous = client_for(None).get(f"/api/devices/{device.pk}/label.svg")
    assert anonymous.status_code == 401 and error_of(anonymous)["code"] == "not_authenticated"


def test_the_printed_asset_tag_is_what_the_scanner_codec_reads_as_this_device(county, client_for):
    """The registry's label, read by a scanner (pyzbar on the 200 dpi PNG) and parsed by the
    scan endpoint's codec, names this very device."""
    from scanning.codec import OwnLabelPayload, parse

    devices = [file_device(county.hospital) for _ in range(2)]
    for device in devices:
        response = client_for(county.physician).get(f"/api/devices/{device.pk}/label.png")
        (found,) = pyzbar.decode(Image.open(io.BytesIO(response.content)))
        payload = parse(found.data.decode("latin-1"))
        assert isinstance(payload, OwnLabelPayload) and payload.label_kind == "device"
        assert (payload.device_id, payload.device_tag) == (device.pk, device.asset_tag)
