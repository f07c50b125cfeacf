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

from tests.conftest import error_of
from tests.inventory.factories import BatchFactory, dispense_payload, stock_institution

ROOT = Path(__file__).resolve().parents[2]
SKIP_DIRS = {".venv", ".git", "node_modules", "var"}

# The same msgid translated differently in two catalogues, where a context (pgettext) is
# needed in the source to keep both meanings. Runtime shows the first catalogue in Django's
# order. Known cases; do not add to this list: give the message a context instead.
KNOWN_SHADOWED = {
    "open",  # count session (locale/), alert (alerts: 未处理), visit and case (sweeps: 进行中)
    "low", "medium", "high",  # alert severity (低/中/高) vs finding severity (轻微/一般/严重)
    "summary",  # alert summary (摘要) vs case summary (简要案情)
    "role",  # user role (角色) vs device photo role (devices: 用途)
    "signed monthly closing",  # model name vs the alerts' "(使用登记表和汇总表)" wording
}


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
