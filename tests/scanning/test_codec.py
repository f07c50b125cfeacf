"""The scan codec, table by table: what a pharmacist's scanner or an inspector's photo hands
us, and what the counter is told. No database."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scanning import codec
from scanning.codec import (
    BATCH_LABEL_PREFIX,
    DEVICE_TAG_PREFIX,
    GS,
    Gs1Payload,
    OwnLabelPayload,
    PlainPayload,
    ScanError,
    TraceCodePayload,
    parse,
    render_gs1,
)

GTIN = "09506000134352"  # valid check digit
GTIN_BAD = "09506000134353"
CN_GTIN = "06901234567892"  # a 690-prefix (China) GTIN-13 as GTIN-14

# --- GS1: what arrives, and the fields we must get out of it --------------------------------

GS1_OK = [
    # (id, raw, expected fields)
    ("element string with GS", f"01{GTIN}17261200" f"1012345{GS}21ABC",
     dict(gtin=GTIN, lot="12345", serial="ABC", expiry=dt.date(2026, 12, 31), expiry_printed="261200")),
    ("lot last, no GS needed", f"01{GTIN}1727063010L2024-001",
     dict(gtin=GTIN, lot="L2024-001", expiry=dt.date(2027, 6, 30), expiry_printed="270630")),
    ("day 00 = last day of month", f"01{GTIN}17270200", dict(expiry=dt.date(2027, 2, 28), expiry_printed="270200")),
    ("day 00 in a leap February", f"01{GTIN}17280200", dict(expiry=dt.date(2028, 2, 29))),
    ("day 00 in a 30-day month", f"01{GTIN}17270400", dict(expiry=dt.date(2027, 4, 30))),
    ("production date (11)", f"01{GTIN}11250115" f"17270114",
     dict(production_date=dt.date(2025, 1, 15), production_printed="250115", expiry=dt.date(2027, 1, 14))),
    ("other AIs kept", f"01{GTIN}240ABC-7{GS}10L1", dict(lot="L1", other=(("240", "ABC-7"),))),
    ("GTIN only", f"01{GTIN}", dict(gtin=GTIN, lot=None, serial=None, expiry=None)),
    ("AIM ]C1 (GS1-128)", f"]C101{GTIN}10L1", dict(gtin=GTIN, lot="L1", symbology="]C1")),
    ("AIM ]d2 (GS1 DataMatrix)", f"]d201{GTIN}21S1{GS}10L1", dict(serial="S1", lot="L1", symbology="]d2")),
    ("AIM ]Q3 (GS1 QR)", f"]Q301{GTIN}10L1", dict(lot="L1", symbology="]Q3")),
    ("AIM ]e0 (GS1 DataBar)", f"]e001{GTIN}", dict(gtin=GTIN, symbology="]e0")),
    ("GS as <GS>", f"01{GTIN}10L1<GS>21S1", dict(lot="L1", serial="S1")),
    ("GS as <gs> lower case", f"01{GTIN}10L1<gs>21S1", dict(lot="L1", serial="S1")),
    ("GS as {GS}", f"01{GTIN}10L1{{GS}}21S1", dict(lot="L1", serial="S1")),
    ("GS as [GS]", f"01{GTIN}10L1[GS]21S1", dict(lot="L1", serial="S1")),
    ("GS as ^]", f"01{GTIN}10L1^]21S1", dict(lot="L1", serial="S1")),
    ("GS as escape text \\x1d", f"01{GTIN}10L1\\x1d21S1", dict(lot="L1", serial="S1")),
    ("GS as control picture", f"01{GTIN}10L1\u241d21S1", dict(lot="L1", serial="S1")),
    ("trailing CR", f"01{GTIN}10L1\r", dict(lot="L1")),
    ("trailing LF", f"01{GTIN}10L1\n", dict(lot="L1")),
    ("trailing CRLF and spaces", f"  01{GTIN}10L1\r\n", dict(lot="L1")),
    ("leading FNC1 sent as GS", f"{GS}01{GTIN}10L1", dict(gtin=GTIN, lot="L1")),
    ("AIM then leading GS", f"]C1{GS}01{GTIN}10L1\r\n", dict(gtin=GTIN, lot="L1", symbology="]C1")),
    ("full-width digits from a Chinese IME", "０１" + "".join(chr(ord(c) + 0xFEE0) for c in GTIN),
     dict(gtin=GTIN)),
    ("printed form (HRI)", f"(01){GTIN}(17)261231(10)ABC",
     dict(gtin=GTIN, lot="ABC", expiry=dt.date(2026, 12, 31))),
    ("printed form with spaces", f"(01) {GTIN} (17) 261231 (10) ABC", dict(gtin=GTIN, lot="ABC")),
    ("printed form, lot may hold digits that look like an AI", f"(01){GTIN}(10)ABC17261231",
     dict(lot="ABC17261231")),
    ("lot with an embedded AI already present is no swallow", f"01{GTIN}1726123110A17250101",
     dict(lot="A17250101", expiry=dt.date(2026, 12, 31))),
    ("lot with an invalid embedded date is no swallow", f"01{GTIN}10LOT17991399", dict(lot="LOT17991399")),
    ("lot numbered by date, closed by a GS", f"]C101{GTIN}102411150101{GS}17260100",
     dict(lot="2411150101", expiry=dt.date(2026, 1, 31))),
    ("lot numbered by date, last", f"]C101{GTIN}172601001020241115", dict(lot="20241115")),
    ("a (11)-like date at the end of a last lot is the lot's", f"]C101{GTIN}1726010010A11240520",
     dict(lot="A11240520")),
    ("4330 (N6 + optional flag)", f"]C101{GTIN}4330001234-{GS}10L1",
     dict(lot="L1", other=(("4330", "001234-"),))),
    ("4331 without its flag, last", f"]C101{GTIN}4331001234", dict(other=(("4331", "001234"),))),
    ("7007 date range: one date then a GS", f"]C101{GTIN}7007240101{GS}10ABC",
     dict(lot="ABC", other=(("7007", "240101"),))),
    ("full-width AIM from a Chinese IME", "］Ｃ１" + f"01{GTIN}10AB", dict(lot="AB", symbology="]C1")),
    ("lot of exactly 20", f"01{GTIN}10" + "A" * 20, dict(lot="A" * 20)),
    ("serial of exactly 20", f"01{GTIN}21" + "9" * 20, dict(serial="9" * 20)),
    ("GS1 Digital Link", f"https://id.gs1.org/01/{GTIN}/10/ABC1?17=261231",
     dict(gtin=GTIN, lot="ABC1", expiry=dt.date(2026, 12, 31))),
    ("imported pack (corpus issue794)", "]d2010890381998765921S1ND6MPPFCGG6B869XES\x1d1731063010BNav4Cam2",
     dict(gtin="08903819987659", serial="S1ND6MPPFCGG6B869XES", lot="BNav4Cam2", expiry=dt.date(2031, 6, 30))),
    ("AIM says GS1: 20 digits starting 8004 are AI 8004, not a trace code", "]C180040000000000000001",
     dict(gtin=None, other=(("8004", "0000000000000001"),))),
]


@pytest.mark.parametrize(("raw", "expected"), [c[1:] for c in GS1_OK], ids=[c[0] for c in GS1_OK])
def test_gs1_is_read(raw, expected):
    result = parse(raw)
    assert isinstance(result, Gs1Payload), result
    assert result.raw == raw
    for key, value in expected.items():
        assert getattr(result, key) == value, (key, result)


def test_gs1_normalised_forms():
    result = parse(f"]C1{GS}01{GTIN}10L1<GS>21S1\r\n")
    assert result.sgtin == f"01{GTIN}21S1"
    assert parse(f"01{GTIN}10L1").sgtin is None
    assert result.element_string == f"01{GTIN}10L1{GS}21S1"
    assert result.hri == f"(01){GTIN}(10)L1(21)S1"
    # the printed form and the element string are the same thing
    assert parse(result.hri).element_string == result.element_string


# --- China drug traceability code --------------------------------------------------------------

TRACE = [
    ("plain", "81234560000000000012", "8123456"),
    ("8004 (also a GS1 AI)", "80041230000000000001", "8004123"),
    ("8020 (also a GS1 AI)", "80201230000000000001", "8020123"),
    ("8110 (also a GS1 AI)", "81101230000000000001", "8110123"),
    ("8112 (also a GS1 AI)", "81121230000000000001", "8112123"),
    ("8200 (also a GS1 AI)", "82001230000000000001", "8200123"),
    ("Code 128 AIM ]C0", "]C081234560000000000012\r\n", "8123456"),
    ("typed by hand in groups of four", "8123 4560 0000 0000 0012", "8123456"),
]


@pytest.mark.parametrize(("raw", "product"), [c[1:] for c in TRACE], ids=[c[0] for c in TRACE])
def test_trace_code(raw, product):
    result = parse(raw)
    assert isinstance(result, TraceCodePayload), result
    assert result.product_code == product
    assert len(result.code) == 20 and result.code.startswith(product)
    assert result.code == product + result.rest


@pytest.mark.parametrize("raw", ["8123456000000000001", "812345600000000000123", "71234560000000000012",
                                 "8888888888888888888\u0663"])  # an Arabic-Indic digit is not a digit of a code
def test_not_a_trace_code(raw):
    assert not isinstance(parse(raw), TraceCodePayload)


def test_a_device_tag_has_ascii_digits():
    assert parse("DV-\u0664\u0662").code == "bad_own_label"


def test_the_codec_needs_no_django_settings():
    """Every path, errors included, in a process without Django configured."""
    import subprocess
    import sys

    script = ("from scanning.codec import parse; "
              "print(parse('').code, parse(']C101095060001343').code, type(parse('8' * 20)).__name__)")
    env = {k: v for k, v in __import__("os").environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env,
                         cwd=str(__import__("pathlib").Path(codec.__file__).resolve().parent.parent), check=True)
    assert out.stdout.split() == ["empty", "bad_value", "TraceCodePayload"]


# --- our labels ----------------------------------------------------------------------------------


OWN = [
    ("device tag", "DV-00000042", dict(label_kind="device", device_tag="DV-00000042", device_id=42)),
    ("device tag typed short, caps lock off", "dv-42\r\n", dict(device_tag="DV-00000042", device_id=42)),
    ("device tag with AIM", "]C0DV-00000007", dict(device_tag="DV-00000007", device_id=7, symbology="]C0")),
    ("batch label", "BT-12-L2024-01", dict(label_kind="batch", product_id=12, lot="L2024-01")),
    ("batch label, lot with spaces", "BT-3-LOT 7", dict(label_kind="batch", product_id=3, lot="LOT 7")),
]


@pytest.mark.parametrize(("raw", "expected"), [c[1:] for c in OWN], ids=[c[0] for c in OWN])
def test_own_labels(raw, expected):
    result = parse(raw)
    assert isinstance(result, OwnLabelPayload), result
    for key, value in expected.items():
        assert getattr(result, key) == value, (key, result)


def test_own_label_prefixes_cannot_collide():
    for prefix in (DEVICE_TAG_PREFIX, BATCH_LABEL_PREFIX):
        assert prefix[0].isalpha()  # GS1 starts with a digit, "(" or "]"; trace codes are digits
    assert codec.batch_label_text(12, "L2024-01") == "BT-12-L2024-01"
    assert codec.device_tag_text(42) == codec.device_tag_text("DV-42") == "DV-00000042"
    for bad in (0, "abc", "DV-", -3):
        with pytest.raises(ValueError):
            codec.device_tag_text(bad)
    # ... nor a lot that would not read back: a wedge separator spelling becomes a GS.
    for bad in ((0, "L1"), (1, ""), (1, "a\u00e9"), (1, "A^]B"), (1, "A<GS>B"), (1, "A\\x1dB")):
        with pytest.raises(ValueError):
            codec.batch_label_text(*bad)


# --- anything else ---------------------------------------------------------------------------------

PLAIN = [
    ("free text", "hello", None),
    ("EAN-13 on a Chinese pack", "6901234567892", CN_GTIN),
    ("EAN-13 with AIM ]E0", "]E06901234567892", CN_GTIN),
    ("UPC-E with AIM ]E0: the UPC-A it stands for", "]E004252614", "00042100005264"),
    ("EAN-8 with AIM ]E4", "]E496385074", "00000096385074"),
    ("13 digits with a wrong check digit are just text", "6901234567893", None),
    ("digits starting 10 are not GS1 without an AIM", "102030405060708090", None),
    ("digits that do not split into GS1 AIs", "31001171800000017989625355702636", None),
    ("01 + 14 digits + unknown AI stays text", f"01{GTIN}2712345", None),
    ("Latin-1 Code 128 (corpus)", "óóóó1234óóabózz", None),
    ("parentheses that are not an AI", "(note) 12", None),
    ("a URL", "http://google.com/m", None),
    ("a URL with a /01/ that is a month", "https://www.hospital.cn/news/2024/01/15/notice.html", None),
]


@pytest.mark.parametrize(("raw", "gtin"), [c[1:] for c in PLAIN], ids=[c[0] for c in PLAIN])
def test_plain(raw, gtin):
    result = parse(raw)
    assert isinstance(result, PlainPayload), result
    assert result.gtin == gtin


# --- errors: a stable code and a reason ------------------------------------------------------------

ERRORS = [
    ("empty", "", "empty"),
    ("only whitespace", "  \r\n", "empty"),
    ("only an AIM", "]C1", "empty"),
    ("only a GS", GS, "empty"),
    ("GTIN check digit (AIM)", f"]C101{GTIN_BAD}10L1", "bad_gtin_check_digit"),
    ("GTIN check digit (no AIM)", f"01{GTIN_BAD}172612311012345", "bad_gtin_check_digit"),
    ("GTIN check digit (printed form)", f"(01){GTIN_BAD}(17)261231", "bad_gtin_check_digit"),
    ("EAN check digit with AIM ]E0", "]E06901234567893", "bad_gtin_check_digit"),
    ("lot of 21", f"01{GTIN}10" + "A" * 21, "lot_too_long"),
    ("lot of 21 before a GS", f"01{GTIN}10" + "A" * 21 + f"{GS}21S1", "lot_too_long"),
    ("serial of 21", f"01{GTIN}21" + "B" * 21, "serial_too_long"),
    ("lot of 21 printed", f"(01){GTIN}(10)" + "A" * 21, "lot_too_long"),
    ("other AI too long", f"]C1240{'X' * 31}", "value_too_long"),
    ("lot swallowed the expiry", f"01{GTIN}10ABC17261231", "swallowed_field"),
    ("lot swallowed expiry and serial", f"01{GTIN}10ABC1726123121XYZ", "swallowed_field"),
    ("lot swallowed a day-00 expiry", f"01{GTIN}10ABC17261200", "swallowed_field"),
    ("lot swallowed the production date and a serial", f"01{GTIN}10ABC1125010121XYZ", "swallowed_field"),
    ("lot swallowed best-before and a serial", f"01{GTIN}10ABC1525010121XYZ", "swallowed_field"),
    ("lot swallowed a GTIN at the end", f"]C117261231{GS}10A01{GTIN}", "swallowed_field"),
    ("lot closed by a GS still hides the expiry", f"01{GTIN}10ABC17261231{GS}21XYZ", "swallowed_field"),
    ("a fixed-length value cut short by a GS", f"]C101{GTIN}172601{GS}10AB", "bad_value"),
    ("GS1 with another script's digit", f"]C101{GTIN[:-1]}\u0662", "bad_value"),
    ("serial swallowed the GTIN", f"]C121SER01{GTIN}17261231", "swallowed_field"),
    ("swallow and too long: swallow is the better reason", f"01{GTIN}10ABCDEFGHIJ1726123121SERIAL123",
     "swallowed_field"),
    ("Digital Link with a lot of 30", f"https://id.gs1.org/01/{GTIN}/10/" + "A" * 30, "lot_too_long"),
    ("unknown AI after GS", f"01{GTIN}{GS}2712345", "unknown_ai"),
    ("unknown AI with AIM", "]C12712345", "unknown_ai"),
    ("unknown AI printed", f"(01){GTIN}(27)123", "unknown_ai"),
    ("corpus GS1-128 8101 coupon", "]C18101054321120021123456", "unknown_ai"),
    ("month 13", f"]C101{GTIN}17261301", "bad_date"),
    ("month 00", f"]C101{GTIN}17260000", "bad_date"),
    ("30 February", f"]C101{GTIN}17260230", "bad_date"),
    ("printed bad date", f"(01){GTIN}(17)261332", "bad_date"),
    ("GTIN cut short", f"]C101{GTIN[:10]}", "bad_value"),
    ("lot with a character outside GS1 set 82", f"(01){GTIN}(10)AB|C", "bad_value"),
    ("date AI cut short (corpus GS1-128)", "]C1168901", "bad_value"),
    ("the same AI twice, different values", f"(01){GTIN}(10)A(10)B", "conflicting_ai"),
    ("AIM GS1 but printed form garbled", "]C1(ABC)123", "bad_hri"),
    ("device prefix without a tag", "DV-", "bad_own_label"),
    ("device tag with a space", "DV-A 1", "bad_own_label"),
    ("device tag with letters", "DV-ABC", "bad_own_label"),
    ("device tag 0", "DV-00000000", "bad_own_label"),
    ("batch label without lot", "BT-12-", "bad_own_label"),
    ("batch label with product 0", "BT-0-L1", "bad_own_label"),
    ("batch label without product", "BT-L1", "bad_own_label"),
    ("NUL inside a GS1 string", f"]C101{GTIN}\x0010ABC", "nul_character"),
    ("NUL inside plain text", "AB\x00CD", "nul_character"),
]


@pytest.mark.parametrize(("raw", "code"), [c[1:] for c in ERRORS], ids=[c[0] for c in ERRORS])
def test_errors(raw, code):
    result = parse(raw)
    assert isinstance(result, ScanError), result
    assert result.code == code, result
    assert code in codec.ERROR_CODES
    assert result.reason and isinstance(result.reason, str)
    assert not result.ok


def test_every_error_code_is_exercised():
    exercised = {code for _, _, code in ERRORS} | {"not_text"}
    assert exercised == set(codec.ERROR_CODES)


def test_error_reasons_say_what_happened():
    swallowed = parse(f"01{GTIN}10ABC17261231")
    assert swallowed.ai == "10" and "(17)261231" in swallowed.reason and "'ABC'" in swallowed.reason
    assert swallowed.details["swallowed_ai"] == "17"
    check = parse(f"]C101{GTIN_BAD}")
    assert "expected 2" in check.reason
    long_lot = parse(f"01{GTIN}10" + "A" * 25)
    assert "25 characters" in long_lot.reason and "20" in long_lot.reason


@pytest.mark.parametrize("raw", [None, 12, 3.5, ["01"], object()])
def test_not_text(raw):
    result = parse(raw)
    assert isinstance(result, ScanError) and result.code == "not_text"


def test_bytes_are_read_as_latin1():
    result = parse(f"01{GTIN}10L1".encode())
    assert isinstance(result, Gs1Payload) and result.lot == "L1"


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60) | st.from_regex(r"\]?[A-Za-z]?[0-9]{0,4}[0-9()\x1d<>GS^\]A-Z]{0,50}", fullmatch=True))
def test_parse_never_raises(raw):
    result = parse(raw)
    assert isinstance(result, Gs1Payload | TraceCodePayload | OwnLabelPayload | PlainPayload | ScanError)
    assert isinstance(result.as_dict(), dict)


def test_as_dict_is_json_ready():
    import json

    body = parse(f"01{GTIN}17261200{GS}10L1{GS}21S1").as_dict()
    assert body["kind"] == "gs1" and body["expiry"] == "2026-12-31" and body["expiry_printed"] == "261200"
    assert body["sgtin"] == f"01{GTIN}21S1"
    json.dumps(body)
    json.dumps(parse("]C1").as_dict())


# --- render_gs1 --------------------------------------------------------------------------------------


def test_render_gs1():
    assert render_gs1(GTIN, dt.date(2026, 12, 31), "L1") == f"01{GTIN}17261231" "10L1"
    assert render_gs1("6901234567892", "261200", "L1", "S1") == f"01{CN_GTIN}17261200" f"10L1{GS}21S1"
    assert codec.render_gs1_hri(GTIN, "261200", "L1") == f"(01){GTIN}(17)261200(10)L1"


@pytest.mark.parametrize(
    ("gtin", "expiry", "lot"),
    [
        (GTIN_BAD, "261231", "L1"),  # check digit
        (GTIN, "261331", "L1"),  # month 13
        (GTIN, "260230", "L1"),  # 30 February
        (GTIN, "261231", "A" * 21),  # lot too long
        (GTIN, "261231", "批号1"),  # not GS1 set 82
        (GTIN, "261231", "A1125010121XYZ"),  # would read back as a swallowed (11) and (21)
    ],
)
def test_render_gs1_refuses_what_would_not_read_back(gtin, expiry, lot):
    with pytest.raises(ValueError):
        render_gs1(gtin, expiry, lot)


def test_device_tags_match_the_device_registry():
    """inventory/devices makes the asset tags; the codec (no Django imports) must agree."""
    devices_labels = pytest.importorskip("inventory.devices.labels")
    assert devices_labels.ASSET_TAG_PREFIX == DEVICE_TAG_PREFIX
    for device_id in (1, 42, 99999999):
        tag = codec.device_tag_text(device_id)
        assert devices_labels.is_asset_tag(tag)
        result = parse(tag)
        assert isinstance(result, OwnLabelPayload) and (result.device_tag, result.device_id) == (tag, device_id)


@pytest.mark.parametrize("raw", [
    f"01{GTIN}17270900" + "10XK2025042021SN0005000003",
    f"(01){GTIN}(17)270900(10)XK2025042021SN0005000003",
    f"01{GTIN}10XK2025042021SN0005000003\x1d17270900",
])
def test_a_lot_too_long_with_a_21_carries_its_lot_and_serial_readings(raw):
    """The codec refuses the scan, and says what it reads as if the GS before a "21" had been
    dropped; only the registry of lots can pick one (scanning.selectors)."""
    result = parse(raw)
    assert not result.ok and result.code == "lot_too_long"
    assert [(r.gtin, r.expiry_printed, r.lot, r.serial) for r in codec.lot_serial_readings(result)] == [
        (GTIN, "270900", "XK20250420", "SN0005000003")]
    assert "readings" not in result.as_dict()


def test_no_readings_when_no_split_is_valid():
    assert codec.lot_serial_readings(parse(f"01{GTIN}10" + "A" * 21)) == ()  # no "21"
    assert codec.lot_serial_readings(parse(f"01{GTIN}10A21" + "B" * 21)) == ()  # the serial too long
    assert codec.lot_serial_readings(parse(f"01{GTIN}10" + "A" * 21 + "\x1d21S1")) == ()  # has its serial
    assert [(r.lot, r.serial) for r in codec.lot_serial_readings(parse(f"01{GTIN}10AB21CD21EF"))] == [
        ("AB", "CD21EF"), ("AB21CD", "EF")]
