"""Photo decoding on images we make ourselves: several codes in one photo, DataMatrix next to a
linear code, rotated and low-contrast photos, positions, and bytes that are not an image."""

from __future__ import annotations

import io

import pytest
import zxingcpp
from barcode.ean import EAN13
from PIL import Image, ImageDraw, ImageOps

from scanning import decode, labels
from scanning.codec import GS, Gs1Payload, OwnLabelPayload, PlainPayload, TraceCodePayload, parse, render_gs1
from scanning.decode import DecodeError, decode_bytes, decode_image

GTIN = "09506000134352"


def label_image(text: str, *, gs1: bool = False) -> Image.Image:
    return Image.open(io.BytesIO(labels.render_png(text, gs1=gs1))).convert("L")


def datamatrix(content: str, *, gs1: bool = False, scale: int = 6) -> Image.Image:
    if gs1:  # zxing-cpp's writer takes GS1 content in the printed (AI)value form
        content = parse(content).hri
    made = zxingcpp.create_barcode(content, zxingcpp.BarcodeFormat.DataMatrix, gs1=gs1)
    picture = made.to_image(scale=scale)
    height, width = picture.shape[:2]
    return Image.frombytes("L", (width, height), memoryview(picture).tobytes())


def ean13(digits: str) -> Image.Image:
    from barcode.writer import ImageWriter

    return EAN13(digits, writer=ImageWriter(mode="L")).render({"module_width": 0.5, "dpi": 200})


def canvas(*parts: tuple[Image.Image, tuple[int, int]], size=(1400, 700)) -> Image.Image:
    page = Image.new("L", size, 255)
    for image, where in parts:
        page.paste(image, where)
    return page


def test_pack_photo_with_ean_and_gs1_datamatrix():
    """A Chinese pack: an EAN-13 pyzbar reads and a GS1 DataMatrix only zxing-cpp reads; both
    come back from one call, the DataMatrix parsed as GS1 with its position."""
    element_string = render_gs1(GTIN, "270600", "L2401", "SN0001")
    symbol = datamatrix(element_string, gs1=True)
    photo = canvas((ean13("690123456789"), (40, 40)), (symbol, (900, 300)))
    codes = decode_image(photo)
    by_symbology = {c.symbology: c for c in codes}
    assert set(by_symbology) == {"ean13", "gs1-datamatrix"}, codes
    ean = by_symbology["ean13"]
    assert ean.decoder == "pyzbar" and ean.text == "6901234567892"
    assert isinstance(ean.payload, PlainPayload) and ean.payload.gtin == "06901234567892"
    dm = by_symbology["gs1-datamatrix"]
    assert dm.decoder == "zxing-cpp" and dm.aim == "]d2" and dm.stage == "first"
    assert dm.text == element_string and GS in dm.text
    assert isinstance(dm.payload, Gs1Payload)
    assert (dm.payload.gtin, dm.payload.lot, dm.payload.serial) == (GTIN, "L2401", "SN0001")
    ink_left, ink_top, ink_right, ink_bottom = ImageOps.invert(symbol).getbbox()
    left, top, width, height = dm.rect
    assert abs(left - (900 + ink_left)) <= 8 and abs(top - (300 + ink_top)) <= 8, (dm.rect, symbol.size)
    assert abs(width - (ink_right - ink_left)) <= 12 and abs(height - (ink_bottom - ink_top)) <= 12


def test_several_linear_codes_in_one_photo():
    photo = canvas((label_image("DV-00000042"), (30, 30)), (label_image("81234560000000000012"), (30, 330)))
    codes = decode_image(photo)
    payloads = {type(c.payload) for c in codes}
    assert payloads == {OwnLabelPayload, TraceCodePayload}, codes
    assert all(c.decoder == "pyzbar" and c.symbology == "code128" for c in codes)


def test_gs1_128_label_is_flagged_gs1_from_libzbar():
    element_string = render_gs1(GTIN, "261231", "ABC", "S1")
    [code] = decode_image(label_image(element_string, gs1=True))
    assert (code.symbology, code.aim, code.decoder) == ("gs1-128", "]C1", "pyzbar")
    assert code.text == element_string
    assert isinstance(code.payload, Gs1Payload) and code.payload.symbology == "]C1"


@pytest.mark.parametrize("angle", [90, 180, 270])
def test_quarter_turned_photo_reads_in_the_first_pass(angle):
    photo = label_image("DV-00000101").rotate(angle, expand=True, fillcolor=255)
    [code] = decode_image(photo)
    assert (code.text, code.stage) == ("DV-00000101", "first")
    left, top, width, height = code.rect
    assert left + width <= photo.width and top + height <= photo.height
    if angle in (90, 270):
        assert height > width  # the position follows the code


@pytest.mark.parametrize("angle", [22, 37, 52, 127, 160])
def test_photo_taken_askew(angle):
    """Neither decoder reads a wide 1D label turned more than ~10 degrees; the preprocessing
    pass turns the photo back, and the position is reported in the photo as given."""
    label = label_image("DV-00000102")
    photo = label.rotate(angle, expand=True, fillcolor=255)
    codes = decode_image(photo)
    assert [c.text for c in codes] == ["DV-00000102"], angle
    assert codes[0].stage.startswith("pre:rot")
    # the code's centre is the photo's centre (the label was turned about its centre)
    left, top, width, height = codes[0].rect
    assert abs(left + width / 2 - photo.width / 2) < 25 and abs(top + height / 2 - photo.height / 2) < 25


