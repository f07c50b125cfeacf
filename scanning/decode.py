"""Find and read every barcode in a photo.

`decode_image(image)` takes an already opened (and already validated: see the shared upload
pipeline) PIL image and returns every code found, each with its symbology, raw text,
position, which decoder read it and the payload `scanning.codec.parse` makes of it.

Passes, cheapest first; a later pass runs only if the earlier ones found nothing:

1. pyzbar (libzbar) on the grayscale image: Code 128 / GS1-128, EAN/UPC, QR, GS1 DataBar
   (only these are enabled, which also makes it faster than `pyzbar.decode`'s all-on). We walk libzbar's symbols ourselves (same calls as `pyzbar.decode`) to also read the
   symbol's modifiers: libzbar flags GS1 (FNC1 in first position) there, which pyzbar's
   `Decoded` leaves out. Alongside, always, zxing-cpp restricted to DataMatrix on the same
   image (pyzbar reads no DataMatrix at all, and GS1 DataMatrix is how imported packs are
   marked), with its slow options off. Each Code 128 read by pyzbar is re-read by zxing-cpp
   on a crop around it: libzbar ignores FNC4 and silently returns Latin-1 text with the
   high bit stripped ("ó" -> "s"); zxing-cpp's text wins when it is that text with the
   high bits set.
2. zxing-cpp, all formats, with its own rotation/downscale/inversion tries.
3. Preprocessed variants, until something reads: downscale big photos, autocontrast,
   upscale small ones, sharpen (each through pyzbar, then zxing-cpp), then turn by 15-degree
   steps for photos taken askew (pyzbar).
Passes after the first start only within `time_budget` (1 s by default) from the call.
`first="zxing-cpp"` swaps the order of 1 and 2 (faster on our corpus, same read rate);
`max_side` downscales huge photos before the first pass (see `decode_image`).

Text follows the corpus convention: no AIM prefix, GS1 leading FNC1 dropped, later FNC1s as
GS (0x1D). `DecodedCode.aim` keeps the AIM identifier when the decoder told us (zxing-cpp
always; libzbar through the GS1 modifier), and the payload is parsed with it.
"""

from __future__ import annotations

import io
import math
import time
from collections.abc import Callable, Iterable
from ctypes import POINTER, c_uint, c_void_p, cast, string_at
from dataclasses import dataclass

import zxingcpp
from django.utils.translation import gettext
from PIL import Image, ImageFilter, ImageOps
from pyzbar import pyzbar as _pyzbar
from pyzbar import wrapper as _zbar

from scanning import codec

__all__ = ["DecodeError", "DecodedCode", "decode_bytes", "decode_image"]

PYZBAR = "pyzbar"
ZXING = "zxing-cpp"

# Preprocessing limits.
BIG_SIDE = 1600  # a photo whose long side is above this is also tried downscaled to it
SMALL_SIDE = 400  # an image whose long side is below 2x this is also tried upscaled 2x
ROTATIONS = (15, 30, 45, 60, 75, 105, 120, 135, 150, 165)  # degrees, for photos taken askew
DECODE_BUDGET_S = 1.0  # after the first pass, nothing new is started once this is spent

