"""One codec for everything a scanner or a photo can hand us.

`parse(raw)` turns the text a handheld scanner types (keyboard wedge) or a decoder reads
from a photo into a typed payload, or a typed `ScanError` with a stable `code` and a reason
a person can act on. It never raises and never touches the database.

What it recognises, in this order:

1. **Our own labels** (`OwnLabelPayload`), by prefix. Both prefixes start with letters, so
   they cannot collide with a GS1 element string (starts with a digit AI, `(` in the
   printed form, or an AIM identifier `]xx`) nor with a China traceability code (digits):
   - `DV-<device id>`: a device asset tag (`DEVICE_TAG_PREFIX`), as inventory/devices
     makes it: "DV-" + the device's primary key zero-padded to 8 digits ("DV-00000042").
     A shorter number typed by hand ("DV-42") is padded the same way; `device_tag` is the
     asset tag stored on the device, `device_id` its primary key.
   - `BT-<product id>-<lot>`: a batch label for a product without a GTIN
     (`BATCH_LABEL_PREFIX`); `<product id>` is the drug product's primary key (digits, no
     leading zero), `<lot>` its lot number as printed (may itself contain `-`).
   Products with a GTIN get a GS1-128 label instead: (01) GTIN (17) expiry (10) lot.
2. **GS1** (`Gs1Payload`) when an AIM symbology identifier says so (`]C1`, `]d2`, `]Q3`,
   `]e0`, ...): parsed as GS1 or refused, never downgraded to plain text.
3. **China drug traceability code** (`TraceCodePayload`, 药品追溯码): 20 digits starting
   with 8. Checked before untagged GS1, because 8004, 8020, 8110, 8112 and 8200 are also
   GS1 AIs and a trace code would otherwise parse as one.
4. **GS1 without a symbology identifier**: the printed form `(01)...(17)...(10)...`, an
   element string containing a separator, or digits starting with `01` + 14 digits that
   tokenise as GS1 AIs (pyzbar drops the leading FNC1 of GS1-128 without a flag, so GS1
   content is recognised by parsing), and GS1 Digital Link URIs carrying an (01).
5. **Anything else** (`PlainPayload`): free text, with `gtin` set when it is a bare
   GTIN-8/12/13/14 whose check digit is right (an EAN-13 on a pack, say).

Keyboard-wedge quirks handled: surrounding whitespace and CR/LF, AIM prefixes, full-width
characters typed by a Chinese input method, the GS separator arriving as the 0x1D byte,
`<GS>`, `{GS}`, `[GS]`, `^]`, `␝` or the escape text `\\x1d` / `\\u001d`, and a leading
FNC1 sent as GS.

GS1 rules enforced (GS1 General Specifications): GTIN check digit; dates YYMMDD with day
00 meaning the last day of the month (the printed value is kept next to the date); lot
(10) and serial (21) at most 20 characters of the GS1 character set 82; unknown AIs
refused; a variable-length field that was not terminated by a separator and so swallowed
the fields after it is detected (see `_swallowed`) and refused with `swallowed_field`.

GS1 parsing uses biip for the AI table, values, GTIN and dates; the splitting of the
element string is ours, because biip silently cuts an over-long lot at 20 characters and
carries on parsing the remainder as further AIs.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar

from biip import ParseError
from biip.gs1_application_identifiers import _GS1_APPLICATION_IDENTIFIERS, GS1ApplicationIdentifier
from biip.gs1_element_strings import GS1ElementString


def gettext_noop(message: str) -> str:
    """Marks a message for makemessages (which looks for this name) without Django: the
    codec must work without settings; the API translates the template at answer time."""
    return message


__all__ = [
    "BATCH_LABEL_PREFIX",
    "DEVICE_TAG_PREFIX",
    "GS",
    "ERROR_CODES",
    "Gs1Payload",
    "OwnLabelPayload",
    "Payload",
    "PlainPayload",
    "ScanError",
    "TraceCodePayload",
    "batch_label_text",
    "device_tag_text",
    "gtin_check_digit",
    "gtin_is_valid",
    "lot_serial_readings",
    "parse",
    "render_gs1",
    "render_gs1_hri",
]

GS = "\x1d"
"""ASCII group separator: how FNC1 between GS1 fields reaches us."""

DEVICE_TAG_PREFIX = "DV-"
"""Device asset tags: `DV-<device id, 8 digits>`; the same as inventory.devices.labels
(ASSET_TAG_PREFIX, ASSET_TAG_RE), which this pure module cannot import (tests check)."""
DEVICE_ID_DIGITS = 8

BATCH_LABEL_PREFIX = "BT-"
"""Batch labels for products without a GTIN: `BT-<product id>-<lot>`."""

MAX_LOT = 20
MAX_SERIAL = 20
OWN_LABEL_MAX_BODY = 40

# GS1 AIM symbology identifiers (ISO/IEC 15424) whose content is a GS1 element string.
GS1_SYMBOLOGIES = frozenset({"]C1", "]d2", "]d5", "]Q3", "]Q5", "]e0", "]J1"})
# EAN/UPC: the content is a GTIN.
EAN_SYMBOLOGIES = frozenset({"]E0", "]E1", "]E2", "]E3", "]E4"})

ERROR_CODES: dict[str, str] = {
    "empty": "nothing was scanned",
    "unknown_ai": "a GS1 application identifier we do not know (or not GS1 at all)",
    "bad_gtin_check_digit": "the GTIN's check digit is wrong: misprint or misread",
    "bad_date": "a GS1 date that is not a date (YYMMDD, day 00 allowed)",
    "bad_value": "a GS1 value of the wrong length or with characters GS1 does not allow",
    "lot_too_long": "a lot (10) longer than 20 characters",
    "serial_too_long": "a serial (21) longer than 20 characters",
    "value_too_long": "another variable-length GS1 value longer than its maximum",
    "swallowed_field": "a variable-length field without a separator swallowed the next field",
    "conflicting_ai": "the same AI twice with different values",
    "bad_hri": "a printed (AI)value form that does not parse",
    "bad_own_label": "our label prefix with a malformed body",
    "not_text": "the input is not text",
    "nul_character": "a NUL character (0x00) inside the scan: no code carries one",
}

# --- results -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Base:
    kind: ClassVar[str] = ""

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly dict (dates as ISO strings), with `kind`; for logs and API bodies."""
        out: dict[str, Any] = {"kind": self.kind}
        for key, value in ((f.name, getattr(self, f.name)) for f in dataclasses.fields(self)):  # flat: no deep copy
            if isinstance(value, dt.date):
                value = value.isoformat()
            elif isinstance(value, tuple):
                value = [list(v) if isinstance(v, tuple) else v for v in value]
            out[key] = value
        return out

    @property
    def ok(self) -> bool:
        return True


