"""Wholesaler sales filings (企业终止妊娠药品销售情况汇总表) and the office's filing status.

    filing = sales_filing_submit(actor=clerk, month=date(2026, 10, 1), rows=iter_rows, source="csv")

`rows` is any iterable of (line number, {column: value}); `rows_from_csv` and
`rows_from_xlsx` stream an uploaded file (csv module over a text wrapper; openpyxl in
read-only mode), so a 100,000-row file is never held as a whole. Rows are validated in
chunks (customers and batches looked up once per chunk); every row error is collected with
its line number and, if there is any, nothing is stored and all of them are returned at once
(400 `filing_rows_invalid`, `details.rows`). A file that cannot be read at all (bytes that
are not text in its encoding, a CSV field over the csv module's limit, a corrupt workbook)
is 400 `filing_bad_file` with `details.line`; nothing is stored either. A valid filing is stored as submitted and never
changes (append-only tables); an amendment is a new version with a reason. Filings are due
by the jurisdiction's `monthly_filing_due_day` (default the 5th) of the next month; a later
one is flagged `late`.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import hashlib
import io
from collections.abc import Iterable, Iterator

from django.db import transaction
from django.db.models import Max, Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from audits import periods
from audits.errors import FilingRowsInvalid, FilingSubmitted, NotPermitted, PeriodNotOver
from audits.models import SalesFiling, SalesFilingLine, SignedClosing
from audits.services import audit_record
from backend import visibility
from backend.errors import InvalidInput
from backend.models import Licence, Organisation, User
from inventory.models import MAX_QUANTITY

# Column key -> header of the template (Chinese, as on the paper form), English aliases.
COLUMNS = [
    ("date", "日期", ("date", "sold_on")),
    ("customer", "客户", ("customer", "customer_name")),
    ("customer_credit_code", "客户统一社会信用代码", ("customer_credit_code", "credit_code")),
    ("drug", "药品", ("drug", "product")),
    ("specification", "规格", ("specification", "strength")),
    ("batch", "批号", ("batch", "lot_number")),
    ("quantity", "数量", ("quantity",)),
    ("invoice_number", "发票号", ("invoice_number", "invoice")),
]
HEADERS = [header for _key, header, _aliases in COLUMNS]
HEADER_KEYS = {alias: key for key, header, aliases in COLUMNS for alias in (header, *aliases)}
CHUNK = 2000
MAX_ERRORS = 10000  # beyond this the file is plainly not a filing; stop collecting

MESSAGES = {
    "bad_date": gettext_lazy("The date is not a date (YYYY-MM-DD)."),
    "date_outside_month": gettext_lazy("The date is not in the filing month."),
    "unknown_customer": gettext_lazy("No registered organisation has this unified social credit code."),
    "unknown_batch": gettext_lazy("No registered batch has this drug, specification and batch number."),
    "ambiguous_batch": gettext_lazy("Batches of several manufacturers have this drug, specification and batch "
                                    "number, and neither your stock nor your shipments to this customer tell "
                                    "which one was sold."),
    "quantity_not_positive": gettext_lazy("The quantity must be a whole number from 1 to 10,000,000."),
    "duplicate_invoice_line": gettext_lazy("This invoice already has a line for this batch."),
    "missing_value": gettext_lazy("This column is empty."),
    "nul_character": gettext_lazy("The value contains a NUL character."),
}


# --- reading files ---------------------------------------------------------------------


def _header_map(header_row) -> dict[int, str]:
    mapping = {}
    for index, cell in enumerate(header_row):
        key = HEADER_KEYS.get(str(cell or "").strip().lstrip("\ufeff"))
        if key:
            mapping[index] = key
    missing = [header for key, header, _a in COLUMNS if key not in mapping.values()]
    if missing:
        raise InvalidInput(_("The header row lacks columns: %(cols)s.") % {"cols": ", ".join(missing)},
                           code="filing_bad_header", details={"missing": missing, "expected": HEADERS})
    return mapping


def _rows(rows: Iterator, first_line: int) -> Iterator[tuple[int, dict]]:
    try:
        header = next(rows)
    except StopIteration:
        raise InvalidInput(_("The file is empty."), code="filing_empty") from None
    mapping = _header_map(header)
    for line, row in enumerate(rows, start=first_line + 1):
        if row is None or all(cell in (None, "") for cell in row):
            continue
        yield line, {key: row[i] if i < len(row) else None for i, key in mapping.items()}


def _sniff_encoding(binary) -> str:
    head = binary.read(65536)
    binary.seek(0)
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
        return "utf-8-sig"
    except UnicodeDecodeError:
        return "gb18030"  # what Excel saves as "CSV" on a Chinese Windows


def _bad_file(message, line: int) -> InvalidInput:
    return InvalidInput(message, code="filing_bad_file", details={"line": line})


def _decoded_lines(binary, encoding: str, at: list[int]) -> Iterator[str]:
    """The file's lines (ends kept), each decoded on its own so that bytes the encoding
    cannot read are reported with their line number; `at[0]` is the line last read.
    Latin-1 maps each byte to one character, so it splits lines (\n, \r\n, \r) without
    decoding anything; neither UTF-8 nor GB18030 uses those bytes inside a character."""
    decoder = codecs.getincrementaldecoder(encoding)()
    raw = io.TextIOWrapper(binary, encoding="latin-1", newline="")
    try:
        for line in raw:
            at[0] += 1
            try:
                yield decoder.decode(line.encode("latin-1"))
            except UnicodeDecodeError:
                raise _bad_file(_("Line %(line)d is not %(encoding)s text; nothing was stored.")
                                % {"line": at[0], "encoding": _ENCODING_NAMES[encoding]}, at[0]) from None
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            raise _bad_file(_("Line %(line)d is not %(encoding)s text; nothing was stored.")
                            % {"line": at[0], "encoding": _ENCODING_NAMES[encoding]}, at[0]) from None
    finally:
        raw.detach()


_ENCODING_NAMES = {"utf-8-sig": "UTF-8", "gb18030": "GB18030"}


def rows_from_csv(binary) -> Iterator[tuple[int, dict]]:
    """Stream a CSV upload (UTF-8, with or without BOM, or GB18030): line numbers are the
    file's line numbers (the header is line 1). Bytes that are not text in the sniffed
    encoding, or a field over the csv module's limit, answer 400 `filing_bad_file` with the
    line (`details.line`)."""
    encoding = _sniff_encoding(binary)
    at = [0]
    reader = csv.reader(_decoded_lines(binary, encoding, at))
    try:
        yield from _rows(reader, 1)
    except csv.Error as exc:
        raise _bad_file(_("Line %(line)d cannot be read as CSV (%(reason)s); nothing was stored.")
                        % {"line": at[0], "reason": exc}, at[0]) from None


def rows_from_xlsx(binary) -> Iterator[tuple[int, dict]]:
    """Stream the first sheet of an XLSX upload (openpyxl read-only): line numbers are the
    sheet's row numbers."""
    import zipfile
    import zlib

    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        workbook = load_workbook(binary, read_only=True, data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError, ValueError, EOFError, zlib.error,
            SyntaxError) as exc:  # SyntaxError: the XML parsers' ParseError
        raise InvalidInput(_("The file is not an XLSX workbook."), code="filing_bad_file") from exc
    at = [0]

    def sheet_rows():
        for row in workbook.worksheets[0].iter_rows(values_only=True):
            at[0] += 1
            yield row

    try:
        yield from _rows(sheet_rows(), 1)
    except (zipfile.BadZipFile, KeyError, IndexError, OSError, ValueError, TypeError, EOFError, zlib.error,
            SyntaxError) as exc:  # a corrupt sheet is found only while reading it
        raise _bad_file(_("Row %(line)d of the workbook cannot be read; nothing was stored.")
                        % {"line": at[0] + 1}, at[0] + 1) from exc
    finally:
        workbook.close()