_ZBAR_SYMBOLS = (
    _zbar.ZBarSymbol.CODE128,
    _zbar.ZBarSymbol.EAN13,
    _zbar.ZBarSymbol.EAN8,
    _zbar.ZBarSymbol.UPCA,
    _zbar.ZBarSymbol.UPCE,
    _zbar.ZBarSymbol.QRCODE,
    _zbar.ZBarSymbol.DATABAR,
    _zbar.ZBarSymbol.DATABAR_EXP,
)
_ZBAR_DISABLE = tuple(set(_zbar.ZBarSymbol).difference(_ZBAR_SYMBOLS))
_ZBAR_NAMES = {
    "CODE128": "code128",
    "EAN13": "ean13",
    "EAN8": "ean8",
    "UPCA": "upca",
    "UPCE": "upce",
    "QRCODE": "qr",
    "DATABAR": "databar",
    "DATABAR_EXP": "databar-expanded",
}
# The AIM identifier of GS1 content per symbology (libzbar gives a flag, not an identifier).
_GS1_AIM = {"code128": "]C1", "qr": "]Q3", "datamatrix": "]d2", "databar": "]e0", "databar-expanded": "]e0"}
_ZBAR_GS1_AIM = _GS1_AIM
# libzbar names EAN/UPC symbols without an AIM identifier; these say which: the codec reads an
# 8-digit ]E0 as a UPC-E (zero-suppressed UPC-A), an 8-digit ]E4 as an EAN-8.
_ZBAR_EAN_AIM = {"ean13": "]E0", "upca": "]E0", "upce": "]E0", "ean8": "]E4"}
_ZXING_NAMES = {
    "Code128": "code128",
    "DataMatrix": "datamatrix",
    "QRCode": "qr",
    "MicroQRCode": "qr",
    "EAN13": "ean13",
    "EAN8": "ean8",
    "UPCA": "upca",
    "UPCE": "upce",
    "DataBar": "databar",
    "DataBarOmni": "databar",
    "DataBarExp": "databar-expanded",
    "ITF": "itf",
    "Code39": "code39",
    "PDF417": "pdf417",
    "Aztec": "aztec",
}

try:
    _zbar_symbol_get_modifiers = _zbar.zbar_function(
        "zbar_symbol_get_modifiers", c_uint, POINTER(_zbar.zbar_symbol)
    )
except AttributeError:  # an old libzbar: GS1 is then recognised by parsing only
    _zbar_symbol_get_modifiers = None
_ZBAR_MOD_GS1 = 1 << 0


class DecodeError(ValueError):
    """The bytes are not an image Pillow can open."""


@dataclass(frozen=True)
class DecodedCode:
    symbology: str  # code128, gs1-128, ean13, ean8, upca, upce, qr, gs1-qr, datamatrix, gs1-datamatrix...
    text: str  # corpus convention: no AIM prefix, GS1 FNC1 as GS except the leading one
    rect: tuple[int, int, int, int]  # left, top, width, height in the input image's pixels
    polygon: tuple[tuple[int, int], ...]
    decoder: str  # "pyzbar" or "zxing-cpp"
    payload: codec.Payload | codec.ScanError
    aim: str | None = None  # AIM symbology identifier when known, e.g. "]C1", "]d2"
    stage: str = "first"  # which pass read it: "first", "zxing", or "pre:<variant>"

    def as_dict(self) -> dict:
        left, top, width, height = self.rect
        return {
            "symbology": self.symbology,
            "text": self.text,
            "aim": self.aim,
            "decoder": self.decoder,
            "stage": self.stage,
            "position": {"left": left, "top": top, "width": width, "height": height,
                         "polygon": [list(p) for p in self.polygon]},
            "payload": self.payload.as_dict(),
        }


# A transform maps points of a variant image back to the input image.
Transform = Callable[[float, float], tuple[float, float]]


def _identity(x: float, y: float) -> tuple[float, float]:
    return x, y


@dataclass
class _Raw:
    decoder: str
    symbology: str  # without the gs1- prefix
    text: str
    aim: str | None
    points: list[tuple[float, float]]


# --- decoders ------------------------------------------------------------------------------------


