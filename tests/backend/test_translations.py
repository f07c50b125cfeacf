"""Every message speaks Chinese: the catalogues are complete, compiled, and used by the API.

The API answers in zh-hans unless the client asks for English (settings.LANGUAGE_CODE), so a
message missing from a catalogue reaches a county official in English. These tests read every
django.po of the repository (locale/ and the apps' own locale/ dirs) and fail, listing the
messages, when one is untranslated or fuzzy, when its placeholders differ from the msgid's,
when the compiled .mo lags behind its .po, or when two catalogues translate the same msgid
differently (Django merges them into one catalogue per language: LOCALE_PATHS first, then
the apps in INSTALLED_APPS order, so only one of the translations is ever shown).

After adding or changing a message:
    DEBUG=1 SECRET_KEY=x .venv/bin/python manage.py makemessages -l zh_Hans \\
        --ignore=.venv --ignore=tests --ignore=bench --ignore=var
    (translate, then) .venv/bin/python manage.py compilemessages --ignore=.venv
"""

from __future__ import annotations

import ast
import gettext
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.utils import translation

from tests.conftest import error_of
from tests.inventory.factories import BatchFactory, dispense_payload, stock_institution

ROOT = Path(__file__).resolve().parents[2]
SKIP_DIRS = {".venv", ".git", "node_modules", "var"}

# The same msgid translated differently in two catalogues, where a context (pgettext) is
# needed in the source to keep both meanings. Runtime shows the first catalogue in Django's
# order. Do not add to this list: give the message a context instead (see
# test_one_english_word_keeps_each_meaning below).
KNOWN_SHADOWED: set[str] = set()


@dataclass
class Entry:
    msgid: str
    line: int
    msgctxt: str | None = None
    msgid_plural: str | None = None
    msgstr: dict[int, str] = field(default_factory=dict)
    flags: set[str] = field(default_factory=set)
    obsolete: bool = False

    def where(self, path: Path) -> str:
        return f"{path.relative_to(ROOT)}:{self.line}: {self.msgid!r}"


def _unquote(text: str) -> str:
    return ast.literal_eval(text)  # PO strings use C escapes, which Python's literals share


def parse_po(path: Path) -> list[Entry]:
    """A small PO reader: comments, flags, msgctxt, msgid(_plural), msgstr[n], obsolete #~."""
    entries: list[Entry] = []
    flags: set[str] = set()
    current: Entry | None = None
    target: tuple[str, int] | None = None
    keyword = re.compile(r'^(msgctxt|msgid_plural|msgid|msgstr)(?:\[(\d+)\])?\s+(".*")$')
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line, obsolete = raw, raw.startswith("#~")
        if obsolete:
            line = line[2:].lstrip()
            if line.startswith("|"):
                continue
        if not line.strip():
            current, target, flags = None, None, set()
            continue
        if line.startswith("#"):
            if line.startswith("#,"):
                flags |= {f.strip() for f in line[2:].split(",") if f.strip()}
            continue
        match = keyword.match(line)
        if match:
            key, index, value = match.group(1), match.group(2), _unquote(match.group(3))
            opened_by_context = current is not None and target == ("msgctxt", 0)
            if key == "msgctxt" or (key == "msgid" and not opened_by_context):
                current = Entry(msgid="", line=number, flags=flags, obsolete=obsolete)
                entries.append(current)
                flags = set()
            assert current is not None, f"{path}:{number}: {key} outside an entry"
            if key == "msgstr":
                current.msgstr[int(index or 0)] = value
            else:
                setattr(current, key, value)
            target = (key, int(index or 0))
            continue
        if line.startswith('"') and current is not None and target is not None:
            key, index = target
            if key == "msgstr":
                current.msgstr[index] += _unquote(line)
            else:
                setattr(current, key, getattr(current, key) + _unquote(line))
            continue
        raise AssertionError(f"{path}:{number}: cannot read {raw!r}")
    return entries