def rows_from_json(rows: list[dict]) -> Iterator[tuple[int, dict]]:
    for line, row in enumerate(rows, start=1):
        yield line, {HEADER_KEYS.get(k, k): v for k, v in row.items()}


# --- validation ------------------------------------------------------------------------


def _parse_date(value) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = str(value or "").strip()
    # Excel saves a date cell to CSV as "2026/11/8 0:00" (with the time) in Chinese locales.
    for fmt in ("%Y-%m-%d", "%Y/%m/%d", "%Y%m%d", "%Y.%m.%d", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M",
                "%Y/%m/%d %H:%M", "%Y/%m/%d %H:%M:%S"):
        try:
            return dt.datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    return None


_FULL_WIDTH = {0xFF10 + i: ord("0") + i for i in range(10)} | {0xFF0C: ord(","), 0xFF0D: ord("-"), 0x3000: ord(" ")}


def _parse_quantity(value) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else None
    # Full-width digits (１２, as Chinese input methods type them) are digits; "①", "1²",
    # "--3" and a 5,000-digit number are not quantities (str.isdigit() accepts the first
    # two, int() refuses them).
    text = str(value or "").translate(_FULL_WIDTH).strip().replace(",", "")
    digits = text[1:] if text[:1] == "-" else text
    if digits.isascii() and digits.isdigit() and len(digits) <= 12:
        return int(text)
    return None


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


