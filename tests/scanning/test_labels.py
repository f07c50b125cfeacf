"""Labels decode from a 200 dpi render: each kind, through plain pyzbar, and the SVG carries
the very same bars as the PNG."""

from __future__ import annotations

import datetime as dt
import io
import xml.dom.minidom
from itertools import groupby

import pytest
from hypothesis import HealthCheck, given, reject, settings
from hypothesis import strategies as st
from PIL import Image, ImageFilter
from pyzbar import pyzbar

from scanning import labels
from scanning.codec import Gs1Payload, OwnLabelPayload, gtin_check_digit, parse, render_gs1

GTIN = "06901234567892"
CAPTION = ("米非司酮片 25mg ×6", "批号 L2401  有效期 2027-06", "衡阳县人民医院")

KINDS = {
    "batch, product with GTIN (GS1-128)": labels.batch_label(
        product_id=3, lot="L2401", expiry=dt.date(2027, 6, 30), gtin=GTIN, caption_lines=CAPTION),
    "batch, GTIN and day-00 expiry": labels.batch_label(product_id=3, lot="L2401", expiry="270600", gtin=GTIN),
    "batch, GTIN, lot longer than GS1 allows": labels.batch_label(
        product_id=3, lot="L" * 21, expiry=dt.date(2027, 6, 30), gtin=GTIN),
    "batch, product without GTIN": labels.batch_label(product_id=12, lot="20240501-A", caption_lines=CAPTION),
    "device asset tag": labels.device_label(42, caption_lines=("彩超 GE Voluson E8", "SN A1B2C3", "衡阳县妇幼保健院")),
    "GS1-128 with serial": labels.Label(render_gs1(GTIN, "261231", "ABC", "SER-000000000000001"), gs1=True),
}


def test_label_kinds():
    assert KINDS["batch, product with GTIN (GS1-128)"].gs1
    assert KINDS["batch, product with GTIN (GS1-128)"].text == f"01{GTIN}1727063010L2401"
    # a lot GS1 cannot carry (over 20 characters) falls back to our own batch label
    assert KINDS["batch, GTIN, lot longer than GS1 allows"] == labels.Label("BT-3-" + "L" * 21)
    assert KINDS["batch, product without GTIN"].text == "BT-12-20240501-A"
    assert KINDS["device asset tag"].text == "DV-00000042"


def _read(png: bytes) -> tuple[Image.Image, list]:
    image = Image.open(io.BytesIO(png))
    return image, pyzbar.decode(image)


@pytest.mark.parametrize("label", KINDS.values(), ids=KINDS.keys())
def test_png_at_200_dpi_decodes_back(label):
    png = labels.render_png(label.text, gs1=label.gs1, caption_lines=label.caption_lines, dpi=200)
    image, found = _read(png)
    assert round(image.info["dpi"][0]) == 200
    assert [d.data.decode("latin-1") for d in found] == [label.text]
    payload = parse(found[0].data.decode("latin-1"))
    if label.gs1:
        expected = parse(label.text)
        assert isinstance(payload, Gs1Payload)
        assert (payload.gtin, payload.lot, payload.serial, payload.expiry) == (
            expected.gtin, expected.lot, expected.serial, expected.expiry)
    else:
        assert isinstance(payload, OwnLabelPayload)


def test_lot_no_barcode_can_carry_is_refused():
    """A lot with Chinese characters fits neither GS1 nor Code 128: refused, not printed as
    something a scanner would read back differently."""
    with pytest.raises(ValueError):
        labels.batch_label(product_id=3, lot="批号-1", expiry=dt.date(2027, 6, 30), gtin=GTIN)
    with pytest.raises(ValueError):
        labels.render_png("BT-3-批号-1")


def _bar_runs(image: Image.Image, y: int) -> list[int]:
    row = [image.getpixel((x, y)) for x in range(image.width)]
    runs = [len(list(group)) for _, group in groupby(p < 128 for p in row)]
    return runs[1:-1]  # without the quiet zones