@dataclass(frozen=True)
class Gs1Payload(_Base):
    """A GS1 element string. `gtin` is always 14 digits when present."""

    kind: ClassVar[str] = "gs1"
    raw: str
    element_string: str  # normalised: AIs in scan order, GS after each variable-length field
    hri: str  # "(01)09506000134352(17)261200(10)ABC"
    gtin: str | None = None
    lot: str | None = None
    serial: str | None = None
    expiry: dt.date | None = None  # day 00 resolved to the month's last day
    expiry_printed: str | None = None  # YYMMDD as encoded, e.g. "261200"
    production_date: dt.date | None = None
    production_printed: str | None = None
    other: tuple[tuple[str, str], ...] = ()  # every other (AI, value), in order
    symbology: str | None = None  # AIM identifier if the scanner sent one, e.g. "]C1"

    @property
    def sgtin(self) -> str | None:
        """"01<gtin>21<serial>": a pack's identity (a GS1 serial is unique only per GTIN)."""
        return f"01{self.gtin}21{self.serial}" if self.gtin and self.serial else None

    def as_dict(self) -> dict[str, Any]:
        return {**super().as_dict(), "sgtin": self.sgtin}


@dataclass(frozen=True)
class TraceCodePayload(_Base):
    """China drug traceability code (药品追溯码): 20 digits, the first 7 identify the product."""

    kind: ClassVar[str] = "trace"
    raw: str
    code: str  # the 20 digits
    product_code: str  # first 7 digits (药品标识码)
    rest: str  # the other 13 digits (pack serial + check part)
    symbology: str | None = None


@dataclass(frozen=True)
class OwnLabelPayload(_Base):
    """One of our labels. `label_kind` is "device" or "batch"."""

    kind: ClassVar[str] = "own_label"
    raw: str
    label_kind: str
    text: str  # the label text with the prefix normalised to upper case
    device_tag: str | None = None  # "DV-00000042": the device's asset tag
    device_id: int | None = None  # 42: the device's primary key
    product_id: int | None = None  # for a batch label
    lot: str | None = None  # for a batch label
    symbology: str | None = None


@dataclass(frozen=True)
class PlainPayload(_Base):
    """Anything else. `gtin` (14 digits) when the text is a bare GTIN with a valid check digit."""

    kind: ClassVar[str] = "plain"
    raw: str
    text: str
    gtin: str | None = None
    symbology: str | None = None