class _Lookups:
    """Customers by credit code and batches by (drug, specification, lot), fetched once per
    chunk for the codes and lots not seen before. The form has no manufacturer column: when
    two manufacturers' batches share drug, specification and lot, the one the filing
    wholesaler held is meant (if it held exactly one of them)."""

    def __init__(self, wholesaler_id: int | None = None):
        self.wholesaler_id = wholesaler_id
        self.customers: dict[str, int | None] = {}
        self.batches: dict[str, list[tuple[str, str, int]]] = {}
        self.held: set[int] = set()
        self.shipped: set[tuple[int, int]] = set()  # (customer, batch) the wholesaler shipped

    def load(self, rows: list[dict]) -> None:
        from inventory.models import Batch

        codes = {_text(r.get("customer_credit_code")).upper() for r in rows} - set(self.customers)
        codes.discard("")
        if codes:
            found = dict(Organisation.objects.filter(credit_code__in=codes).values_list("credit_code", "id"))
            for code in codes:
                self.customers[code] = found.get(code)
        lots = {_text(r.get("batch")) for r in rows} - set(self.batches)
        lots.discard("")
        if lots:
            for lot in lots:
                self.batches[lot] = []
            for lot, name, name_en, strength, batch_id in Batch.objects.filter(lot_number__in=lots).values_list(
                    "lot_number", "product__generic_name", "product__generic_name_en", "product__strength", "id"):
                self.batches[lot].append((name, name_en, strength, batch_id))
            shared = [b for lot in lots if len(self.batches[lot]) > 1 for b in self.batches[lot]]
            if self.wholesaler_id is not None and shared:  # a lot number of two products
                from inventory.models import ShipmentLine, StockPosition

                ids = [b[-1] for b in shared]
                self.held |= set(StockPosition.objects.filter(
                    holder_id=self.wholesaler_id, batch_id__in=ids).values_list("batch_id", flat=True))
                self.shipped |= set(ShipmentLine.objects.filter(
                    shipment__sender_id=self.wholesaler_id, batch_id__in=ids).values_list(
                    "shipment__recipient_id", "batch_id"))

    def batch(self, drug: str, specification: str, lot: str, customer_id: int | None = None) -> int | None | str:
        """The batch id; None if no batch matches; "ambiguous" if several do and neither the
        wholesaler's stock nor what it shipped to this customer tells which."""
        matches = [batch_id for name, name_en, strength, batch_id in self.batches.get(lot, [])
                   if drug in (name, name_en) and _norm(specification) == _norm(strength)]
        if len(matches) > 1:
            matches = [m for m in matches if m in self.held] or matches
        if len(matches) > 1:
            matches = [m for m in matches if (customer_id, m) in self.shipped] or matches
        if len(matches) > 1:
            return "ambiguous"
        return matches[0] if matches else None


def _norm(spec: str) -> str:
    return spec.replace(" ", "").lower()


