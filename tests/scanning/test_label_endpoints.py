"""Batch labels and A4 label sheets through HTTP: each label kind decodes with pyzbar from a
200 dpi render (the PNG, the sheet's SVGs rasterised, the PDF page rendered), and only those
who may see the batch's stock or the devices get them."""

from __future__ import annotations

import datetime as dt
import io
import re
import xml.dom.minidom

import pypdfium2
import pytest
from PIL import Image, ImageDraw
from pyzbar import pyzbar

from backend.models import User
from scanning.codec import Gs1Payload, OwnLabelPayload, gtin_check_digit, parse
from tests.conftest import error_of
from tests.devices.factories import file_device
from tests.factories import UserFactory
from tests.inventory.factories import BatchFactory, DrugProductFactory, stock_institution, stock_wholesaler

pytestmark = pytest.mark.django_db

GTIN = "0690123456789" + str(gtin_check_digit("0690123456789"))
DPI = 200


def decoded(image: Image.Image) -> list[str]:
    return sorted(d.data.decode("latin-1") for d in pyzbar.decode(image))


def _runs(flags: list[bool], min_gap: int) -> list[tuple[int, int]]:
    """(start, end) of the runs of True separated by at least `min_gap` False."""
    runs: list[tuple[int, int]] = []
    start, gap = None, 0
    for i, flag in enumerate([*flags, *[False] * min_gap]):
        if flag:
            start, gap = (i if start is None else start), 0
        elif start is not None:
            gap += 1
            if gap >= min_gap:
                runs.append((start, i - gap + 1))
                start = None
    return runs


def decoded_each(page: Image.Image, dpi: int = DPI) -> list[str]:
    """Every label on a sheet read on its own: zbar reports identical symbols lying in line
    once, so cut the page into the printed blocks (by white rows, then by white columns wider
    than anything inside a symbol) and decode each block with a quiet zone round it."""
    dark = page.convert("L").point(lambda v: 255 if v < 128 else 0).convert("F")

    def rows(image: Image.Image) -> list[bool]:  # does each row hold a dark pixel?
        return [v > 0 for v in image.resize((1, image.height), Image.Resampling.BOX).get_flattened_data()]

    def columns(image: Image.Image) -> list[bool]:
        return [v > 0 for v in image.resize((image.width, 1), Image.Resampling.BOX).get_flattened_data()]

    found = []
    for top, bottom in _runs(rows(dark), 1):
        band = dark.crop((0, top, dark.width, bottom))
        for left, right in _runs(columns(band), round(5 * dpi / 25.4)):
            block = page.crop((left, top, right, bottom))
            padded = Image.new("L", (block.width + 80, block.height + 80), 255)
            padded.paste(block, (40, 40))
            found += decoded(padded)
    return sorted(found)


@pytest.fixture
def gs1_batch(county):
    product = DrugProductFactory(gtins=[GTIN])
    batch = BatchFactory(product=product, lot_number="L2401", expiry_date=dt.date(2027, 6, 30),
                         expiry_printed="270600")
    stock_institution(county, batch, 60)
    return batch


@pytest.fixture
def own_batch(county):
    batch = BatchFactory(product=DrugProductFactory(gtins=[]), lot_number="20240501-A")
    stock_institution(county, batch, 12)
    return batch


def test_batch_with_gtin_gets_a_gs1_128_label(county, client_for, gs1_batch):
    response = client_for(county.pharmacist).get(f"/api/batches/{gs1_batch.pk}/label.png")
    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    image = Image.open(io.BytesIO(response.content))
    assert round(image.info["dpi"][0]) == DPI
    (text,) = decoded(image)
    payload = parse(text)
    assert isinstance(payload, Gs1Payload)
    assert (payload.gtin, payload.lot, payload.expiry, payload.expiry_printed) == (
        GTIN, "L2401", dt.date(2027, 6, 30), "270600")


def test_batch_without_gtin_gets_our_own_code_128_label(county, client_for, own_batch):
    response = client_for(county.clerk).get(f"/api/batches/{own_batch.pk}/label.png")
    assert response.status_code == 200
    (text,) = decoded(Image.open(io.BytesIO(response.content)))
    payload = parse(text)
    assert isinstance(payload, OwnLabelPayload) and payload.label_kind == "batch"
    assert (payload.product_id, payload.lot) == (own_batch.product_id, "20240501-A")


