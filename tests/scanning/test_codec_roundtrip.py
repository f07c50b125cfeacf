"""Any GS1 payload we render parses back to the same fields, however the scanner sends it."""

from __future__ import annotations

import calendar
import datetime as dt

from hypothesis import given, reject, settings
from hypothesis import strategies as st

from scanning.codec import GS, Gs1Payload, gtin_check_digit, parse, render_gs1

# GS1 AI encodable character set 82 (GS1 General Specifications, figure 7.11-1).
CSET82 = "!\"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz"

# How the FNC1 separator reaches us from a keyboard-wedge scanner.
SEPARATORS = [GS, "<GS>", "{GS}", "[GS]", "^]", "\\x1d", "\u241d"]
AIMS = ["", "]C1", "]d2", "]Q3", "]e0"]
ENDINGS = ["", "\r", "\n", "\r\n", "\t"]

gtins = st.text("0123456789", min_size=13, max_size=13).map(lambda body: body + str(gtin_check_digit(body)))
values = st.text(CSET82, min_size=1, max_size=20)
# Two-digit years within GS1's sliding window around today (biip and the spec agree there).
expiry_dates = st.dates(dt.date(2000, 1, 1), dt.date(2069, 12, 31))


@st.composite
def expiries(draw):
    """(what render_gs1 gets, printed YYMMDD, the date it means): a date, or day 00."""
    day = draw(expiry_dates)
    if draw(st.booleans()):
        return day, day.strftime("%y%m%d"), day
    last = calendar.monthrange(day.year, day.month)[1]
    printed = day.strftime("%y%m") + "00"
    return printed, printed, day.replace(day=last)


@settings(max_examples=400, deadline=None)
@given(
    gtin=gtins,
    expiry=expiries(),
    lot=values,
    serial=st.none() | values,
    separator=st.sampled_from(SEPARATORS),
    aim=st.sampled_from(AIMS),
    ending=st.sampled_from(ENDINGS),
    leading_fnc1=st.booleans(),
)
def test_rendered_gs1_parses_back(gtin, expiry, lot, serial, separator, aim, ending, leading_fnc1):
    given_expiry, printed, meant = expiry
    try:
        element_string = render_gs1(gtin, given_expiry, lot, serial)
    except ValueError:
        reject()  # render_gs1 refuses only what would not read back (a lot that looks swallowed)
    sent = aim + (separator if leading_fnc1 else "") + element_string.replace(GS, separator) + ending
    result = parse(sent)
    assert isinstance(result, Gs1Payload), (sent, result)
    assert (result.gtin, result.lot, result.serial) == (gtin, lot, serial)
    assert (result.expiry, result.expiry_printed) == (meant, printed)
    assert result.element_string == element_string
    assert result.symbology == (aim or None)
    if "(" in lot + (serial or ""):
        return  # "(10)A(21)B" is ambiguous in the printed form; scanners send element strings
    # the printed form reads back the same
    hri = parse(result.hri)
    assert isinstance(hri, Gs1Payload), (result.hri, hri)
    assert (hri.gtin, hri.lot, hri.serial, hri.expiry) == (gtin, lot, serial, meant)


@settings(max_examples=200, deadline=None)
@given(gtin=gtins, expiry=expiries(), lot=values)
def test_render_refuses_rarely(gtin, expiry, lot):
    """The swallow heuristic must not make ordinary lots unprintable: only lots holding an
    (11)/(15) + valid date or (01) + valid GTIN after their first character are refused."""
    try:
        render_gs1(gtin, expiry[0], lot)
    except ValueError as exc:
        if "swallowed" in str(exc):
            assert any(lot[i:i + 2] in ("11", "15", "01") for i in range(1, len(lot)))
        else:
            assert "<GS>" in lot.upper(), exc