def validate_rows(rows: Iterable[tuple[int, dict]], month: dt.date, *,
                  wholesaler_id: int | None = None) -> tuple[list[tuple], list[dict]]:
    """(valid rows as tuples, errors). A valid row: (line, date, customer id, batch id,
    quantity, invoice number)."""
    lookups = _Lookups(wholesaler_id)
    valid: list[tuple] = []
    errors: list[dict] = []
    seen_invoice_lines: dict[tuple[str, int], int] = {}
    chunk: list[tuple[int, dict]] = []

    def error(line, field, code):
        if len(errors) < MAX_ERRORS:
            errors.append({"line": line, "field": field, "code": code, "message": str(MESSAGES[code])})

    def flush():
        # A NUL is refused (PostgreSQL stores no NUL in text, nor takes one as a parameter);
        # it is removed before the lookups so they never see it.
        has_nul = set()
        for line, row in chunk:
            for key, value in row.items():
                if isinstance(value, str) and "\x00" in value:
                    error(line, key, "nul_character")
                    has_nul.add(line)
                    row[key] = value.replace("\x00", "")
        lookups.load([row for _line, row in chunk])
        for line, row in chunk:
            ok = line not in has_nul
            for key in ("date", "customer_credit_code", "drug", "specification", "batch", "quantity",
                        "invoice_number"):
                if _text(row.get(key)) == "":
                    error(line, key, "missing_value")
                    ok = False
            sold_on = _parse_date(row.get("date"))
            if row.get("date") not in (None, "") and sold_on is None:
                error(line, "date", "bad_date")
                ok = False
            elif sold_on is not None and (sold_on.year, sold_on.month) != (month.year, month.month):
                error(line, "date", "date_outside_month")
                ok = False
            customer_id = lookups.customers.get(_text(row.get("customer_credit_code")).upper())
            if _text(row.get("customer_credit_code")) and customer_id is None:
                error(line, "customer_credit_code", "unknown_customer")
                ok = False
            batch_id = lookups.batch(_text(row.get("drug")), _text(row.get("specification")), _text(row.get("batch")),
                                     customer_id)
            if batch_id == "ambiguous":
                error(line, "batch", "ambiguous_batch")
                batch_id, ok = None, False
            elif _text(row.get("batch")) and batch_id is None:
                error(line, "batch", "unknown_batch")
                ok = False
            quantity = _parse_quantity(row.get("quantity"))
            if _text(row.get("quantity")) and (quantity is None or not 1 <= quantity <= MAX_QUANTITY):
                error(line, "quantity", "quantity_not_positive")
                ok = False
            invoice = _text(row.get("invoice_number"))[:60]
            if invoice and batch_id is not None:
                first = seen_invoice_lines.setdefault((invoice, batch_id), line)
                if first != line:
                    error(line, "invoice_number", "duplicate_invoice_line")
                    errors[-1]["first_line"] = first
                    ok = False
            if ok:
                valid.append((line, sold_on, customer_id, batch_id, quantity, invoice))
        chunk.clear()

    for item in rows:
        chunk.append(item)
        if len(chunk) >= CHUNK:
            flush()
    if chunk:
        flush()
    return valid, errors


# --- submission ------------------------------------------------------------------------


def _acting_wholesaler(actor) -> Organisation:
    if getattr(actor, "role", "") != User.Role.WHOLESALER_CLERK or not actor.organisation_id:
        raise NotPermitted(_("Only a wholesaler's clerk files its sales summary."))
    org = visibility.organisation_of(actor)
    if org.kind != Organisation.Kind.WHOLESALER:
        raise NotPermitted(_("Only a wholesaler's clerk files its sales summary."))
    return org


def lock_wholesaler(wholesaler: Organisation) -> None:
    """Lock the wholesaler's row while a filing is stored: two filings of one month wait
    for each other (the version numbers stay consecutive)."""
    Organisation.objects.select_for_update(no_key=True).filter(pk=wholesaler.pk).first()