def rasterise(svg: xml.dom.minidom.Element, dpi: int = DPI) -> Image.Image:
    """The SVG's bars drawn at `dpi` (no SVG renderer needed: the bars are rects in mm,
    inside one group that may be shifted by a translate)."""
    shift = 0.0
    for group in svg.getElementsByTagName("g"):
        m = re.search(r"translate\(([-0-9.]+)", group.getAttribute("transform") or "")
        if m:
            shift = float(m[1])
    bars = [r for r in svg.getElementsByTagName("rect") if "fill:black" in r.getAttribute("style")]
    px = lambda mm: float(mm.removesuffix("mm")) * dpi / 25.4  # noqa: E731
    width = round(px(svg.getAttribute("width"))) + 40
    image = Image.new("L", (width, 160), 255)
    draw = ImageDraw.Draw(image)
    for bar in bars:
        x0 = px(bar.getAttribute("x")) + px(str(shift)) + 20
        draw.rectangle((round(x0), 20, round(x0 + px(bar.getAttribute("width"))) - 1, 140), fill=0)
    return image


def test_batch_svg_label_has_the_bars_and_the_caption(county, client_for, gs1_batch):
    response = client_for(county.inspector).get(f"/api/batches/{gs1_batch.pk}/label.svg")
    assert response.status_code == 200 and response["Content-Type"] == "image/svg+xml"
    svg = xml.dom.minidom.parseString(response.content).documentElement
    assert svg.getAttribute("width").endswith("mm")
    texts = [t.firstChild.data for t in svg.getElementsByTagName("text")]
    assert texts[0] == "(01)" + GTIN + "(17)270600(10)L2401"
    assert any("L2401" in t and "2027-06-30" in t for t in texts[1:])
    (text,) = decoded(rasterise(svg))
    assert parse(text).lot == "L2401"


def sheet_svgs(html: str) -> list[xml.dom.minidom.Element]:
    return [xml.dom.minidom.parseString(m).documentElement for m in re.findall(r"<svg.*?</svg>", html, re.S)]


def test_batch_sheet_html_has_n_copies_that_decode(county, client_for, gs1_batch):
    response = client_for(county.pharmacist).get("/api/labels/sheet.html", {"batch": gs1_batch.pk, "copies": 5})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/html")
    html = response.content.decode()
    assert "size: A4" in html and "mm" in html and gs1_batch.lot_number in html
    svgs = sheet_svgs(html)
    assert len(svgs) == 5
    for svg in svgs:
        (text,) = decoded(rasterise(svg))
        assert parse(text).gtin == GTIN


def test_device_sheet_html_decodes_to_each_device(county, client_for):
    devices = [file_device(county.hospital) for _ in range(3)]
    ids = ",".join(str(d.pk) for d in devices)
    response = client_for(county.physician).get("/api/labels/sheet.html", {"devices": ids})
    assert response.status_code == 200
    svgs = sheet_svgs(response.content.decode())
    read = [parse(decoded(rasterise(svg))[0]) for svg in svgs]
    assert [(p.label_kind, p.device_id) for p in read] == [("device", d.pk) for d in devices]


def pdf_pages(content: bytes, dpi: int = DPI) -> list[Image.Image]:
    pdf = pypdfium2.PdfDocument(content)
    return [page.render(scale=dpi / 72).to_pil().convert("L") for page in pdf]


def test_sheet_pdf_decodes_from_a_200_dpi_render(county, client_for, gs1_batch, own_batch):
    client = client_for(county.pharmacist)
    response = client.get("/api/labels/sheet.pdf", {"batch": gs1_batch.pk, "copies": 4})
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    pdf = pypdfium2.PdfDocument(response.content)
    width_mm, height_mm = (v / 72 * 25.4 for v in pdf[0].get_size())
    assert (round(width_mm), round(height_mm)) == (210, 297)
    text = pdf[0].get_textpage().get_text_range()
    assert gs1_batch.product.generic_name in text and "L2401" in text  # the Chinese caption is text
    (page,) = pdf_pages(response.content)
    found = decoded_each(page)
    assert len(found) == 4 and all(parse(t).gtin == GTIN for t in found)

    own = client.get("/api/labels/sheet.pdf", {"batch": own_batch.pk, "copies": 2})
    assert [parse(t).lot for t in decoded_each(pdf_pages(own.content)[0])] == ["20240501-A"] * 2