@dataclass(frozen=True)
class ScanError(_Base):
    """Why a scan could not be understood. `code` is one of `ERROR_CODES`."""

    kind: ClassVar[str] = "error"
    code: str
    reason: str
    raw: str = ""
    ai: str | None = None  # the GS1 AI concerned, if any
    symbology: str | None = None
    details: dict[str, str] = field(default_factory=dict)
    # `reason` is English (logs, tests); `template` % `params` is the same text, its template
    # marked for translation: `message` renders it in the active language (API replies).
    template: str = field(default="", compare=False, repr=False)
    params: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)
    # A `lot_too_long` whose lot holds a "21": the lot + serial it reads as if a GS came
    # before that "21" (`lot_serial_readings`). Not shown (as_dict) nor logged.
    readings: tuple[Gs1Payload, ...] = field(default=(), compare=False, repr=False)

    @property
    def ok(self) -> bool:
        return False

    @property
    def message(self) -> str:
        """The reason in the active language (Django's gettext; English if untranslated)."""
        if not self.template:
            return self.reason
        from django.utils.translation import gettext

        return gettext(self.template) % self.params

    def as_dict(self) -> dict[str, Any]:
        out = super().as_dict()
        out.pop("template", None)
        out.pop("params", None)
        out.pop("readings", None)
        return out

    def __hash__(self) -> int:  # details is a dict; hash on the stable parts
        return hash((self.code, self.reason, self.raw, self.ai))


Payload = Gs1Payload | TraceCodePayload | OwnLabelPayload | PlainPayload

# --- helpers ---------------------------------------------------------------------------------


def gtin_check_digit(body: str) -> int:
    """The GS1 mod-10 check digit for `body` (all digits but the check digit)."""
    total = sum(int(c) * (3 if i % 2 == 0 else 1) for i, c in enumerate(reversed(body)))
    return (10 - total % 10) % 10


def gtin_is_valid(value: str) -> bool:
    return (
        len(value) in (8, 12, 13, 14)
        and value.isascii()
        and value.isdigit()
        and gtin_check_digit(value[:-1]) == int(value[-1])
    )


def upce_to_upca(upce: str) -> str:
    """The 12-digit UPC-A a zero-suppressed 8-digit UPC-E (number system, six digits, check
    digit) stands for; the check digit is the same."""
    ns, d, check = upce[0], upce[1:7], upce[7]
    last = d[5]
    if last in "012":
        body = d[0:2] + last + "0000" + d[2:5]
    elif last == "3":
        body = d[0:3] + "00000" + d[3:5]
    elif last == "4":
        body = d[0:4] + "00000" + d[4]
    else:
        body = d[0:5] + "0000" + last
    return ns + body + check


def device_tag_text(device_id: int | str) -> str:
    """`DV-` + the device id zero-padded to 8 digits (also accepts "DV-42" / "42")."""
    body = str(device_id)
    if body.upper().startswith(DEVICE_TAG_PREFIX):
        body = body[len(DEVICE_TAG_PREFIX):]
    if not _DEVICE_BODY.fullmatch(body) or int(body) < 1:
        raise ValueError(f"bad device id {device_id!r}: a positive number")
    return f"{DEVICE_TAG_PREFIX}{int(body):0{DEVICE_ID_DIGITS}d}"


def batch_label_text(product_id: int, lot: str) -> str:
    """`BT-<product id>-<lot>`; raises ValueError on what would not read back the same."""
    text = f"{BATCH_LABEL_PREFIX}{int(product_id)}-{lot}"
    # A lot holding a wedge separator spelling (<GS>, ^]...) would be read back with a GS in it.
    if (int(product_id) < 1 or not _BATCH_BODY.fullmatch(text[len(BATCH_LABEL_PREFIX):])
            or _GS_TOKENS.search(lot)):
        raise ValueError(f"bad batch label for product {product_id!r}, lot {lot!r}")
    return text


def render_gs1(gtin: str, expiry: dt.date | str, lot: str | None, serial: str | None = None) -> str:
    """The GS1 element string (01)(17)(10)[(21)] with GS after each variable-length field
    but the last, as a scanner sends it once the leading FNC1 is dropped.

    `gtin`: GTIN-8/12/13/14 (padded to 14); `expiry`: a date or the printed YYMMDD (day 00
    allowed). Raises ValueError on anything that would not parse back to the same fields."""
    gtin14 = gtin.rjust(14, "0")
    if not gtin_is_valid(gtin14):
        raise ValueError(f"not a valid GTIN: {gtin!r}")
    printed = expiry.strftime("%y%m%d") if isinstance(expiry, dt.date) else str(expiry)
    if not re.fullmatch(r"\d{2}(0[1-9]|1[0-2])(0\d|[12]\d|3[01])", printed):
        raise ValueError(f"not a YYMMDD expiry: {expiry!r}")
    parts = [f"01{gtin14}", f"17{printed}"]
    for ai, value, limit in (("10", lot, MAX_LOT), ("21", serial, MAX_SERIAL)):
        if value is None:
            continue
        if not _CSET82.fullmatch(value) or len(value) > limit:
            raise ValueError(f"AI ({ai}) needs 1-{limit} characters of GS1 set 82: {value!r}")
        if _GS_TOKENS.search(value):
            raise ValueError(f"AI ({ai}) {value!r} holds a wedge separator spelling such as <GS>")
        parts.append(f"{ai}{value}{GS}")
    element_string = "".join(parts).removesuffix(GS)
    result = parse(element_string)
    if not isinstance(result, Gs1Payload):
        raise ValueError(f"would not read back: {result.reason}")  # e.g. a lot that looks swallowed
    if (result.gtin, result.expiry_printed, result.lot, result.serial) != (gtin14, printed, lot, serial):
        raise ValueError(f"would not read back as the same fields: {result.hri}")
    return element_string