def sales_filing_submit(*, actor, month: dt.date, rows: Iterable[tuple[int, dict]], source: str,
                        amendment_reason: str = "", file_sha256: str = "", today: dt.date | None = None,
                        submitted_at: dt.datetime | None = None, no_sales: bool = False) -> SalesFiling:
    """Store a version of the wholesaler's sales summary for `month`. `no_sales`: the
    wholesaler declares it sold none of these drugs that month (a nil return, no rows): the
    summary is due every month, and an empty file sent by mistake is still refused."""
    wholesaler = _acting_wholesaler(actor)
    if not periods.is_over(month, today=today):
        raise PeriodNotOver(_("Sales for %(month)s can be filed once the month is over.")
                            % {"month": month.strftime("%Y-%m")})
    amendment_reason = (amendment_reason or "").strip()
    # Cheap state checks before reading the file; repeated under the lock below.
    _previous_version(wholesaler, month, amendment_reason)
    valid, errors = validate_rows(rows, month, wholesaler_id=wholesaler.pk)
    if errors:
        raise FilingRowsInvalid(
            _("%(n)d rows have errors; nothing was stored.") % {"n": len({e['line'] for e in errors})},
            details={"rows": errors, "error_count": len(errors), "truncated": len(errors) >= MAX_ERRORS})
    if no_sales and valid:
        raise InvalidInput(_("A nil return (no_sales) has no rows."), code="filing_no_sales_with_rows",
                           details={"row_count": len(valid)})
    if not valid and not no_sales:
        raise InvalidInput(_("The filing has no rows (a month without sales is filed with no_sales: true)."),
                           code="filing_empty")
    with transaction.atomic():
        lock_wholesaler(wholesaler)
        previous = _previous_version(wholesaler, month, amendment_reason)
        submitted_at = submitted_at or timezone.now()
        due = periods.due_on(month, wholesaler.jurisdiction)
        filing = SalesFiling.objects.create(
            wholesaler=wholesaler, month=month, version=(previous.version + 1) if previous else 1,
            supersedes=previous, amendment_reason=amendment_reason[:300] if previous else "", source=source,
            file_sha256=file_sha256, row_count=len(valid), total_quantity=sum(r[4] for r in valid), due_on=due,
            late=timezone.localdate(submitted_at) > due, submitted_by=actor, submitted_at=submitted_at)
        _store_lines(filing, valid)
        audit_record(action="create", instance=filing, actor=actor, subject_organisation=wholesaler)
    return filing


def _store_lines(filing: SalesFiling, valid: list[tuple]) -> None:
    """PostgreSQL: COPY (a 100,000-row filing in a couple of seconds); elsewhere bulk inserts."""
    from django.db import connection

    if connection.vendor == "postgresql":
        table = SalesFilingLine._meta.db_table
        columns = "filing_id, line_number, sold_on, customer_id, batch_id, quantity, invoice_number"
        with connection.cursor() as cursor, cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
            for line, sold_on, customer_id, batch_id, quantity, invoice in valid:
                copy.write_row((filing.pk, line, sold_on, customer_id, batch_id, quantity, invoice))
        with connection.cursor() as cursor:
            # The rows' foreign-key checks now, not at COMMIT: the audit append that follows
            # holds the chain's lock (every writer's) until the commit, and 100,000 rows'
            # checks would hold it for seconds.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        return
    for start in range(0, len(valid), 5000):
        SalesFilingLine.objects.bulk_create([
            SalesFilingLine(filing=filing, line_number=line, sold_on=sold_on, customer_id=customer_id,
                            batch_id=batch_id, quantity=quantity, invoice_number=invoice)
            for line, sold_on, customer_id, batch_id, quantity, invoice in valid[start:start + 5000]])


def _previous_version(wholesaler, month, amendment_reason) -> SalesFiling | None:
    previous = SalesFiling.objects.filter(wholesaler=wholesaler, month=month).order_by("-version").first()
    if previous is not None and not amendment_reason:
        raise FilingSubmitted(
            _("Sales for %(month)s were already filed (version %(v)d); an amendment needs a reason.")
            % {"month": month.strftime("%Y-%m"), "v": previous.version},
            details={"filing": previous.pk, "version": previous.version})
    return previous


def sales_filing_change(*, actor, filing: SalesFiling, **changes) -> None:
    """Submitted filings never change: the answer to any edit or deletion."""
    raise FilingSubmitted(details={"filing": filing.pk, "version": filing.version})


