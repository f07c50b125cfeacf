"""Printable labels: Code 128 and GS1-128 as PNG and SVG (python-barcode), and an A4 sheet.

Sizes are chosen on purpose, not python-barcode's defaults (0.2 mm modules, which at 200 dpi
is 1.6 px per module and stops decoding):

- narrow bar (module, "X") = 3 printer dots at 200 dpi = 0.381 mm (0.015"). At other dpi the
  module is a whole number of pixels, at least 3 (`module_px`), so every bar of a PNG has
  exactly the same width and nothing is lost to rounding. 0.381 mm is inside GS1-128's
  range for non-retail items and prints cleanly on 200/203 dpi thermal label printers.
- quiet zone 10 modules each side (GS1-128 and Code 128 minimum).
- bar height 12 mm, caption text below in a font that has Chinese glyphs when one is
  installed (`caption_font_path`).

An A4 sheet of labels (a batch's, or a set of devices'): `label_sheet_html` (print-ready
HTML, every label an inline SVG at true size in mm) or `label_sheet_pdf` (reportlab: the
bars as the PNG of `render_png` at `SHEET_PDF_DPI`, placed at true size, so a module is
still 0.381 mm; the captions as PDF text in the forms' CJK font, audits.forms.cjk_font).

GS1-128: python-barcode's `Gs1_128` prepends FNC1 (its character "\\xf1", Code 128 value
102, the same in code sets A, B and C) to the data; we pass the element string with each GS
separator replaced by that same FNC1 character, so a reader returns GS between fields and
drops the leading FNC1 (exactly what `scanning.codec.parse` expects).
"""

from __future__ import annotations

import html
import io
import os
import re
import xml.dom.minidom
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from barcode.codex import Code128, Gs1_128
from barcode.writer import ImageWriter, SVGWriter
from PIL import Image, ImageDraw, ImageFont

from scanning import codec

__all__ = [
    "BAR_HEIGHT_MM",
    "DEFAULT_DPI",
    "Label",
    "X_MM",
    "batch_label",
    "device_label",
    "label_sheet_html",
    "label_sheet_pdf",
    "module_px",
    "render_png",
    "render_svg",
]

DEFAULT_DPI = 200
X_MM = 0.381  # target module width: 3 dots at 200 dpi
MIN_MODULE_PX = 3
QUIET_MODULES = 10
BAR_HEIGHT_MM = 12.0
CAPTION_PT = 8.0  # caption font size
CAPTION_GAP_MM = 1.5
MARGIN_MM = 2.0
FNC1 = Gs1_128.FNC1_CHAR

_CJK_FONTS = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
    "/usr/share/fonts/truetype/arphic/uming.ttc",
    "/System/Library/Fonts/PingFang.ttc",
    "C:/Windows/Fonts/msyh.ttc",
)
_SVG_FONT_FAMILY = ("'Noto Sans CJK SC','Source Han Sans SC','Microsoft YaHei','PingFang SC',"
                    "'WenQuanYi Micro Hei','Droid Sans Fallback',sans-serif")


@dataclass(frozen=True)
class Label:
    """One label: what the barcode encodes and the lines printed under it.

    For GS1 (`gs1=True`) `text` is the element string (GS between fields, as `codec.render_gs1`
    makes it) or the printed "(01)...(17)..." form; the first caption line is then the HRI."""

    text: str
    gs1: bool = False
    caption_lines: tuple[str, ...] = field(default_factory=tuple)


class _PixelExactWriter(ImageWriter):
    """python-barcode's ImageWriter, with module edges rounded to the nearest pixel: its own
    `_paint_module` truncates float millimetre positions, so 3-px bars come out 2 or 4 px."""

    def _paint_module(self, xpos: float, ypos: float, width: float, color) -> None:
        dots = self.dpi / 25.4
        x0, x1 = round(xpos * dots), round((xpos + width) * dots)
        y0, y1 = round(ypos * dots), round((ypos + self.module_height) * dots)
        if x1 > x0:
            self._draw.rectangle([(x0, y0), (x1 - 1, y1 - 1)], outline=color, fill=color)


def module_px(dpi: int) -> int:
    """Pixels per module at `dpi`: the whole number nearest to `X_MM`, at least 3."""
    return max(MIN_MODULE_PX, round(X_MM * dpi / 25.4))


def _caption_fonts(size: int) -> tuple[ImageFont.FreeTypeFont, ImageFont.FreeTypeFont]:
    """(Latin font, CJK font) at `size` px. Fallback fonts such as Droid Sans Fallback have
    Chinese glyphs but no Latin ones, so captions are drawn in runs, one font per run."""
    latin = ImageFont.truetype(ImageWriter().font_path, size)
    return latin, ImageFont.truetype(caption_font_path(), size)