def render_gs1_hri(gtin: str, expiry: dt.date | str, lot: str | None, serial: str | None = None) -> str:
    """The printed form "(01)...(17)...(10)...(21)..." of `render_gs1`'s element string."""
    result = parse(render_gs1(gtin, expiry, lot, serial))
    return result.hri  # type: ignore[union-attr]  # render_gs1 checked it parses


# --- parsing -----------------------------------------------------------------------------------

_CSET82 = re.compile(r"[!\"%-?A-Z_a-z]{1,}")
_AIM = re.compile(r"\][A-Za-z][0-9A-Za-z]")
_GS_TOKENS = re.compile(r"<GS>|\{GS\}|\[GS\]|\^\]|\\x1d|\\u001d|\u241d", re.IGNORECASE)
_FULLWIDTH = {cp: cp - 0xFEE0 for cp in range(0xFF01, 0xFF5F)} | {0x3000: 0x20}
# re.ASCII: \d is 0-9 only (not "٤٢" or other scripts' digits, which no code carries).
_TRACE = re.compile(r"8\d{19}", re.ASCII)
_TRACE_SPACED = re.compile(r"8\d{3}(?:[ -]?\d{4}){4}", re.ASCII)
_DEVICE_BODY = re.compile(r"\d{1,12}", re.ASCII)
_BATCH_BODY = re.compile(rf"([1-9]\d{{0,17}})-([!-~](?:[ -~]{{0,{OWN_LABEL_MAX_BODY - 2}}}[!-~])?)", re.ASCII)
_HRI_AI = re.compile(r"\((\d{2,4})\)")
_DATE_AIS = frozenset({"11", "12", "13", "15", "16", "17"})
_SWALLOW_DATE_AIS = frozenset({"11", "15", "17"})
_STRIP = " \t\r\n\x00\x0b\x0c"


def _error(code: str, template: str, params: dict[str, Any] | None = None, raw: str = "",
           **kwargs: Any) -> ScanError:
    """A ScanError whose English `reason` is `template % params`; mark `template` with
    gettext_noop so makemessages finds it (the codec stays usable without Django settings)."""
    params = params or {}
    return ScanError(code, template % params, raw, template=template, params=params, **kwargs)


def parse(raw: object) -> Payload | ScanError:
    """Raw scanner or decoder text -> typed payload or `ScanError`. Never raises."""
    try:
        return _parse(raw)
    except Exception as exc:  # a bug of ours must not become a 500 at the counter
        return _error("bad_value", gettext_noop("could not interpret the scan (%(error)s)"),
                      {"error": type(exc).__name__}, _safe(raw))


def _safe(raw: object) -> str:
    return raw if isinstance(raw, str) else repr(raw)