@pytest.mark.parametrize("dpi", [200, 203, 300])
def test_module_width_is_chosen_on_purpose(dpi):
    """Every bar and space is a whole number of modules of at least 3 px: python-barcode's
    default (0.2 mm, 1.6 px at 200 dpi) does not decode, and its writer rounds unevenly."""
    module = labels.module_px(dpi)
    assert module >= 3
    image = Image.open(io.BytesIO(labels.render_png(render_gs1(GTIN, "270600", "L2401"), gs1=True, dpi=dpi)))
    runs = _bar_runs(image, y=image.height // 4)
    assert runs and all(run % module == 0 and 1 <= run // module <= 4 for run in runs), runs


def test_our_module_width_survives_print_blur_where_the_default_does_not():
    """Why we set the module width: python-barcode's default (0.2 mm, 1.6 px at 200 dpi, bars
    of uneven pixel widths) stops reading once a print is slightly blurred and shrunk; ours
    (3 px modules) still reads."""
    from barcode.codex import Gs1_128
    from barcode.writer import ImageWriter

    text = render_gs1(GTIN, "270600", "L2401")
    default = Gs1_128(text, writer=ImageWriter(mode="L")).render({"dpi": 200, "write_text": False})
    ours = Image.open(io.BytesIO(labels.render_png(text, gs1=True))).convert("L")

    def printed(image):
        return image.resize((int(image.width * 0.9), image.height), Image.Resampling.BILINEAR).filter(
            ImageFilter.GaussianBlur(0.8))

    assert pyzbar.decode(default)  # clean, it reads
    assert pyzbar.decode(printed(default)) == []
    assert [d.data.decode() for d in pyzbar.decode(printed(ours))] == [text]


def test_svg_has_the_same_bars_as_the_png():
    text = render_gs1(GTIN, "270600", "L2401", "S1")
    image = Image.open(io.BytesIO(labels.render_png(text, gs1=True)))
    module = labels.module_px(200)
    png_modules = [run // module for run in _bar_runs(image, y=image.height // 4)]

    svg = labels.render_svg(text, gs1=True, caption_lines=["米非司酮片"])
    doc = xml.dom.minidom.parseString(svg)
    root = doc.documentElement
    assert root.getAttribute("width").endswith("mm") and root.getAttribute("viewBox")
    x_mm = module * 25.4 / 200
    bars = sorted(
        (float(r.getAttribute("x")), float(r.getAttribute("width")))
        for r in doc.getElementsByTagName("rect")
        if r.getAttribute("style").startswith("fill:black")
    )
    svg_modules: list[int] = []
    for (x, width), following in zip(bars, [*bars[1:], None], strict=True):
        svg_modules.append(round(width / x_mm))
        if following is not None:
            svg_modules.append(round((following[0] - x - width) / x_mm))
    assert svg_modules == png_modules
    texts = [t.firstChild.data for t in doc.getElementsByTagName("text")]
    assert texts == ["(01)06901234567892(17)270600(10)L2401(21)S1", "米非司酮片"]


def test_captions_are_escaped_in_svg_and_sheet():
    evil = "<script>alert(1)</script> & 衡阳"
    svg = labels.render_svg("DV-1", caption_lines=[evil]).decode()
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    sheet = labels.label_sheet_html([labels.device_label(1, caption_lines=[evil])], title=evil)
    assert "<script>" not in sheet


def test_a4_sheet():
    chosen = [KINDS["batch, product with GTIN (GS1-128)"], KINDS["batch, product without GTIN"],
              KINDS["device asset tag"]]
    sheet = labels.label_sheet_html(chosen, title="衡阳县 批次标签")
    assert sheet.startswith("<!DOCTYPE html>")
    assert "size: A4" in sheet
    assert sheet.count("<svg") == 3 and "<?xml" not in sheet
    assert "衡阳县 批次标签" in sheet and "衡阳县人民医院" in sheet


def test_refuses_what_a_scanner_could_not_read_back():
    with pytest.raises(ValueError):
        labels.render_png("", gs1=False)
    with pytest.raises(ValueError):
        labels.render_png("hello", gs1=True)  # not GS1
    with pytest.raises(ValueError):
        labels.render_svg(f"01{GTIN[:-1]}3", gs1=True)  # bad check digit


CSET82 = "!\"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz"


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    body=st.text("0123456789", min_size=13, max_size=13),
    expiry=st.dates(dt.date(2000, 1, 1), dt.date(2069, 12, 31)),
    lot=st.text(CSET82, min_size=1, max_size=20),
    serial=st.none() | st.text(CSET82, min_size=1, max_size=20),
)
def test_any_gs1_label_we_render_decodes_and_parses_back(body, expiry, lot, serial):
    gtin = body + str(gtin_check_digit(body))
    try:
        text = render_gs1(gtin, expiry, lot, serial)
    except ValueError:
        reject()
    _, found = _read(labels.render_png(text, gs1=True))
    assert len(found) == 1
    payload = parse(found[0].data.decode("latin-1"))
    assert isinstance(payload, Gs1Payload), payload
    assert (payload.gtin, payload.expiry, payload.lot, payload.serial) == (gtin, expiry, lot, serial)