def _zbar_read(gray: Image.Image) -> list[_Raw]:
    """libzbar via pyzbar's ctypes bindings, like `pyzbar.decode`, plus the GS1 modifier."""
    pixels = gray.tobytes()
    width, height = gray.size
    out: list[_Raw] = []
    with _pyzbar._image_scanner() as scanner:
        # As pyzbar does: disabling ZBAR_NONE (0) disables every symbology, so re-enable ours.
        for symbol in _ZBAR_DISABLE:
            _zbar.zbar_image_scanner_set_config(scanner, symbol, _zbar.ZBarConfig.CFG_ENABLE, 0)
        for symbol in _ZBAR_SYMBOLS:
            _zbar.zbar_image_scanner_set_config(scanner, symbol, _zbar.ZBarConfig.CFG_ENABLE, 1)
        with _pyzbar._image() as img:
            _zbar.zbar_image_set_format(img, _pyzbar._FOURCC["L800"])
            _zbar.zbar_image_set_size(img, width, height)
            _zbar.zbar_image_set_data(img, cast(pixels, c_void_p), len(pixels), None)
            if _zbar.zbar_scan_image(scanner, img) <= 0:
                return out
            for symbol in _pyzbar._symbols_for_image(img):
                data = string_at(_zbar.zbar_symbol_get_data(symbol), _zbar.zbar_symbol_get_data_length(symbol))
                try:
                    name = _ZBAR_NAMES.get(_zbar.ZBarSymbol(symbol.contents.type).name, "other")
                except ValueError:
                    name = "other"
                gs1 = bool(_zbar_symbol_get_modifiers and _zbar_symbol_get_modifiers(symbol) & _ZBAR_MOD_GS1)
                points = [
                    (_zbar.zbar_symbol_get_loc_x(symbol, i), _zbar.zbar_symbol_get_loc_y(symbol, i))
                    for i in range(_zbar.zbar_symbol_get_loc_size(symbol))
                ]
                aim = _ZBAR_GS1_AIM.get(name) if gs1 else _ZBAR_EAN_AIM.get(name)
                out.append(_Raw(PYZBAR, name, _zbar_text(data, name), aim, points))
    return out


def _zbar_text(data: bytes, name: str) -> str:
    if name == "qr":  # libzbar transcodes QR text to UTF-8
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            pass
    return data.decode("latin-1")


def _zxing_read(gray: Image.Image, formats: Iterable[zxingcpp.BarcodeFormat] | None = None,
                *, fast: bool = False) -> list[_Raw]:
    kwargs: dict = {"text_mode": zxingcpp.TextMode.Plain}
    if formats is not None:
        kwargs["formats"] = list(formats)
    if fast:
        kwargs.update(try_rotate=False, try_downscale=False, try_invert=False)
    out = []
    for r in zxingcpp.read_barcodes(gray, **kwargs):
        aim = r.symbology_identifier or None
        name = _ZXING_NAMES.get(r.format.name, r.format.name.lower())
        if r.content_type == zxingcpp.ContentType.GS1 and aim not in codec.GS1_SYMBOLOGIES:
            # zxing-cpp says GS1 but gives a non-standard modifier (seen: "]d8"): use the standard one
            aim = _GS1_AIM.get(name, aim)
        p = r.position
        points = [(p.top_left.x, p.top_left.y), (p.top_right.x, p.top_right.y),
                  (p.bottom_right.x, p.bottom_right.y), (p.bottom_left.x, p.bottom_left.y)]
        out.append(_Raw(ZXING, name, r.text, aim, points))
    return out