def _parse(raw: object) -> Payload | ScanError:
    if isinstance(raw, bytes):
        raw = raw.decode("latin-1")
    if not isinstance(raw, str):
        return _error("not_text", gettext_noop("the scan must be text"), None, _safe(raw))
    text = raw.strip(_STRIP)
    symbology = None
    m = _AIM.match(text[:3].translate(_FULLWIDTH))  # "］Ｃ１" from an input method in full-width mode
    if m:
        symbology, text = m.group(), text[m.end():]
    if not text.strip(_STRIP + GS):
        return _error("empty", gettext_noop("nothing was scanned"), None, raw, symbology=symbology)
    if "\x00" in text:  # at the ends it is stripped (some scanners append one); inside, it is noise
        return _error("nul_character", gettext_noop("a NUL character (0x00) at position %(position)s of the scan"),
                      {"position": text.index(chr(0))}, raw, symbology=symbology)
    plain_text = text.strip(_STRIP + GS)
    folded = plain_text.translate(_FULLWIDTH)
    gs_text = _GS_TOKENS.sub(GS, folded).strip(_STRIP).strip(GS)

    own = _own_label(gs_text, raw, symbology)
    if own is not None:
        return own

    if symbology in GS1_SYMBOLOGIES:
        if gs_text.startswith("("):
            return _parse_hri(gs_text, raw, symbology)
        return _parse_element_string(gs_text, raw, symbology)

    compact = gs_text if _TRACE.fullmatch(gs_text) else None
    if compact is None and _TRACE_SPACED.fullmatch(gs_text):
        compact = re.sub(r"[ -]", "", gs_text)
    if compact is not None and symbology not in EAN_SYMBOLOGIES:
        return TraceCodePayload(raw=raw, code=compact, product_code=compact[:7], rest=compact[7:],
                                symbology=symbology)

    if _HRI_AI.match(gs_text):
        return _parse_hri(gs_text, raw, symbology)

    if gs_text[:2].isdigit() and (GS in gs_text or re.match(r"01\d{14}", gs_text)):
        result = _parse_element_string(gs_text, raw, symbology)
        # Digits that do not even split into known AIs are somebody's plain number.
        structural = ("unknown_ai", "bad_value")
        if not (isinstance(result, ScanError) and result.code in structural and GS not in gs_text):
            return result

    if gs_text.lower().startswith(("http://", "https://")) and "/01/" in gs_text:
        link = _parse_digital_link(gs_text, raw, symbology)
        if link is not None:
            return link

    digits = folded.replace(" ", "")
    if symbology == "]E0" and len(digits) == 8 and digits.isascii() and digits.isdigit() and digits[0] in "01":
        digits = upce_to_upca(digits)  # ]E0 with 8 digits is a UPC-E (an EAN-8 is ]E4)
    if symbology in EAN_SYMBOLOGIES:
        if not gtin_is_valid(digits):
            return _error("bad_gtin_check_digit", gettext_noop("%(digits)s is not an EAN/UPC with a valid check digit"),
                          {"digits": repr(digits)}, raw, ai="01", symbology=symbology)
        return PlainPayload(raw=raw, text=plain_text, gtin=digits.rjust(14, "0"), symbology=symbology)
    gtin = folded.rjust(14, "0") if gtin_is_valid(folded) else None
    return PlainPayload(raw=raw, text=plain_text, gtin=gtin, symbology=symbology)


def _own_label(text: str, raw: str, symbology: str | None) -> OwnLabelPayload | ScanError | None:
    head = text[:3].upper()
    if head == DEVICE_TAG_PREFIX:
        body = text[3:]
        if not _DEVICE_BODY.fullmatch(body) or int(body) < 1:
            return _error("bad_own_label",
                          gettext_noop("device tag %(text)s: expected %(prefix)s + the device number (8 digits)"),
                          {"text": repr(text), "prefix": DEVICE_TAG_PREFIX}, raw, symbology=symbology)
        tag = device_tag_text(body)
        return OwnLabelPayload(raw=raw, label_kind="device", text=tag, device_tag=tag, device_id=int(body),
                               symbology=symbology)
    if head == BATCH_LABEL_PREFIX:
        m = _BATCH_BODY.fullmatch(text[3:])
        if not m:
            return _error("bad_own_label", gettext_noop("batch label %(text)s: expected %(prefix)s<product id>-<lot>"),
                          {"text": repr(text), "prefix": BATCH_LABEL_PREFIX}, raw, symbology=symbology)
        return OwnLabelPayload(raw=raw, label_kind="batch", text=BATCH_LABEL_PREFIX + text[3:],
                               product_id=int(m[1]), lot=m[2], symbology=symbology)
    return None


def _lookup_ai(text: str) -> GS1ApplicationIdentifier | None:
    try:
        return GS1ApplicationIdentifier.extract(text)
    except ParseError:
        return None


def _ai_lengths(ai: GS1ApplicationIdentifier) -> tuple[bool, int]:
    """(variable?, maximum data length) from a format such as "N2+X..20", "N4+N6+N..6",
    "N4+N6[+N6]" (7007: an optional part makes the length variable) or "N4+N6+[-]" (4330:
    an optional one-character flag)."""
    return _AI_LENGTHS.get(ai.format) or _AI_LENGTHS.setdefault(ai.format, _lengths_of(ai.format))


def _lengths_of(format: str) -> tuple[bool, int]:
    parts = format.split("+")[1:]
    total = 0
    for part in parts:
        digits = re.sub(r"\D", "", part.strip("[]").split("..")[-1])
        total += int(digits) if digits else 1
    return any(".." in p or "[" in p for p in parts), total


_AI_LENGTHS: dict[str, tuple[bool, int]] = {}


@dataclass
class _Element:
    ai: GS1ApplicationIdentifier
    value: str
    parsed: GS1ElementString | None = None
    variable: bool = False
    terminated: bool = False  # a variable-length value that a GS ended (not the end of the message)