def _runs(line: str, fonts: tuple[ImageFont.FreeTypeFont, ImageFont.FreeTypeFont]):
    """Split `line` into (text, font) runs: Latin-1 in the Latin font, the rest in the CJK one."""
    runs: list[tuple[str, ImageFont.FreeTypeFont]] = []
    for ch in line:
        font = fonts[0] if ord(ch) < 0x250 else fonts[1]
        if runs and runs[-1][1] is font:
            runs[-1] = (runs[-1][0] + ch, font)
        else:
            runs.append((ch, font))
    return runs


@lru_cache(maxsize=1)
def caption_font_path() -> str:
    """A TrueType font with Chinese glyphs if one is installed ($LABEL_FONT first), else
    python-barcode's DejaVu Sans Mono (Latin only)."""
    candidates = [os.environ.get("LABEL_FONT", ""), *_CJK_FONTS]
    for path in candidates:
        if path and Path(path).is_file():
            return path
    return ImageWriter().font_path


def _symbol(text: str, gs1: bool) -> tuple[Code128, str]:
    """The python-barcode symbol and the human-readable line for it."""
    if gs1:
        payload = codec.parse(text)
        if not isinstance(payload, codec.Gs1Payload):
            reason = payload.reason if isinstance(payload, codec.ScanError) else f"not GS1: {text!r}"
            raise ValueError(f"cannot print as GS1-128: {reason}")
        return Gs1_128(payload.element_string.replace(codec.GS, FNC1)), payload.hri
    if not text or not all(" " <= ch <= "~" or "\xa0" <= ch <= "\xff" for ch in text):
        raise ValueError(f"Code 128 carries printable Latin-1 text only: {text!r}")
    return Code128(text), text


def _options(dpi: int) -> dict:
    x_mm = module_px(dpi) * 25.4 / dpi
    return {
        "module_width": x_mm,
        "module_height": BAR_HEIGHT_MM,
        "quiet_zone": QUIET_MODULES * x_mm,
        "margin_top": MARGIN_MM,
        "margin_bottom": 0.0,
        "write_text": False,
        "dpi": dpi,
        "background": "white",
        "foreground": "black",
    }


def _lines(human: str, caption_lines: Iterable[str] | None) -> list[str]:
    return [human, *[line for line in (caption_lines or ()) if line]]