def test_a_long_device_sheet_pdf_runs_onto_a_second_page_and_every_label_decodes(county, client_for):
    devices = [file_device(county.hospital) for _ in range(40)]
    response = client_for(county.inspector).get("/api/labels/sheet.pdf",
                                                {"devices": ",".join(str(d.pk) for d in devices)})
    assert response.status_code == 200
    pages = pdf_pages(response.content)
    assert len(pages) >= 2
    read = sorted(parse(text).device_id for page in pages for text in decoded_each(page))
    assert read == sorted(d.pk for d in devices)


# --- who may print -----------------------------------------------------------------------


def test_batch_label_visibility(county, client_for, gs1_batch):
    never_held = BatchFactory()
    clinic_user = UserFactory(role=User.Role.PHYSICIAN, organisation=county.clinic)
    url = f"/api/batches/{gs1_batch.pk}/label.svg"
    for user in (county.pharmacist, county.physician, county.clerk, county.inspector, county.office_admin):
        assert client_for(user).get(url).status_code == 200, user
    for user in (clinic_user, county.other.inspector, county.other.office_admin):
        response = client_for(user).get(url)
        assert response.status_code == 404 and error_of(response)["code"] == "not_found", user
    for user in (county.pharmacist, county.inspector):
        assert client_for(user).get(f"/api/batches/{never_held.pk}/label.png").status_code == 404
    anonymous = client_for(None).get(url)
    assert anonymous.status_code == 401 and error_of(anonymous)["code"] == "not_authenticated"


def test_wholesaler_that_took_the_batch_in_may_print_it(county, client_for):
    batch = BatchFactory()
    stock_wholesaler(county, batch, 10)
    assert client_for(county.clerk).get(f"/api/batches/{batch.pk}/label.png").status_code == 200
    assert client_for(county.pharmacist).get(f"/api/batches/{batch.pk}/label.png").status_code == 404
    assert client_for(county.pharmacist).get("/api/labels/sheet.html", {"batch": batch.pk}).status_code == 404


def test_device_sheet_refused_if_any_device_is_not_visible(county, client_for):
    mine = file_device(county.hospital)
    theirs = file_device(county.other.hospital)
    response = client_for(county.inspector).get("/api/labels/sheet.html", {"devices": f"{mine.pk},{theirs.pk}"})
    assert response.status_code == 404
    assert client_for(county.other.inspector).get("/api/labels/sheet.pdf",
                                                  {"devices": str(theirs.pk)}).status_code == 200


@pytest.mark.parametrize("params, code", [
    ({}, "label_sheet_needs_one_source"),
    ({"batch": "1", "devices": "1"}, "label_sheet_needs_one_source"),
    ({"batch": "x"}, "invalid_filter"),
    ({"devices": "1,,2"}, "invalid_filter"),
    ({"batch": "{batch}", "copies": "0"}, "invalid_filter"),
    ({"batch": "{batch}", "copies": "101"}, "too_many_labels"),
], ids=["nothing", "both", "bad batch", "bad devices", "no copies", "too many copies"])
def test_sheet_parameters_are_checked(county, client_for, own_batch, params, code):
    params = {k: v.format(batch=own_batch.pk) for k, v in params.items()}
    response = client_for(county.pharmacist).get("/api/labels/sheet.html", params)
    assert response.status_code == 400 and error_of(response)["code"] == code


def test_a_lot_no_barcode_can_carry_is_refused_not_misprinted(county, client_for):
    batch = BatchFactory(product=DrugProductFactory(gtins=[GTIN]), lot_number="批号-1")
    stock_institution(county, batch, 6)
    response = client_for(county.pharmacist).get(f"/api/batches/{batch.pk}/label.png")
    assert response.status_code == 422 and error_of(response)["code"] == "label_not_printable"