def _split(text: str) -> list[_Element] | ScanError:
    """Split an element string (GS as separator) into AI + raw value, greedy like a reader:
    a variable-length value runs to the next GS or the end."""
    out: list[_Element] = []
    pos = 0
    while pos < len(text):
        if text[pos] == GS:
            pos += 1
            continue
        ai = _lookup_ai(text[pos:])
        if ai is None:
            params = {"position": pos, "text": repr(text[pos:pos + 8])}
            if pos:
                return _error("unknown_ai", gettext_noop(
                    "no known GS1 application identifier at position %(position)s: %(text)s"), params, text)
            return _error("unknown_ai", gettext_noop("no known GS1 application identifier: %(text)s"), params, text)
        start = pos + len(ai.ai)
        variable, length = _ai_lengths(ai)
        terminated = False
        if variable:
            end = text.find(GS, start)
            terminated = end >= 0
            end = end if terminated else len(text)
        else:  # a fixed-length value ends early at a GS: it is then short, and said so
            end = text.find(GS, start, start + length)
            end = start + length if end < 0 else end
        out.append(_Element(ai=ai, value=text[start:end], variable=variable, terminated=terminated))
        pos = end
    return out


def _parse_element_string(text: str, raw: str, symbology: str | None, *, hri: bool = False) -> Payload | ScanError:
    if not text.isascii():
        return _not_ascii(text, raw, symbology)
    split = _split(text)
    if isinstance(split, ScanError):
        return replace(split, raw=raw, symbology=symbology)
    if not split:
        return _error("empty", gettext_noop("no GS1 element strings"), None, raw, symbology=symbology)
    present = frozenset(el.ai.ai for el in split)
    for at, el in enumerate(split):
        error = _check_element(el, raw, symbology, hri=hri, present=present)
        if error is not None:
            return _with_readings(error, split, at)
    return _payload(split, raw, symbology)


def _check_element(el: _Element, raw: str, symbology: str | None, *, hri: bool,
                   present: frozenset[str] = frozenset()) -> ScanError | None:
    ai, value = el.ai.ai, el.value

    def err(code: str, template: str, params: dict[str, Any], **details: str) -> ScanError:
        return _error(code, template, {"ai": ai, **params}, raw, ai=ai, symbology=symbology, details=details)

    if el.variable and not hri:
        swallowed = _swallowed(value, present, terminated=el.terminated)
        if swallowed is not None:
            inner_ai, at, length = swallowed
            inner = value[at:at + length]
            return err("swallowed_field",
                       gettext_noop("(%(ai)s) %(value)s contains (%(inner_ai)s)%(inner)s: the separator "
                                    "(FNC1/GS) after (%(ai)s) %(head)s is missing, so it swallowed the fields "
                                    "after it"),
                       {"value": repr(value), "inner_ai": inner_ai, "inner": inner[len(inner_ai):],
                        "head": repr(value[:at])},
                       value=value, swallowed_ai=inner_ai, swallowed=value[at:])
    _, maximum = _ai_lengths(el.ai)
    if el.variable and len(value) > maximum:
        code, template = {
            "10": ("lot_too_long", gettext_noop("(%(ai)s) lot has %(length)s characters, at most %(maximum)s allowed")),
            "21": ("serial_too_long",
                   gettext_noop("(%(ai)s) serial has %(length)s characters, at most %(maximum)s allowed")),
        }.get(ai, ("value_too_long",
                   gettext_noop("(%(ai)s) value has %(length)s characters, at most %(maximum)s allowed")))
        return err(code, template, {"length": len(value), "maximum": maximum}, value=value)
    if not value:
        return err("bad_value", gettext_noop("(%(ai)s) has no value"), {})
    if not re.fullmatch(el.ai.pattern, ai + value):
        if ai in _DATE_AIS and len(value) == 6 and value.isdigit():
            return err("bad_date", gettext_noop("(%(ai)s) %(value)s is not a YYMMDD date"), {"value": repr(value)},
                       value=value)
        if not el.variable and len(value) < maximum:
            return err("bad_value", gettext_noop("(%(ai)s) needs %(maximum)s characters, got %(length)s: %(value)s"),
                       {"maximum": maximum, "length": len(value), "value": repr(value)}, value=value)
        return err("bad_value", gettext_noop("(%(ai)s) %(value)s does not match GS1 format %(format)s"),
                   {"value": repr(value), "format": el.ai.format}, value=value)
    try:
        el.parsed = GS1ElementString.parse(ai + value)
    except ParseError:
        return err("bad_date", gettext_noop("(%(ai)s) %(value)s is not a valid date"), {"value": repr(value)},
                   value=value)
    if el.parsed.gtin_error:
        if "check digit" in el.parsed.gtin_error:
            expected = gtin_check_digit(value[:-1])
            return err("bad_gtin_check_digit",
                       gettext_noop("GTIN %(value)s has check digit %(digit)s, expected %(expected)s"),
                       {"value": value, "digit": value[-1], "expected": expected}, value=value)
        return err("bad_value", gettext_noop("(%(ai)s) invalid GTIN: %(error)s"), {"error": el.parsed.gtin_error},
                   value=value)
    return None