def test_no_preprocessing_when_the_first_pass_reads(monkeypatch):
    """Preprocessing costs; it runs only when the first passes find nothing."""

    def fail(_image):
        raise AssertionError("preprocessing ran")

    monkeypatch.setattr(decode, "_variants", fail)
    assert [c.text for c in decode_image(label_image("DV-00000042"))] == ["DV-00000042"]
    monkeypatch.undo()
    blank = Image.new("L", (200, 100), 255)
    calls = []
    original = decode._variants
    monkeypatch.setattr(decode, "_variants", lambda image: calls.append(1) or original(image))
    assert decode_image(blank) == [] and calls == [1]


def test_nothing_to_read():
    blank = Image.new("RGB", (300, 200), "white")
    ImageDraw.Draw(blank).text((20, 80), "no barcode here", fill="black")
    assert decode_image(blank) == []


def test_variant_positions_map_back_to_the_input():
    """Each preprocessed variant (downscaled, upscaled, rotated) maps a point back to where
    it is in the image the caller gave us."""
    for size, spot in (((500, 300), (400, 60)), ((2400, 1000), (2000, 150))):
        image = Image.new("L", size, 255)
        ImageDraw.Draw(image).rectangle([spot, (spot[0] + 7, spot[1] + 7)], fill=0)
        for name, variant, back, _zxing in decode._variants(image):
            inverted = ImageOps.invert(variant)
            left, top, right, bottom = inverted.point(lambda p: 255 if p > 128 else 0).getbbox()
            x, y = back((left + right - 1) / 2, (top + bottom - 1) / 2)
            assert abs(x - (spot[0] + 3.5)) <= 3 and abs(y - (spot[1] + 3.5)) <= 3, (size, name, x, y)


def test_decode_bytes_reads_a_png():
    png = labels.render_png("BT-7-L1")
    [code] = decode_bytes(png)
    assert isinstance(code.payload, OwnLabelPayload) and code.payload.product_id == 7


def test_decode_bytes_applies_exif_orientation():
    image = label_image("DV-00000103").rotate(90, expand=True, fillcolor=255).convert("RGB")
    exif = Image.Exif()
    exif[0x0112] = 8  # rotate 90 CW to view
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", exif=exif, quality=95)
    [code] = decode_bytes(buffer.getvalue())
    assert code.text == "DV-00000103"


@pytest.mark.parametrize("data", [b"", b"not an image", b"\x89PNG\r\n\x1a\n" + b"\x00" * 40])
def test_decode_bytes_refuses_what_is_not_an_image(data):
    with pytest.raises(DecodeError):
        decode_bytes(data)


def test_as_dict():
    [code] = decode_image(label_image("DV-00000042"))
    body = code.as_dict()
    assert body["payload"]["kind"] == "own_label" and body["decoder"] == "pyzbar"
    assert set(body["position"]) == {"left", "top", "width", "height", "polygon"}


def test_transparent_png_label():
    """A label saved with a transparent background (black bars on nothing) still reads."""
    bars = label_image("DV-00000104")
    rgba = Image.new("RGBA", bars.size, (0, 0, 0, 0))
    rgba.putalpha(ImageOps.invert(bars))  # opaque black where the bars are
    assert [c.text for c in decode_image(rgba)] == ["DV-00000104"]


def test_zxing_first_reads_the_same():
    photo = canvas((ean13("690123456789"), (40, 40)), (label_image("DV-00000042"), (700, 300)))
    ours = {(c.symbology, c.text) for c in decode_image(photo)}
    theirs = {(c.symbology, c.text) for c in decode_image(photo, first="zxing-cpp")}
    assert ours == theirs == {("ean13", "6901234567892"), ("code128", "DV-00000042")}
    with pytest.raises(ValueError):
        decode_image(photo, first="opencv")


def test_max_side_downscales_first_and_reports_positions_in_the_original():
    label = label_image("DV-00000042")
    big = canvas((label.resize((label.width * 3, label.height * 3)), (2400, 1500)), size=(4000, 3000))
    [code] = decode_image(big, max_side=1600)
    assert code.text == "DV-00000042"
    left, top, width, height = code.rect
    assert abs(left - 2400) < 120 and abs(top - 1500) < 120 and width > 900


def test_time_budget_bounds_the_work_after_the_first_pass(monkeypatch):
    """A photo with no code: with the budget spent, neither the zxing-cpp second try nor
    any preprocessing variant is started."""
    calls = []
    real = decode._zxing_read
    monkeypatch.setattr(decode, "_zxing_read", lambda *a, **k: calls.append(k) or real(*a, **k))
    monkeypatch.setattr(decode, "_variants", lambda image: pytest.fail("preprocessing started"))
    assert decode_image(Image.new("L", (400, 300), 255), time_budget=0) == []
    assert calls == [{"fast": True}]  # only the DataMatrix pass of the first pass


@pytest.mark.parametrize(("upce", "gtin"), [("04252614", "00042100005264"), ("01234565", "00012345000065")])
def test_a_upc_e_is_read_as_the_gtin_it_stands_for(upce, gtin):
    """libzbar returns a UPC-E as its 8 digits: read as a GTIN-8 that would be another number
    (or none). The codec expands it to its UPC-A, as zxing-cpp does."""
    made = zxingcpp.create_barcode(upce, zxingcpp.BarcodeFormat.UPCE).to_image(scale=4)
    height, width = made.shape[:2]
    image = ImageOps.expand(Image.frombytes("L", (width, height), memoryview(made).tobytes()), 40, fill=255)
    (code,) = decode_image(image)
    assert isinstance(code.payload, PlainPayload) and code.payload.gtin == gtin, code
    assert parse("]E0" + upce).gtin == gtin