def catalogues() -> list[Path]:
    found = []
    for path in sorted(ROOT.rglob("django.po")):
        if SKIP_DIRS & set(path.relative_to(ROOT).parts):
            continue
        found.append(path)
    return found


def live(path: Path) -> list[Entry]:
    """The entries that count: not the header, not obsolete."""
    return [e for e in parse_po(path) if e.msgid and not e.obsolete]


# %(name)s / %(n)d / %(x).1f, bare %s / %d, {name}; "%%" is a literal percent sign, skipped.
PLACEHOLDER = re.compile(r"%%|%\([^)]+\)[-#0 +]*\d*(?:\.\d+)?[sdifrxXeEgGc]|%[sdif]|\{[^{}]*\}")


def placeholders(text: str) -> Counter:
    return Counter(p for p in PLACEHOLDER.findall(text) if p != "%%")


PO_FILES = catalogues()


def test_the_catalogues_are_found():
    names = {str(p.relative_to(ROOT)) for p in PO_FILES}
    assert "locale/zh_Hans/LC_MESSAGES/django.po" in names, names
    assert all(p.with_suffix(".mo").exists() for p in PO_FILES), "run compilemessages"


@pytest.mark.parametrize("path", PO_FILES, ids=lambda p: str(p.relative_to(ROOT).parent.parent.parent))
def test_every_message_is_translated_and_not_fuzzy(path):
    entries = live(path)
    assert entries, path
    untranslated = [e.where(path) for e in entries if not e.msgstr or not all(e.msgstr.values())]
    fuzzy = [e.where(path) for e in entries if "fuzzy" in e.flags]
    assert not untranslated, "untranslated:\n" + "\n".join(untranslated)
    assert not fuzzy, "fuzzy (check the translation, then drop the flag):\n" + "\n".join(fuzzy)


@pytest.mark.parametrize("path", PO_FILES, ids=lambda p: str(p.relative_to(ROOT).parent.parent.parent))
def test_placeholders_match(path):
    header = next(e for e in parse_po(path) if e.msgid == "" and e.msgctxt is None)
    assert "nplurals=1; plural=0;" in header.msgstr[0], "zh has one plural form"
    wrong = []
    for e in live(path):
        if e.msgid_plural is not None:
            assert set(e.msgstr) == {0}, e.where(path) + ": zh has exactly msgstr[0]"
        wanted = placeholders(e.msgid_plural if e.msgid_plural is not None else e.msgid)
        if e.msgid_plural is not None:
            wanted = placeholders(e.msgid) | wanted
        for text in e.msgstr.values():
            if text and placeholders(text) != wanted:
                wrong.append(f"{e.where(path)}: {sorted(wanted.elements())} vs {sorted(placeholders(text).elements())}")
    assert not wrong, "placeholders differ:\n" + "\n".join(wrong)


@pytest.mark.parametrize("path", PO_FILES, ids=lambda p: str(p.relative_to(ROOT).parent.parent.parent))
def test_the_mo_file_holds_the_po_translations(path):
    with path.with_suffix(".mo").open("rb") as fp:
        mo = gettext.GNUTranslations(fp)
    assert mo.info().get("plural-forms", "").replace(" ", "").startswith("nplurals=1;"), path
    stale = []
    for e in live(path):
        if not e.msgstr.get(0) or "fuzzy" in e.flags:
            continue
        if e.msgid_plural is not None:
            got = (mo.npgettext(e.msgctxt, e.msgid, e.msgid_plural, 1) if e.msgctxt is not None
                   else mo.ngettext(e.msgid, e.msgid_plural, 1))
        else:
            got = mo.pgettext(e.msgctxt, e.msgid) if e.msgctxt is not None else mo.gettext(e.msgid)
        if got != e.msgstr[0]:
            stale.append(f"{e.where(path)}: .mo has {got!r}, .po has {e.msgstr[0]!r}")
    assert not stale, "the .mo is older than its .po (run compilemessages):\n" + "\n".join(stale)