def render_png(text: str, *, gs1: bool = False, caption_lines: Sequence[str] | None = None,
               dpi: int = DEFAULT_DPI) -> bytes:
    """PNG (grayscale, dpi recorded) of a Code 128 or GS1-128 label with its caption."""
    symbol, human = _symbol(text, gs1)
    symbol.writer = _PixelExactWriter(mode="L", dpi=dpi)
    bars: Image.Image = symbol.render(_options(dpi))
    lines = _lines(human, caption_lines)
    px_per_mm = dpi / 25.4
    fonts = _caption_fonts(max(8, round(CAPTION_PT / 72 * dpi)))
    runs = [_runs(line, fonts) for line in lines]
    widths = [sum(font.getlength(chunk) for chunk, font in line_runs) for line_runs in runs]
    ascent, descent = fonts[0].getmetrics()
    line_h = ascent + descent + round(0.4 * px_per_mm)
    margin = round(MARGIN_MM * px_per_mm)
    width = max(bars.width, int(max(widths, default=0)) + 2 * margin)
    height = bars.height + round(CAPTION_GAP_MM * px_per_mm) + line_h * len(lines) + margin
    canvas = Image.new("L", (width, height), 255)
    canvas.paste(bars, ((width - bars.width) // 2, 0))
    draw = ImageDraw.Draw(canvas)
    y = bars.height + round(CAPTION_GAP_MM * px_per_mm)
    for line_runs, line_w in zip(runs, widths, strict=True):
        x = (width - line_w) / 2
        for chunk, font in line_runs:
            draw.text((x, y + ascent), chunk, font=font, fill=0, anchor="ls")
            x += font.getlength(chunk)
        y += line_h
    out = io.BytesIO()
    canvas.save(out, format="PNG", dpi=(dpi, dpi), optimize=True)
    return out.getvalue()


def render_svg(text: str, *, gs1: bool = False, caption_lines: Sequence[str] | None = None,
               dpi: int = DEFAULT_DPI) -> bytes:
    """SVG (sizes in mm, so it prints at true size) of the same label as `render_png`.

    `dpi` only picks the module width, so that SVG and PNG match dot for dot on a printer
    of that resolution."""
    symbol, human = _symbol(text, gs1)
    symbol.writer = SVGWriter()
    options = _options(dpi)
    options.pop("dpi")
    raw = symbol.render(options)
    doc = xml.dom.minidom.parseString(raw)
    root = doc.documentElement
    bar_w = _mm(root.getAttribute("width"))
    bar_h = _mm(root.getAttribute("height"))
    lines = _lines(human, caption_lines)
    line_mm = CAPTION_PT * 25.4 / 72 * 1.25
    # A rough width estimate (CJK glyphs are ~1 em, Latin ~0.6 em) to keep long captions inside.
    em_mm = CAPTION_PT * 25.4 / 72
    text_w = max((sum(1.0 if ord(ch) > 0x2E80 else 0.6 for ch in line) * em_mm for line in lines), default=0)
    width = max(bar_w, text_w + 2 * MARGIN_MM)
    height = bar_h + CAPTION_GAP_MM + line_mm * len(lines) + MARGIN_MM
    group = doc.getElementsByTagName("g")[0]
    shift = (width - bar_w) / 2
    if shift:
        group.setAttribute("transform", f"translate({shift:.3f} 0)")
    root.setAttribute("width", f"{width:.3f}mm")
    root.setAttribute("height", f"{height:.3f}mm")
    root.setAttribute("viewBox", f"0 0 {width:.3f} {height:.3f}")
    # python-barcode writes coordinates with a "mm" suffix; with a viewBox in mm, drop it.
    for rect in doc.getElementsByTagName("rect"):
        for attr in ("x", "y", "width", "height"):
            value = rect.getAttribute(attr)
            if value.endswith("mm"):
                rect.setAttribute(attr, value[:-2])
    background = doc.createElement("rect")
    for key, value in (("x", "0"), ("y", "0"), ("width", f"{width:.3f}"), ("height", f"{height:.3f}"),
                       ("style", "fill:white")):
        background.setAttribute(key, value)
    root.insertBefore(background, group)
    y = bar_h + CAPTION_GAP_MM + em_mm
    for line in lines:
        node = doc.createElement("text")
        node.setAttribute("x", f"{width / 2:.3f}")
        node.setAttribute("y", f"{y:.3f}")
        node.setAttribute("text-anchor", "middle")
        node.setAttribute("style", f"font-size:{em_mm:.3f}px;font-family:{_SVG_FONT_FAMILY};fill:black")
        node.appendChild(doc.createTextNode(line))
        root.appendChild(node)
        y += line_mm
    for child in list(root.childNodes):
        if child.nodeType == child.COMMENT_NODE:
            root.removeChild(child)
    return root.toxml(encoding=None).encode("utf-8")


def _mm(value: str) -> float:
    match = re.fullmatch(r"\s*([0-9.]+)\s*mm\s*", value)
    if not match:
        raise ValueError(f"unexpected SVG size {value!r}")
    return float(match[1])


# --- label kinds ---------------------------------------------------------------------------------


def batch_label(*, product_id: int, lot: str, expiry=None, gtin: str | None = None,
                caption_lines: Sequence[str] = ()) -> Label:
    """A batch label: GS1-128 (01)(17)(10) when the product has a GTIN and the lot fits GS1
    (at most 20 characters of GS1's set 82), else Code 128 of `BT-<product id>-<lot>`."""
    if gtin and expiry is not None:
        try:
            return Label(codec.render_gs1(gtin, expiry, lot), gs1=True, caption_lines=tuple(caption_lines))
        except ValueError:
            pass
    return Label(codec.batch_label_text(product_id, lot), caption_lines=tuple(caption_lines))


def device_label(device_id: int | str, *, caption_lines: Sequence[str] = ()) -> Label:
    """A device asset tag label: Code 128 of `DV-<device id, 8 digits>` (see the codec).
    inventory/devices/labels.py gives a registered device's label with its caption."""
    return Label(codec.device_tag_text(device_id), caption_lines=tuple(caption_lines))


def label_sheet_html(labels: Iterable[Label], *, title: str = "", dpi: int = DEFAULT_DPI) -> str:
    """A print-ready A4 HTML page with every label as inline SVG at true size (mm)."""
    cells = []
    for label in labels:
        svg = render_svg(label.text, gs1=label.gs1, caption_lines=label.caption_lines, dpi=dpi).decode("utf-8")
        cells.append(f'<div class="label">{svg}</div>')
    heading = f"<h1>{html.escape(title)}</h1>" if title else ""
    return f"""<!DOCTYPE html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<title>{html.escape(title or "labels")}</title>
<style>
@page {{ size: A4 portrait; margin: 10mm; }}
html, body {{ margin: 0; padding: 0; background: white; }}
body {{ width: 190mm; font-family: {_SVG_FONT_FAMILY}; }}
h1 {{ font-size: 11pt; margin: 0 0 4mm 0; }}
.sheet {{ display: flex; flex-wrap: wrap; gap: 4mm; align-items: flex-start; }}
.label {{ border: 0.2mm dashed #bbb; padding: 1mm; break-inside: avoid; page-break-inside: avoid; }}
.label svg {{ display: block; }}
@media print {{ .label {{ border-color: #ddd; }} }}
</style>
</head>
<body>
{heading}
<div class="sheet">
{chr(10).join(cells)}
</div>
</body>
</html>
"""


SHEET_PDF_DPI = 600  # 9 px per module: 0.381 mm, the same module as at 200 dpi
SHEET_MARGIN_MM = 10.0
SHEET_GAP_MM = 4.0
CELL_PADDING_MM = 1.5


def label_sheet_pdf(labels: Iterable[Label], *, title: str = "") -> bytes:
    """The same sheet as `label_sheet_html`, as an A4 PDF: labels flow left to right and top
    to bottom at true size, a light dashed cut line round each, onto as many pages as needed."""
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import mm
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfbase.pdfmetrics import stringWidth
    from reportlab.pdfgen import canvas

    from audits.forms import cjk_font

    font, _embedded = cjk_font()
    line_mm = CAPTION_PT * 25.4 / 72 * 1.25
    page_w, page_h = A4[0] / mm, A4[1] / mm
    usable_w = page_w - 2 * SHEET_MARGIN_MM
    out = io.BytesIO()
    pdf = canvas.Canvas(out, pagesize=A4, pageCompression=1)
    pdf.setTitle(title or "labels")
    top = page_h - SHEET_MARGIN_MM

    def heading() -> float:
        if not title:
            return top
        pdf.setFont(font, 11)
        pdf.drawString(SHEET_MARGIN_MM * mm, (top - 4) * mm, title)
        return top - 8

    y = heading()  # the top of the current row, in mm from the page's bottom
    x, row_h, on_page = SHEET_MARGIN_MM, 0.0, 0
    for label in labels:
        png = render_png(label.text, gs1=label.gs1, dpi=SHEET_PDF_DPI)  # the bars and the HRI line
        image = Image.open(io.BytesIO(png))
        img_w, img_h = image.width * 25.4 / SHEET_PDF_DPI, image.height * 25.4 / SHEET_PDF_DPI
        captions = [line for line in label.caption_lines if line]
        sizes = [min(CAPTION_PT, CAPTION_PT * img_w / max(stringWidth(line, font, CAPTION_PT) / mm, 1e-6))
                 for line in captions]  # a caption wider than the bars is set smaller, never cut
        cell_w = img_w + 2 * CELL_PADDING_MM
        cell_h = img_h + line_mm * len(captions) + 2 * CELL_PADDING_MM
        if x > SHEET_MARGIN_MM and x + cell_w > SHEET_MARGIN_MM + usable_w:  # next row
            x, y, row_h = SHEET_MARGIN_MM, y - row_h - SHEET_GAP_MM, 0.0
        if y - cell_h < SHEET_MARGIN_MM and on_page:  # next page
            pdf.showPage()
            x, y, row_h, on_page = SHEET_MARGIN_MM, top, 0.0, 0
        pdf.setStrokeColorRGB(0.75, 0.75, 0.75)
        pdf.setLineWidth(0.2 * mm)
        pdf.setDash(1 * mm, 1 * mm)
        pdf.rect(x * mm, (y - cell_h) * mm, cell_w * mm, cell_h * mm, stroke=1, fill=0)
        pdf.drawImage(ImageReader(image), (x + CELL_PADDING_MM) * mm, (y - CELL_PADDING_MM - img_h) * mm,
                      width=img_w * mm, height=img_h * mm)
        baseline = y - CELL_PADDING_MM - img_h
        for line, size in zip(captions, sizes, strict=True):
            baseline -= line_mm
            pdf.setFont(font, size)
            pdf.drawCentredString((x + cell_w / 2) * mm, (baseline + 0.6) * mm, line)
        x += cell_w + SHEET_GAP_MM
        row_h, on_page = max(row_h, cell_h), on_page + 1
    pdf.showPage()
    pdf.save()
    return out.getvalue()
