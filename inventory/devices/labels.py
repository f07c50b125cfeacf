"""Asset labels for devices: a Code 128 barcode of the asset tag with the kind, model, serial
and holder printed above it.

Asset tag format (for the scanning work: recognise it with `ASSET_TAG_RE`)
-------------------------------------------------------------------------
    DV-00000042        "DV-" + the device id, zero-padded to 8 digits

The prefix cannot collide with the other codes we scan:
- GS1 element strings (GS1-128, DataMatrix, (01)GTIN...) start with FNC1 / a numeric
  application identifier and carry digits there; "D" is never a GS1 AI;
- the China drug traceability code (药品追溯码) is 20 digits, all numeric;
- EAN/UPC are numeric too.
Letters plus a hyphen therefore mark our own device labels unambiguously.

Print geometry
--------------
python-barcode draws modules from millimetres; at 200 dpi one pixel is 0.127 mm. With its
default module width (0.2 mm = 1.57 px) bars of the same width come out 1 or 2 px wide and
pyzbar fails below about 2 px per module. We use exactly 3 px per module at 200 dpi
(MODULE_WIDTH_MM = 3 × 0.127 mm, a hair above so float rounding never drops a pixel) and a
quiet zone of 12 modules, which decodes from the PNG and prints at 0.38 mm per module,
within every common thermal label printer's resolution (203 dpi).
"""

from __future__ import annotations

import io
import re
from functools import lru_cache
from pathlib import Path
from xml.dom import minidom

import barcode
from barcode.writer import ImageWriter, SVGWriter
from PIL import Image, ImageDraw, ImageFont

from inventory.devices.models import Device

ASSET_TAG_PREFIX = "DV-"
ASSET_TAG_RE = re.compile(r"^DV-\d{8}$")

DPI = 200
PX_MM = 25.4 / DPI  # one pixel at 200 dpi, in mm
MODULE_PX = 3
MODULE_WIDTH_MM = MODULE_PX * PX_MM + 1e-6
QUIET_ZONE_MM = 12 * MODULE_PX * PX_MM + 1e-6
MODULE_HEIGHT_MM = 12.0

KIND_LABELS = {"ultrasound": "超声诊断仪（B超）", "chromosome_testing": "染色体检测设备"}

CJK_FONTS = [
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/arphic/uming.ttc",
]


def is_asset_tag(text: str) -> bool:
    return bool(ASSET_TAG_RE.match(text or ""))


def label_lines(device: Device) -> list[str]:
    return [
        f"设备资产标签 {device.asset_tag}",
        f"类别: {KIND_LABELS.get(device.kind, device.kind)}",
        f"品牌/型号: {device.brand} {device.model}",
        f"出厂编号: {device.serial_number}",
        f"持有单位: {device.holder.name}",
    ]


def _options(**extra) -> dict:
    return {
        "module_width": MODULE_WIDTH_MM,
        "module_height": MODULE_HEIGHT_MM,
        "quiet_zone": QUIET_ZONE_MM,
        "font_size": 10,
        "text_distance": 4,
        **extra,
    }


def _code(device: Device, writer):
    return barcode.get("code128", device.asset_tag, writer=writer)


LATIN_FONT = Path(barcode.__file__).parent / "fonts" / "DejaVuSansMono.ttf"  # ships with python-barcode


@lru_cache(maxsize=4)
def _fonts(size: int):
    """(Latin font, CJK font): CJK fallback fonts often lack Latin glyphs, so mix them."""
    latin = ImageFont.truetype(str(LATIN_FONT), size) if LATIN_FONT.exists() else ImageFont.load_default(size)
    for path in CJK_FONTS:
        if Path(path).exists():
            return latin, ImageFont.truetype(path, size)
    return latin, latin


def _runs(text: str, size: int):
    """Split `text` into runs drawn with the Latin or the CJK font."""
    latin, cjk = _fonts(size)
    runs: list[tuple[str, object]] = []
    for ch in text:
        font = cjk if ord(ch) >= 0x2E80 else latin
        if runs and runs[-1][1] is font:
            runs[-1] = (runs[-1][0] + ch, font)
        else:
            runs.append((ch, font))
    return runs