def test_no_msgid_is_translated_two_ways_across_catalogues():
    seen: dict[tuple[str | None, str], dict[str, str]] = defaultdict(dict)
    for path in PO_FILES:
        for e in live(path):
            if e.msgstr.get(0):
                seen[(e.msgctxt, e.msgid)][str(path.relative_to(ROOT))] = e.msgstr[0]
    clashes = {key: where for key, where in seen.items()
               if len(set(where.values())) > 1 and key[1] not in KNOWN_SHADOWED}
    assert not clashes, "one msgid, several translations; give it a context (pgettext):\n" + "\n".join(
        f"{msgid!r}: {where}" for (_ctx, msgid), where in clashes.items())


# --- through the API ------------------------------------------------------------------------

EN = {"HTTP_ACCEPT_LANGUAGE": "en"}


@pytest.mark.django_db
@pytest.mark.parametrize(("query", "code", "zh", "en"), [
    ({"as_of": "2026-02-30"}, "invalid_date", "as_of 须为日期，格式为 YYYY-MM-DD。", "as_of is a date: YYYY-MM-DD."),
    ({"as_of": "2026-10-31", "holder": "abc"}, "invalid_filter", "holder 须为ID。", "holder is an id."),
    ({"as_of": "2026-10-31", "in_transit": "maybe"}, "invalid_filter", "in_transit 须为 true 或 false。",
     "in_transit is true or false."),
])
def test_stock_balance_errors_speak_chinese_by_default_and_english_on_request(county, client_for, query, code,
                                                                               zh, en):
    client = client_for(county.pharmacist)
    default = client.get("/api/stock/balances/", query)
    english = client.get("/api/stock/balances/", query, **EN)
    assert (default.status_code, english.status_code) == (400, 400), default.content
    assert (error_of(default)["code"], error_of(english)["code"]) == (code, code)
    assert error_of(default)["message"] == zh
    assert error_of(english)["message"] == en


@pytest.mark.django_db
def test_a_dispense_refused_for_want_of_stock_speaks_chinese_by_default(county, client_for):
    batch = BatchFactory()
    stock_institution(county, batch, 20)
    client = client_for(county.pharmacist)
    body = dispense_payload(county, batch, quantity=21)
    default = client.post("/api/dispenses/", body, format="json")
    english = client.post("/api/dispenses/", body, format="json", **EN)
    assert (default.status_code, english.status_code) == (409, 409), default.content
    zh, en = error_of(default), error_of(english)
    assert zh["code"] == en["code"] == "insufficient_stock"
    assert zh["message"] == "库存不足：现有 20，需要 21。"
    assert en["message"] == "Not enough stock: 20 available, 21 requested."


# --- one English word, several meanings: each has its own context (pgettext) ---------------


def _labels():
    from audits.alerts.models import Alert
    from audits.models import CountSession, SalesFilingLine, SignedClosing
    from audits.sweeps.models import Case, Finding, Visit
    from backend.models import User
    from inventory.devices.models import DeviceImage
    from inventory.models import Shipment, ShipmentDiscrepancy

    def field(model, name):
        return model._meta.get_field(name).verbose_name

    return {
        "finding severity high": lambda: Finding.Severity.HIGH.label,
        "finding severity medium": lambda: Finding.Severity.MEDIUM.label,
        "finding severity low": lambda: Finding.Severity.LOW.label,
        "alert severity high": lambda: Alert.Severity.HIGH.label,
        "alert severity medium": lambda: Alert.Severity.MEDIUM.label,
        "alert severity low": lambda: Alert.Severity.LOW.label,
        "visit open": lambda: Visit.Status.OPEN.label,
        "alert open": lambda: Alert.Status.OPEN.label,
        "count open": lambda: CountSession.Status.OPEN.label,
        "case summary": lambda: field(Case, "summary"),
        "alert summary": lambda: field(Alert, "summary"),
        "user role": lambda: field(User, "role"),
        "device image role": lambda: field(DeviceImage, "role"),
        "shipment received": lambda: Shipment.Status.RECEIVED.label,
        "quantity received": lambda: field(ShipmentDiscrepancy, "received"),
        "sales filing line's filing": lambda: field(SalesFilingLine, "filing"),
        "signed closing": lambda: SignedClosing._meta.verbose_name,
    }