def _valid_fixed(text: str) -> tuple[str, int] | None:
    """(AI, length incl. AI) if `text` starts with a GTIN (01) with a valid check digit or a
    date AI (11 production, 15 best before, 17 expiry) with a real date."""
    if text.startswith("01") and len(text) >= 16 and text[2:16].isdigit() and gtin_is_valid(text[2:16]):
        return "01", 16
    if text[:2] in _SWALLOW_DATE_AIS and len(text) >= 8 and text[2:8].isdigit():
        yy, mm, dd = int(text[2:4]), int(text[4:6]), int(text[6:8])
        if 1 <= mm <= 12:
            try:
                dt.date(2000 + yy, mm, dd or 1)
            except ValueError:
                return None
            return text[:2], 8
    return None


def _swallowed(value: str, present: frozenset[str] = frozenset(), *,
              terminated: bool = False) -> tuple[str, int, int] | None:
    """Heuristic: did this variable-length value swallow the fields after it?

    Yes when, from some position after its first character, the value holds an AI with a
    valid fixed-length value (a GTIN with the right check digit, or a real date for 11, 15
    or 17) that the message does not carry on its own, and what follows that element again
    splits into valid GS1 fields; or the value ends in a (01) GTIN or a (17) expiry the
    message lacks (lot, then expiry, without the separator). Returns (AI, position, length).

    Not flagged, because lots look like that: a (11) or (15) date at the end of the value.
    Lots numbered by date ("2411150101" holds "11" + 150101) are common. A lot that genuinely ends in
    "17" + a valid date while the message has no (17) of its own cannot be told from a
    swallowed field; `render_gs1` refuses to print one."""
    for at in range(1, len(value) - 7):
        hit = _valid_fixed(value[at:])
        if hit is None or hit[0] in present:
            continue
        ai, length = hit
        tail = value[at + length:]
        if tail and _splits_cleanly(tail):
            return ai, at, length
        if not tail and ai in ("01", "17"):  # a lot that hides the expiry or the GTIN
            return ai, at, length
    return None


def _with_readings(error: ScanError, elements: list[_Element], at: int) -> ScanError:
    """`error` with the readings of a run-together lot and serial, when it is a `lot_too_long`
    of element `at` in a message that carries no (21) of its own."""
    if error.code != "lot_too_long" or any(el.ai.ai == "21" for el in elements):
        return error
    lot = elements[at]
    readings = []
    for i in range(1, len(lot.value) - 2):
        if lot.value[i:i + 2] != "21":
            continue
        split = [*(_Element(ai=el.ai, value=el.value, variable=el.variable, terminated=el.terminated)
                   for el in elements[:at]),
                 _Element(ai=lot.ai, value=lot.value[:i], variable=True, terminated=True),
                 _Element(ai=_GS1_APPLICATION_IDENTIFIERS["21"], value=lot.value[i + 2:], variable=True,
                          terminated=lot.terminated),
                 *(_Element(ai=el.ai, value=el.value, variable=el.variable, terminated=el.terminated)
                   for el in elements[at + 1:])]
        if any(_check_element(el, error.raw, error.symbology, hri=True) is not None for el in split):
            continue
        reading = _payload(split, error.raw, error.symbology)
        if isinstance(reading, Gs1Payload):
            readings.append(reading)
    return replace(error, readings=tuple(readings)) if readings else error


def lot_serial_readings(scan: Payload | ScanError) -> tuple[Gs1Payload, ...]:
    """What a scan reads as if a keyboard-wedge scanner had dropped the GS between a (10) lot
    and a (21) serial ("10LOT21SER"): one payload per "21" in the lot (a non-empty lot before
    it, a serial after it) that is a valid GS1 message with that lot and serial. For a
    payload with a lot and no serial, and for a `lot_too_long` refusal (lot + "21" + serial
    over 20 characters); () for anything else. Which one is right, if any, only the registry
    of lots can say (`scanning.selectors`): the codec does not guess."""
    if isinstance(scan, ScanError):
        return scan.readings
    if not isinstance(scan, Gs1Payload) or not scan.lot or scan.serial is not None:
        return ()
    readings = []
    for i in range(1, len(scan.lot) - 2):
        if scan.lot[i:i + 2] != "21":
            continue
        lot, serial = scan.lot[:i], scan.lot[i + 2:]
        reading = parse(scan.hri.replace(f"(10){scan.lot}", f"(10){lot}(21){serial}", 1))
        if isinstance(reading, Gs1Payload) and (reading.lot, reading.serial) == (lot, serial):
            readings.append(dataclasses.replace(reading, raw=scan.raw, symbology=scan.symbology))
    return tuple(readings)