def _text_width_px(draw, text: str, size: int) -> int:
    return int(sum(draw.textlength(run, font=font) for run, font in _runs(text, size)))


def _draw_text(draw, xy, text: str, size: int) -> None:
    x, y = xy
    for run, font in _runs(text, size):
        draw.text((x, y), run, font=font, fill=0)
        x += draw.textlength(run, font=font)


def render_png(device: Device) -> bytes:
    """The label as a 200 dpi PNG: text lines on top, then the barcode with the tag under it."""
    buf = io.BytesIO()
    _code(device, ImageWriter()).write(buf, options=_options(dpi=DPI, format="PNG"))
    bars = Image.open(io.BytesIO(buf.getvalue())).convert("L")

    size = 26  # ~3.3 mm at 200 dpi
    lines = label_lines(device)
    margin, line_height = 24, 34
    text_width = max(_text_width_px(ImageDraw.Draw(bars), line, size) for line in lines)
    width = max(bars.width, text_width + 2 * margin)
    height = margin + line_height * len(lines) + 8 + bars.height + margin // 2
    label = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(label)
    for i, line in enumerate(lines):
        _draw_text(draw, (margin, margin + i * line_height), line, size)
    label.paste(bars, ((width - bars.width) // 2, margin + line_height * len(lines) + 8))
    out = io.BytesIO()
    label.save(out, format="PNG", dpi=(DPI, DPI), optimize=True)
    return out.getvalue()


SVG_PX_PER_MM = 96 / 25.4


def _text_width_mm(text: str, font_mm: float) -> float:
    return sum(font_mm if ord(ch) > 0x2E80 else font_mm * 0.6 for ch in text)


def render_svg(device: Device) -> bytes:
    """The label as SVG (millimetres): the same lines, then python-barcode's SVG barcode."""
    buf = io.BytesIO()
    _code(device, SVGWriter()).write(buf, options=_options(compress=False))
    inner = minidom.parseString(buf.getvalue()).documentElement
    bar_w = float(inner.getAttribute("width").removesuffix("mm"))
    bar_h = float(inner.getAttribute("height").removesuffix("mm"))

    lines = label_lines(device)
    font_mm, line_mm, margin = 3.2, 4.4, 3.0
    top = margin + line_mm * len(lines) + 1.0
    width = max(bar_w, max(_text_width_mm(line, font_mm) for line in lines) + 2 * margin)
    height = top + bar_h + margin / 2

    doc = minidom.Document()
    svg = doc.createElement("svg")
    for key, value in {
        "xmlns": "http://www.w3.org/2000/svg", "version": "1.1",
        "width": f"{width:.3f}mm", "height": f"{height:.3f}mm", "viewBox": f"0 0 {width:.3f} {height:.3f}",
    }.items():
        svg.setAttribute(key, value)
    doc.appendChild(svg)
    background = doc.createElement("rect")
    for key, value in {"width": "100%", "height": "100%", "fill": "white"}.items():
        background.setAttribute(key, value)
    svg.appendChild(background)
    for i, line in enumerate(lines):
        text = doc.createElement("text")
        for key, value in {
            "x": f"{margin:.2f}", "y": f"{margin + (i + 1) * line_mm - 1.0:.2f}", "font-size": f"{font_mm}",
            "font-family": "Noto Sans CJK SC, Source Han Sans SC, Microsoft YaHei, SimHei, sans-serif",
            "fill": "black",
        }.items():
            text.setAttribute(key, value)
        text.appendChild(doc.createTextNode(line))
        svg.appendChild(text)
    inner.setAttribute("x", f"{(width - bar_w) / 2:.3f}")
    inner.setAttribute("y", f"{top:.3f}")
    inner.setAttribute("width", f"{bar_w:.3f}")
    inner.setAttribute("height", f"{bar_h:.3f}")
    # python-barcode draws in "mm" units (3.7795 user units each): map them onto our mm grid.
    inner.setAttribute("viewBox", f"0 0 {bar_w * SVG_PX_PER_MM:.3f} {bar_h * SVG_PX_PER_MM:.3f}")
    inner.removeAttribute("xmlns")
    svg.appendChild(doc.importNode(inner, True))
    return doc.toxml(encoding="utf-8")