def _fix_latin1(gray: Image.Image, found: list[_Raw]) -> None:
    """Re-read each libzbar Code 128 with zxing-cpp on a crop around it (see module doc)."""
    for raw in found:
        if raw.decoder != PYZBAR or raw.symbology != "code128" or raw.aim or not raw.points:
            continue
        xs = [x for x, _ in raw.points]
        ys = [y for _, y in raw.points]
        width = max(xs) - min(xs)
        margin_x = max(20, width // 4)
        margin_y = max(10, (max(ys) - min(ys)) // 2)
        box = (max(0, min(xs) - margin_x), max(0, min(ys) - margin_y),
               min(gray.width, max(xs) + margin_x), min(gray.height, max(ys) + margin_y + 1))
        for other in _zxing_read(gray.crop(box), [zxingcpp.BarcodeFormat.Code128], fast=True):
            if other.text != raw.text and _strip_high_bits(other.text) == raw.text:
                raw.text, raw.decoder = other.text, ZXING
                raw.aim = other.aim
                break


def _strip_high_bits(text: str) -> str:
    return "".join(chr(ord(c) & 0x7F) if ord(c) < 256 else c for c in text)


# --- passes --------------------------------------------------------------------------------------


def _first_pass(gray: Image.Image) -> list[_Raw]:
    found = _zbar_read(gray)
    _fix_latin1(gray, found)
    found += _zxing_read(gray, [zxingcpp.BarcodeFormat.DataMatrix], fast=True)
    return found


def _variants(gray: Image.Image) -> Iterable[tuple[str, Image.Image, Transform, bool]]:
    """Preprocessed versions of `gray`: (name, image, map back to `gray`, also try zxing-cpp).

    Rotations are by 15-degree steps, not 90/180/270: libzbar scans rows and columns and
    reads 1D codes both ways, zxing-cpp tries 90 degrees itself, and matrix codes do not care,
    so quarter turns never rescue anything; a photo taken askew does need turning (a wide
    label at 200 dpi reads only within about 10 degrees of an axis)."""
    long_side = max(gray.size)
    base, base_scale = gray, 1.0
    if long_side > BIG_SIDE:
        base_scale = BIG_SIDE / long_side
        base = gray.resize((max(1, round(gray.width * base_scale)), max(1, round(gray.height * base_scale))),
                           Image.Resampling.LANCZOS)
        yield "down", base, _scaled(base_scale), True
    contrast = ImageOps.autocontrast(base, cutoff=2)
    yield "autocontrast", contrast, _scaled(base_scale), True
    if max(base.size) < SMALL_SIDE * 2:
        yield ("up2", base.resize((base.width * 2, base.height * 2), Image.Resampling.LANCZOS),
               _scaled(base_scale * 2), True)
    yield "sharpen", base.filter(ImageFilter.SHARPEN), _scaled(base_scale), True
    for angle in ROTATIONS:
        turned = contrast.rotate(angle, resample=Image.Resampling.BILINEAR, expand=True, fillcolor=255)
        yield f"rot{angle}", turned, _rotated(angle, contrast.size, turned.size, base_scale), False


def _scaled(scale: float) -> Transform:
    def back(x: float, y: float) -> tuple[float, float]:
        return x / scale, y / scale

    return back


def _rotated(angle: float, size: tuple[int, int], turned_size: tuple[int, int], scale: float) -> Transform:
    """Inverse of PIL's `rotate(angle, expand=True)` (counter-clockwise about the centre)."""
    cos, sin = math.cos(math.radians(angle)), math.sin(math.radians(angle))
    cx, cy = size[0] / 2, size[1] / 2
    tx, ty = turned_size[0] / 2, turned_size[1] / 2

    def back(x: float, y: float) -> tuple[float, float]:
        dx, dy = x - tx, y - ty
        ox = cx + cos * dx - sin * dy
        oy = cy + sin * dx + cos * dy
        return ox / scale, oy / scale

    return back


# --- public API ----------------------------------------------------------------------------------


def decode_image(image: Image.Image, *, first: str = PYZBAR, time_budget: float = DECODE_BUDGET_S,
                 max_side: int | None = None) -> list[DecodedCode]:
    """Every code found in `image` (an opened PIL image), duplicates removed.

    `first`: which decoder leads: "pyzbar" (the default, as issue 5 asks: pyzbar, plus the
    DataMatrix pass, then zxing-cpp as a second try) or "zxing-cpp" (zxing-cpp on all
    formats, then pyzbar as the second try; bench/decode.py measures both).
    `time_budget` (seconds, from the call): the first pass always runs; the second try and
    each preprocessing variant start only while time is left. Photos with no code but many
    edges (noise, text) are slow for both decoders: ~1.3 s for libzbar on a 3 MP noise image.
    `max_side`: if given, a larger image is downscaled to it before the first pass (off by
    default: the issue asks to downscale only when the first pass finds nothing)."""
    deadline = time.monotonic() + time_budget
    gray = _to_gray(image)
    scale = 1.0
    if max_side and max(gray.size) > max_side:
        scale = max_side / max(gray.size)
        gray = gray.resize((max(1, round(gray.width * scale)), max(1, round(gray.height * scale))),
                           Image.Resampling.LANCZOS)
    size = image.size
    if first == PYZBAR:
        stages: list[tuple[str, Callable[[], list[_Raw]]]] = [
            ("first", lambda: _first_pass(gray)),
            ("zxing", lambda: _zxing_read(gray)),
        ]
    elif first == ZXING:
        stages = [("first", lambda: _zxing_read(gray)), ("pyzbar", lambda: _zbar_read(gray))]
    else:
        raise ValueError(f"first must be {PYZBAR!r} or {ZXING!r}, not {first!r}")
    for index, (stage, read) in enumerate(stages):
        if index and time.monotonic() > deadline:
            return []
        found = read()
        if found:
            return _finish(found, _scaled(scale), stage, size)
    for name, variant, back, with_zxing in _variants(gray):
        if time.monotonic() > deadline:
            break
        found = _zbar_read(variant)
        _fix_latin1(variant, found)
        if not found and with_zxing and time.monotonic() <= deadline:
            found = _zxing_read(variant)
        if found:
            return _finish(found, _then(back, _scaled(scale)), f"pre:{name}", size)
    return []


def _then(first: Transform, second: Transform) -> Transform:
    def back(x: float, y: float) -> tuple[float, float]:
        return second(*first(x, y))

    return back


def _to_gray(image: Image.Image) -> Image.Image:
    """8-bit grayscale; transparent pixels become white (a label PNG with a transparent
    background would otherwise turn black, bars and all)."""
    if image.mode == "L":
        return image
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("L")
    return image.convert("L")


def decode_bytes(data: bytes) -> list[DecodedCode]:
    """Open `data` with Pillow (EXIF orientation applied) and decode it.

    No upload validation here: size, type and pixel limits are the upload pipeline's job."""
    try:
        image = Image.open(io.BytesIO(data))
        image.load()
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise DecodeError(gettext("not an image Pillow can read: %(error)s") % {"error": exc}) from exc
    return decode_image(ImageOps.exif_transpose(image) or image)


def _finish(found: list[_Raw], back: Transform, stage: str, size: tuple[int, int]) -> list[DecodedCode]:
    out: list[DecodedCode] = []
    seen: set[tuple[str, str]] = set()
    for raw in found:
        key = (raw.symbology, raw.text)
        if key in seen:
            continue
        seen.add(key)
        payload = codec.parse((raw.aim or "") + raw.text) if raw.aim else codec.parse(raw.text)
        # GS1 if the decoder said so, or if the content parses as GS1 (libzbar without the
        # modifier API, or writers that set an odd AIM modifier).
        gs1 = raw.aim in codec.GS1_SYMBOLOGIES or (
            isinstance(payload, codec.Gs1Payload) and raw.symbology in ("code128", "qr", "datamatrix"))
        symbology = f"gs1-{raw.symbology}" if gs1 and raw.symbology != "code128" else raw.symbology
        if gs1 and raw.symbology == "code128":
            symbology = "gs1-128"
        points = [back(x, y) for x, y in raw.points]
        polygon = tuple((_clamp(round(x), size[0]), _clamp(round(y), size[1])) for x, y in points)
        if polygon:
            xs = [x for x, _ in polygon]
            ys = [y for _, y in polygon]
            rect = (min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys))
        else:
            rect = (0, 0, 0, 0)
        out.append(DecodedCode(symbology=symbology, text=raw.text, rect=rect, polygon=polygon,
                               decoder=raw.decoder, payload=payload, aim=raw.aim, stage=stage))
    return out


def _clamp(value: int, limit: int) -> int:
    return max(0, min(limit - 1, value))