def _splits_cleanly(text: str) -> bool:
    split = _split(text)
    if isinstance(split, ScanError):
        return False
    return all(_check_element(el, text, None, hri=True) is None for el in split)


def _payload(elements: list[_Element], raw: str, symbology: str | None) -> Gs1Payload | ScanError:
    seen: dict[str, str] = {}
    fields: dict[str, Any] = {}
    other: list[tuple[str, str]] = []
    for el in elements:
        ai = el.ai.ai
        if ai in seen:
            if seen[ai] != el.value:
                return _error("conflicting_ai", gettext_noop("(%(ai)s) appears twice: %(first)s and %(second)s"),
                              {"ai": ai, "first": repr(seen[ai]), "second": repr(el.value)}, raw,
                              ai=ai, symbology=symbology)
            continue
        seen[ai] = el.value
        parsed = el.parsed
        assert parsed is not None
        if ai == "01":
            fields["gtin"] = el.value
        elif ai == "10":
            fields["lot"] = el.value
        elif ai == "21":
            fields["serial"] = el.value
        elif ai == "17":
            fields["expiry"], fields["expiry_printed"] = parsed.date, el.value
        elif ai == "11":
            fields["production_date"], fields["production_printed"] = parsed.date, el.value
        else:
            other.append((ai, el.value))
    unique = [el for i, el in enumerate(elements) if el.ai.ai not in {e.ai.ai for e in elements[:i]}]
    element_string = "".join(el.ai.ai + el.value + (GS if el.variable else "") for el in unique).removesuffix(GS)
    hri = "".join(f"({el.ai.ai}){el.value}" for el in unique)
    return Gs1Payload(raw=raw, element_string=element_string, hri=hri, other=tuple(other), symbology=symbology,
                      **fields)


def _not_ascii(text: str, raw: str, symbology: str | None) -> ScanError:
    at = next(i for i, c in enumerate(text) if not c.isascii())
    return _error("bad_value", gettext_noop("GS1 data is ASCII: %(char)s at position %(position)s is not"),
                  {"char": repr(text[at]), "position": at}, raw, symbology=symbology)


def _parse_hri(text: str, raw: str, symbology: str | None) -> Payload | ScanError:
    if not text.isascii():
        return _not_ascii(text, raw, symbology)
    compact = "".join(text.split())
    pieces = _HRI_AI.split(compact)
    # pieces: ["", ai, value, ai, value, ...]
    if pieces[0] or len(pieces) < 3:
        return _error("bad_hri", gettext_noop("expected (AI)value(AI)value..., got %(text)s"), {"text": repr(text)},
                      raw, symbology=symbology)
    elements: list[_Element] = []
    for ai_text, value in zip(pieces[1::2], pieces[2::2], strict=True):
        ai = _GS1_APPLICATION_IDENTIFIERS.get(ai_text)
        if ai is None:
            return _error("unknown_ai", gettext_noop("(%(ai)s) is not a GS1 application identifier we know"),
                          {"ai": ai_text}, raw, ai=ai_text, symbology=symbology)
        value = value.strip(GS)
        variable, _ = _ai_lengths(ai)
        elements.append(_Element(ai=ai, value=value, variable=variable))
    for at, el in enumerate(elements):
        error = _check_element(el, raw, symbology, hri=True)
        if error is not None:
            return _with_readings(error, elements, at)
    return _payload(elements, raw, symbology)


def _parse_digital_link(text: str, raw: str, symbology: str | None) -> Payload | ScanError | None:
    from biip.gs1_digital_link_uris import GS1DigitalLinkURI

    try:
        link = GS1DigitalLinkURI.parse(text)
    except (ParseError, ValueError):
        return _digital_link_error(text, raw, symbology)
    element_string = GS.join(es.ai.ai + es.value for es in link.element_strings)
    result = _parse_element_string(element_string, raw, symbology, hri=True)
    return result


_DL_PAIR = re.compile(r"/(\d{2,4})/([^/?#]+)", re.ASCII)


def _digital_link_error(text: str, raw: str, symbology: str | None) -> ScanError | None:
    """A Digital Link biip refused: the reason, if its (AI)/value path pairs from /01/ on
    say what is wrong with them (a lot over 20 characters, a bad check digit...); None
    (plain text) when they do not even look like GS1."""
    from urllib.parse import unquote

    path = text[text.find("/01/"):].split("?", 1)[0].split("#", 1)[0]
    pairs = _DL_PAIR.findall(path)
    if not pairs or pairs[0][0] != "01" or not re.fullmatch(r"\d{8,14}", pairs[0][1], re.ASCII):
        return None  # "/2024/01/15/" in a web address is not a GTIN
    result = _parse_hri("".join(f"({ai}){unquote(value)}" for ai, value in pairs), raw, symbology)
    return result if isinstance(result, ScanError) else None