@pytest.mark.parametrize(("label", "zh", "en"), [
    ("finding severity high", "严重", "high"),
    ("finding severity medium", "一般", "medium"),
    ("finding severity low", "轻微", "low"),
    ("alert severity high", "高", "high"),
    ("alert severity medium", "中", "medium"),
    ("alert severity low", "低", "low"),
    ("visit open", "进行中", "open"),
    ("alert open", "未处理", "open"),
    ("count open", "进行中", "open"),
    ("case summary", "简要案情", "summary"),
    ("alert summary", "摘要", "summary"),
    ("user role", "角色", "role"),
    ("device image role", "用途", "role"),
    ("shipment received", "已收货", "received"),
    ("quantity received", "实收数量", "received"),
    ("sales filing line's filing", "销售情况汇总表", "filing"),
    ("signed closing", "月度签字结账", "signed monthly closing"),
])
def test_one_english_word_keeps_each_meaning(label, zh, en):
    get = _labels()[label]
    with translation.override("zh-hans"):
        assert str(get()) == zh
    with translation.override("en"):
        assert str(get()) == en


def test_the_alert_rules_closing_wording_is_not_the_model_name():
    """rules.py says "signed monthly closing" without a context: the alerts' wording."""
    with translation.override("zh-hans"):
        assert translation.gettext("signed monthly closing") == "月度签字结账（使用登记表和汇总表）"


# --- the codec's reasons --------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(("raw", "code", "zh", "en"), [
    ("]E06901234567893", "bad_gtin_check_digit",
     "无法识别该编码：'6901234567893' 不是校验位正确的 EAN/UPC 条码",
     "'6901234567893' is not an EAN/UPC with a valid check digit"),
    ("]C10106901234567893", "bad_gtin_check_digit",
     "无法识别该编码：GTIN 06901234567893 的校验位为 3，应为 2",
     "GTIN 06901234567893 has check digit 3, expected 2"),
    ("]C1(01)06901234567892(10)A(10)B", "conflicting_ai",
     "无法识别该编码：(10) 出现两次：'A' 和 'B'", "(10) appears twice: 'A' and 'B'"),
])
def test_a_bad_scan_speaks_chinese_by_default_and_english_on_request(county, client_for, raw, code, zh, en):
    from scanning.models import ScanLog

    client = client_for(county.pharmacist)
    default = client.post("/api/scan/", {"code": raw}, format="json")
    english = client.post("/api/scan/", {"code": raw}, format="json", **EN)
    assert (default.status_code, english.status_code) == (400, 400), default.content
    assert error_of(default)["code"] == error_of(english)["code"] == code
    assert error_of(default)["message"] == zh
    assert error_of(english)["message"].endswith(en), error_of(english)["message"]
    # the scan log keeps the English reason whatever the reply's language
    assert [log.payload["reason"] for log in ScanLog.objects.order_by("pk")] == [en, en]


def test_the_codec_reason_stays_english_and_its_message_follows_the_language():
    from scanning import codec

    error = codec.parse("]E06901234567893")
    assert error.reason == "'6901234567893' is not an EAN/UPC with a valid check digit"
    with translation.override("zh-hans"):
        assert error.message == "'6901234567893' 不是校验位正确的 EAN/UPC 条码"
        assert error.reason == "'6901234567893' is not an EAN/UPC with a valid check digit"
    with translation.override("en"):
        assert error.message == error.reason
    assert "template" not in error.as_dict() and "params" not in error.as_dict()


@pytest.mark.django_db
def test_a_sales_filing_with_neither_rows_nor_file_speaks_chinese():
    from audits.api.serializers import SalesFilingInputSerializer

    with translation.override("zh-hans"):
        data = SalesFilingInputSerializer(data={"month": "2026-10"})
        assert not data.is_valid()
        assert str(data.errors["non_field_errors"][0]) == "请提交 rows（JSON）或文件（CSV 或 XLSX）二者之一"