def file_digest(binary) -> str:
    digest = hashlib.sha256()
    for block in iter(lambda: binary.read(1 << 20), b""):
        digest.update(block)
    binary.seek(0)
    return digest.hexdigest()


def current_filings(month: dt.date):
    """The latest version of each wholesaler's filing for the month."""
    latest = SalesFiling.objects.filter(month=month).values("wholesaler_id").annotate(v=Max("version"))
    q = Q(pk__in=[])
    for row in latest:
        q |= Q(wholesaler_id=row["wholesaler_id"], version=row["v"])
    return SalesFiling.objects.filter(q, month=month)


def filings_visible(user):
    return visibility.scope(SalesFiling.objects.select_related("wholesaler", "submitted_by"), user, "wholesaler")


# --- templates ---------------------------------------------------------------------------


def template_csv() -> bytes:
    out = io.StringIO()
    csv.writer(out).writerow(HEADERS)
    return ("\ufeff" + out.getvalue()).encode("utf-8")  # BOM: Excel opens it as UTF-8


def template_xlsx() -> bytes:
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "销售情况"
    sheet.append(HEADERS)
    for letter, width in zip("ABCDEFGH", (12, 30, 22, 16, 12, 14, 8, 16), strict=True):
        sheet.column_dimensions[letter].width = width
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


# --- filing status ---------------------------------------------------------------------

FORMS = {
    "usage_register": gettext_lazy("使用终止妊娠药品情况登记表"),
    "drug_summary": gettext_lazy("终止妊娠药品情况汇总表"),
    "sales_summary": gettext_lazy("企业终止妊娠药品销售情况汇总表"),
}


def filing_status(*, user, jurisdiction, month: dt.date, today: dt.date | None = None) -> list[dict]:
    """Who filed which form for the month, and who is late: wholesalers file the sales
    summary; institutions approved for termination surgery file the use register and the
    drug summary, which are generated from the ledger and filed by signing the month's
    closing."""
    today = today or timezone.localdate()
    start, end = month, periods.next_month(month)
    licensed = Licence.objects.filter(
        Q(valid_until__isnull=True) | Q(valid_until__gte=start), valid_from__lt=end, revoked_at__isnull=True,
        kind__in=[Licence.Kind.TERMINATION_APPROVAL, Licence.Kind.DRUG_WHOLESALE])
    # The due day is a jurisdiction setting inherited from above (township -> county -> city
    # -> province): load the whole chain with each organisation, not one query per level.
    orgs = visibility.scope(Organisation.objects.select_related("jurisdiction__parent__parent__parent"), user,
                            "").filter(
        jurisdiction__code__startswith=jurisdiction.prefix, pk__in=licensed.values("holder_organisation_id"),
    ).order_by("kind", "name")
    filings = {}
    for f in SalesFiling.objects.filter(month=month, wholesaler__in=orgs).order_by("version"):
        filings.setdefault(f.wholesaler_id, []).append(f)
    closings = {c.holder_id: c for c in SignedClosing.objects.filter(month=month, holder__in=orgs)}
    out = []
    for org in orgs:
        due = periods.due_on(month, org.jurisdiction)
        if org.kind == Organisation.Kind.WHOLESALER:
            versions = filings.get(org.pk, [])
            first = versions[0] if versions else None
            forms = [("sales_summary", first.submitted_at if first else None, first.pk if first else None,
                      len(versions))]
        else:
            closing = closings.get(org.pk)
            at = closing.signed_at if closing else None
            forms = [("usage_register", at, closing.pk if closing else None, 1 if closing else 0),
                     ("drug_summary", at, closing.pk if closing else None, 1 if closing else 0)]
        for form, filed_at, ref, versions in forms:
            if filed_at is not None:
                status = "late" if timezone.localdate(filed_at) > due else "filed"
            else:
                status = "missing" if today > due else "not_yet_due"
            out.append({"organisation": org.pk, "organisation_name": org.name, "kind": org.kind, "form": form,
                        "form_name": str(FORMS[form]), "month": month.strftime("%Y-%m"), "due_on": due,
                        "filed_at": filed_at, "status": status, "reference": ref, "versions": versions})
    return out
