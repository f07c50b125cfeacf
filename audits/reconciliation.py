"""Cross-party reconciliation (账账相符) and the holders' books (账物相符) for one month.

Per wholesaler x customer x batch: what the wholesaler filed as sold, what it dispatched on
supply shipments during the month, and what the customer confirmed as received:

| status | when |
| --- | --- |
| matched | filed = shipped = received |
| filed_not_shipped | filed, nothing shipped |
| shipped_not_filed | shipped, nothing filed |
| quantity_mismatch | both filed and shipped, different quantities (or more received than shipped) |
| shipped_not_received | filed = shipped, less confirmed as received (in transit, short, lost) |

Per holder x batch: the month's closing (see `audits.closing`) against the documents:
opening + received - used (the dispense register) - disposed - seized (their documents)
+ adjustments, corrections and returns must equal the closing book balance
(`institution_unbalanced` otherwise: e.g. a register entry that never reached the books);
a count of the month that differed from the books is a `count_variance`.

Everything is aggregated in SQL (GROUP BY over the month's filing lines, shipment lines and
movements, plus the stored closings of the previous month); Python only merges the grouped
rows by key. Each discrepancy names its documents (filing lines, shipments, shipment lines,
dispenses, stock counts, count lines); `reconciliation_record` keeps them in
`audits.Discrepancy` for the alerts.
"""

from __future__ import annotations

import datetime as dt
import io
from contextlib import contextmanager

from django.db import connection, transaction
from django.db.models import Exists, F, OuterRef, Q, Subquery, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from audits import periods
from audits.closing import closing_rows, holders_in_scope, line_dict
from audits.models import (
    CountLine,
    Discrepancy,
    SalesFiling,
    SalesFilingLine,
    SignedClosing,
    SignedClosingLine,
)
from backend.models import Jurisdiction, Organisation
from backend.spreadsheets import never_formulas


def classify(filed: int, shipped: int, received: int) -> str:
    if filed and not shipped:
        return "filed_not_shipped"
    if shipped and not filed:
        return "shipped_not_filed"
    if filed != shipped or received > shipped:
        return "quantity_mismatch"
    if received < shipped:
        return "shipped_not_received"
    return "matched"


def _sides(organisation_id, seller: str, buyer: str, jurisdiction_prefix, kind=None, scope_ids=None) -> Q:
    """Rows where the jurisdiction is on either side; for one organisation only the side it
    can be on (a wholesaler sells, anyone else buys), so one indexed column is enough."""
    if organisation_id is None:
        ids = scope_ids if scope_ids is not None else holders_in_scope(jurisdiction_prefix=jurisdiction_prefix)
        return Q(**{f"{seller}_id__in": ids}) | Q(**{f"{buyer}_id__in": ids})
    side = seller if kind == Organisation.Kind.WHOLESALER else buyer
    return Q(**{f"{side}_id": organisation_id})


def _kind(organisation_id) -> str | None:
    if organisation_id is None:
        return None
    return Organisation.objects.filter(pk=organisation_id).values_list("kind", flat=True).first()


def cross_party(month: dt.date, *, jurisdiction_prefix: str | None = None,
                organisation_id: int | None = None, kind: str | None = None, scope_ids=None) -> list[dict]:
    from inventory.models import Shipment, ShipmentLine

    start, end = periods.month_bounds(month)
    if organisation_id is not None and kind is None:
        kind = _kind(organisation_id)
    if organisation_id is None and scope_ids is None:
        scope_ids = holders_in_scope(jurisdiction_prefix=jurisdiction_prefix)
    filing_side = _sides(organisation_id, "filing__wholesaler", "customer", jurisdiction_prefix, kind, scope_ids)
    shipment_side = _sides(organisation_id, "shipment__sender", "shipment__recipient", jurisdiction_prefix, kind,
                           scope_ids)
    latest = ~Exists(SalesFiling.objects.filter(wholesaler_id=OuterRef("filing__wholesaler_id"), month=month,
                                                version__gt=OuterRef("filing__version")))
    filing_lines = SalesFilingLine.objects.filter(latest, filing__month=month)
    shipment_lines = (ShipmentLine.objects.filter(shipment__kind=Shipment.Kind.SUPPLY,
                                                  shipment__dispatched_at__gte=start, shipment__dispatched_at__lt=end)
                      .exclude(shipment__status__in=[Shipment.Status.DRAFT, Shipment.Status.REJECTED]))
    filed = (filing_lines.filter(filing_side)
             .values("filing__wholesaler_id", "customer_id", "batch_id").annotate(q=Sum("quantity")).order_by()
             .values_list("filing__wholesaler_id", "customer_id", "batch_id", "q"))
    shipped = (shipment_lines.filter(shipment_side)
               .values("shipment__sender_id", "shipment__recipient_id", "batch_id")
               .annotate(q=Sum("quantity"), r=Coalesce(Sum("received_quantity"), 0)).order_by()
               .values_list("shipment__sender_id", "shipment__recipient_id", "batch_id", "q", "r"))
    rows: dict = {}
    for wholesaler_id, customer_id, batch_id, q in filed:
        rows[(wholesaler_id, customer_id, batch_id)] = [q, 0, 0]
    for sender_id, recipient_id, batch_id, q, r in shipped:
        row = rows.get((sender_id, recipient_id, batch_id))
        if row is None:
            rows[(sender_id, recipient_id, batch_id)] = [0, q, r]
        else:
            row[1], row[2] = q, r
    out = []
    for (wholesaler_id, customer_id, batch_id), (f, q, r) in sorted(rows.items()):
        out.append({"wholesaler": wholesaler_id, "customer": customer_id, "batch": batch_id, "filed": f,
                    "shipped": q, "received": r, "status": classify(f, q, r)})
    # The documents behind every row that does not match (a match needs no list).
    open_rows = {(o["wholesaler"], o["customer"], o["batch"]): o for o in out if o["status"] != "matched"}
    for row in open_rows.values():
        row["documents"] = {"filings": [], "filing_lines": [], "shipments": [], "shipment_lines": []}
    if open_rows:
        # A superset by three IN lists (cheap to build and to run), narrowed by key in Python.
        wholesalers = sorted({w for w, _c, _b in open_rows})
        customers = sorted({c for _w, c, _b in open_rows})
        batch_ids = sorted({b for _w, _c, b in open_rows})
        batches = [(filing_lines.filter(filing__wholesaler_id__in=wholesalers, customer_id__in=customers,
                                        batch_id__in=batch_ids),
                    shipment_lines.filter(shipment__sender_id__in=wholesalers, shipment__recipient_id__in=customers,
                                          batch_id__in=batch_ids))]
    else:
        batches = []
    for filed_qs, shipped_qs in batches:
        for line_id, filing_id, w, c, b in filed_qs.values_list(
                "id", "filing_id", "filing__wholesaler_id", "customer_id", "batch_id"):
            row = open_rows.get((w, c, b))
            if row is not None:
                row["documents"]["filing_lines"].append(line_id)
                row["documents"]["filings"].append(filing_id)
        for line_id, shipment_id, w, c, b in shipped_qs.values_list(
                "id", "shipment_id", "shipment__sender_id", "shipment__recipient_id", "batch_id"):
            row = open_rows.get((w, c, b))
            if row is not None:
                row["documents"]["shipment_lines"].append(line_id)
                row["documents"]["shipments"].append(shipment_id)
    for row in open_rows.values():
        row["documents"] = {name: sorted(set(ids)) for name, ids in row["documents"].items()}
    return out


def holders(month: dt.date, *, jurisdiction_prefix: str | None = None,
            organisation_id: int | None = None, kind: str | None = None, scope_ids=None) -> list[dict]:
    """Each holder x batch of the month: the closing figures, the same flows counted from
    the documents, and the status (balanced, institution_unbalanced, count_variance)."""
    from inventory.models import Dispense, Disposal, Seizure

    start, end = periods.month_bounds(month)
    scope = {"holder_ids": [organisation_id]} if organisation_id is not None else {
        "jurisdiction_prefix": jurisdiction_prefix}
    ids = scope_ids if scope_ids is not None else holders_in_scope(**scope)
    rows = closing_rows(month, holder_ids=ids)
    # A signed month is reported as signed: its stored lines, and the documents recorded by
    # the time its figures were (an entry recorded later is the next month's late entry, so
    # this month's closing stays the next month's opening).
    signed = dict(SignedClosing.objects.filter(holder_id__in=ids, month=month).annotate(
        figures_at=SignedClosing.figures_at()).values_list("holder_id", "figures_at"))
    if signed:
        rows = {key: row for key, row in rows.items() if key[0] not in signed}
        for line in SignedClosingLine.objects.filter(holder_id__in=list(signed), month=month):
            rows[(line.holder_id, line.batch_id)] = line_dict(line)
    if organisation_id is not None:
        kind = kind if kind is not None else _kind(organisation_id)
        authorities = {organisation_id} if kind == Organisation.Kind.AUTHORITY else set()
    else:
        authorities = set(Organisation.objects.filter(pk__in=ids, kind=Organisation.Kind.AUTHORITY)
                          .values_list("pk", flat=True))

    def holder_filter(holder_field):
        return Q(**{f"{holder_field}_id__in": ids})

    def docs(model, holder_field):
        qs = model.objects.filter(holder_filter(holder_field), occurred_at__gte=start, occurred_at__lt=end)
        if signed:
            qs = qs.annotate(figures_at=Subquery(SignedClosing.objects.filter(
                holder_id=OuterRef(f"{holder_field}_id"), month=month).annotate(
                figures_at=SignedClosing.figures_at()).values("figures_at")[:1])).filter(
                Q(figures_at__isnull=True) | Q(recorded_at__lte=F("figures_at")))
        if model is Seizure:  # stock seized off the books never was on the holder's books
            qs = qs.filter(off_books=False)
        return {(r[f"{holder_field}_id"], r["batch_id"]): r["q"]
                for r in qs.values(f"{holder_field}_id", "batch_id").annotate(q=Sum("quantity")).order_by()}

    documents = ((Dispense, "institution", "dispenses"), (Disposal, "holder", "disposals"),
                 (Seizure, "holder", "seizures"))
    used, disposed, seized = (docs(model, field) for model, field, _name in documents)
    out = []
    for key in sorted(set(rows) | set(used) | set(disposed) | set(seized)):
        holder_id, batch_id = key
        if holder_id in authorities:
            continue
        row = rows.get(key)
        if row is None:  # documents without any movement at all
            from audits.closing import _blank

            row = _blank()
            row.pop("in_transit_opening")
            row["closing_balance"] = 0
        d_used, d_disposed, d_seized = used.get(key, 0), disposed.get(key, 0), seized.get(key, 0)
        expected = (row["opening"] + row["received"] + row["returned"] + row["dispatched"] + row["adjusted"]
                    + row["corrected"] + row["prior_period"] - d_used - d_disposed - d_seized)
        status = "balanced"
        if expected != row["closing_balance"]:
            status = "institution_unbalanced"
        elif row["last_count_at"] is not None and start <= row["last_count_at"] < end and row["last_count_variance"]:
            status = "count_variance"
        out.append({
            "holder": holder_id, "batch": batch_id, "opening": row["opening"], "received": row["received"],
            "returned": row["returned"], "dispatched": -row["dispatched"], "used": d_used, "disposed": d_disposed,
            "seized": d_seized, "adjusted": row["adjusted"] + row["corrected"], "prior_period": row["prior_period"],
            "closing_balance": row["closing_balance"], "expected_closing": expected, "in_transit": row["in_transit"],
            "last_count_at": row["last_count_at"], "last_counted": row["last_counted"],
            "last_count_variance": row["last_count_variance"], "status": status, "documents": row["references"],
        })
    # The documents behind each unbalanced row (only those: a balanced month needs no list).
    unbalanced = {(r["holder"], r["batch"]): r for r in out if r["status"] == "institution_unbalanced"}
    if unbalanced:
        for model, field, name in documents:
            pairs_here = Q()
            for holder_id, batch_id in unbalanced:
                pairs_here |= Q(**{f"{field}_id": holder_id, "batch_id": batch_id})
            listed = model.objects.filter(pairs_here, occurred_at__gte=start, occurred_at__lt=end)
            if model is Seizure:  # as counted above
                listed = listed.filter(off_books=False)
            for doc_id, holder_id, batch_id in listed.values_list("id", f"{field}_id", "batch_id"):
                unbalanced[(holder_id, batch_id)]["documents"].setdefault(name, []).append(doc_id)
        for row in unbalanced.values():
            for _model, _field, name in documents:
                row["documents"][name] = sorted(row["documents"].get(name, []))
    variance_keys = [(r["holder"], r["batch"]) for r in out if r["status"] == "count_variance"]
    if variance_keys:
        _count_documents(out, variance_keys, start, end)
    return out


def _count_documents(out, keys, start, end):
    from inventory.models import StockCount

    q = Q()
    for holder_id, batch_id in keys:
        q |= Q(holder_id=holder_id, batch_id=batch_id)
    counts = {}
    for count_id, holder_id, batch_id in StockCount.objects.filter(q, occurred_at__gte=start, occurred_at__lt=end
                                                                   ).exclude(counted=F("book_quantity")).values_list(
            "id", "holder_id", "batch_id"):
        counts.setdefault((holder_id, batch_id), []).append(count_id)
    lines = {}
    for line_id, session_id, count_id in CountLine.objects.filter(
            stock_count_id__in=[c for ids in counts.values() for c in ids]).values_list(
            "id", "session_id", "stock_count_id"):
        lines[count_id] = (line_id, session_id)
    for row in out:
        ids = counts.get((row["holder"], row["batch"]))
        if ids and row["status"] == "count_variance":
            row["documents"]["stock_counts"] = ids
            row["documents"]["count_lines"] = [lines[c][0] for c in ids if c in lines]
            row["documents"]["count_sessions"] = sorted({lines[c][1] for c in ids if c in lines})


@contextmanager
def _reporting_session():
    """One read transaction for the whole reconciliation; on PostgreSQL with enough work_mem
    for the month's GROUP BY to hash in memory, and without JIT (whose compile time costs more
    than it saves on these sub-second queries)."""
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL work_mem = '64MB'")
                cursor.execute("SET LOCAL jit = off")
        yield


def reconcile(month: dt.date, *, jurisdiction_prefix: str | None = None,
              organisation_id: int | None = None) -> dict:
    """The month's reconciliation of a jurisdiction (or of one organisation's side of it)."""
    if organisation_id is not None:  # a handful of small queries: no session settings needed
        return _reconcile(month, jurisdiction_prefix=None, organisation_id=organisation_id)
    with _reporting_session():
        return _reconcile(month, jurisdiction_prefix=jurisdiction_prefix, organisation_id=None)


def _reconcile(month: dt.date, *, jurisdiction_prefix: str | None, organisation_id: int | None) -> dict:
    kind = _kind(organisation_id)
    ids = holders_in_scope(jurisdiction_prefix=jurisdiction_prefix) if organisation_id is None else [organisation_id]
    cross = cross_party(month, jurisdiction_prefix=jurisdiction_prefix, organisation_id=organisation_id, kind=kind,
                        scope_ids=ids if organisation_id is None else None)
    books = holders(month, jurisdiction_prefix=jurisdiction_prefix, organisation_id=organisation_id, kind=kind,
                    scope_ids=ids)
    discrepancies = []
    for row in cross:
        if row["status"] != "matched":
            discrepancies.append({
                "kind": row["status"], "key": f"{row['wholesaler']}:{row['customer']}:{row['batch']}",
                "wholesaler": row["wholesaler"], "holder": row["customer"], "batch": row["batch"],
                "figures": {k: row[k] for k in ("filed", "shipped", "received")}, "documents": row["documents"]})
    for row in books:
        if row["status"] != "balanced":
            discrepancies.append({
                "kind": row["status"], "key": f"{row['holder']}:{row['batch']}", "wholesaler": None,
                "holder": row["holder"], "batch": row["batch"],
                "figures": {k: row[k] for k in ("opening", "received", "used", "disposed", "seized", "adjusted",
                                                "closing_balance", "expected_closing", "last_counted",
                                                "last_count_variance")},
                "documents": row["documents"]})
    summary: dict[str, int] = {}
    for d in discrepancies:
        summary[d["kind"]] = summary.get(d["kind"], 0) + 1
    return {"month": month.strftime("%Y-%m"), "cross_party": cross, "holders": books,
            "discrepancies": discrepancies, "summary": summary}


def naive_reconcile(month: dt.date, *, jurisdiction_prefix: str) -> dict:
    """The same figures by a per-holder Python loop over rows (for the benchmark only)."""
    from inventory.models import StockMovement

    start, end = periods.month_bounds(month)
    result = {}
    for holder_id in Organisation.objects.filter(jurisdiction__code__startswith=jurisdiction_prefix).values_list(
            "pk", flat=True):
        balances: dict = {}
        for batch_id, quantity, occurred_at, kind, in_transit in StockMovement.objects.filter(
                holder_id=holder_id, occurred_at__lt=end).values_list(
                "batch_id", "quantity", "occurred_at", "kind", "in_transit").iterator(chunk_size=5000):
            if in_transit:
                continue
            row = balances.setdefault(batch_id, {"opening": 0, "flows": {}, "closing": 0})
            if occurred_at < start:
                row["opening"] += quantity
            else:
                row["flows"][kind] = row["flows"].get(kind, 0) + quantity
            row["closing"] += quantity
        result[holder_id] = balances
    return result


@transaction.atomic
def reconciliation_record(result: dict, *, jurisdiction_code: str, now: dt.datetime | None = None) -> dict:
    """Keep what the reconciliation found (for the alerts): new findings are created, ones
    seen again refreshed, open ones of the same month and jurisdiction no longer found
    resolved. Returns counts."""
    now = now or timezone.now()
    month = periods.parse_month(result["month"])
    found = {(d["kind"], d["key"]): d for d in result["discrepancies"]}
    org_codes = dict(Organisation.objects.filter(
        pk__in={d["holder"] for d in found.values()} | {d["wholesaler"] for d in found.values() if d["wholesaler"]}
    ).values_list("pk", "jurisdiction__code"))
    existing = {(d.kind, d.key): d for d in Discrepancy.objects.filter(month=month, key__in=[k for _k, k in found])}
    created = refreshed = 0
    for (kind, key), d in found.items():
        row = existing.get((kind, key))
        if row is None:
            Discrepancy.objects.create(
                month=month, kind=kind, key=key, wholesaler_id=d["wholesaler"], holder_id=d["holder"],
                batch_id=d["batch"], figures=d["figures"], documents=d["documents"], first_seen_at=now,
                last_seen_at=now, jurisdiction_code=org_codes.get(d["wholesaler"] or d["holder"], jurisdiction_code))
            created += 1
        else:
            fields = ["figures", "documents", "last_seen_at", "resolved_at"]
            if row.resolved_at is not None:  # gone and back: a new occurrence, alerted anew
                row.occurrence += 1
                row.reopened = True  # read by the alerts' post_save receiver
                fields.append("occurrence")
            row.figures, row.documents, row.last_seen_at, row.resolved_at = d["figures"], d["documents"], now, None
            row.save(update_fields=fields)
            refreshed += 1
    # The reconciled scope is the jurisdiction's prefix ("4304" for the city 430400), not its code.
    node = Jurisdiction.objects.filter(code=jurisdiction_code).first()
    prefix = node.prefix if node is not None else jurisdiction_code
    stale = Discrepancy.objects.filter(month=month, jurisdiction_code__startswith=prefix,
                                       resolved_at__isnull=True).exclude(last_seen_at=now)
    resolved = stale.update(resolved_at=now)
    return {"created": created, "refreshed": refreshed, "resolved": resolved}


# --- export ----------------------------------------------------------------------------------


def reconciliation_xlsx(result: dict) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    from inventory.models import Batch

    org_ids = {r["wholesaler"] for r in result["cross_party"]} | {r["customer"] for r in result["cross_party"]} | {
        r["holder"] for r in result["holders"]}
    names = dict(Organisation.objects.filter(pk__in=org_ids).values_list("pk", "name"))
    batch_ids = {r["batch"] for r in result["cross_party"]} | {r["batch"] for r in result["holders"]}
    batches = {b.pk: b for b in Batch.objects.select_related("product").filter(pk__in=batch_ids)}

    def batch_cells(batch_id):
        b = batches.get(batch_id)
        return [b.product.generic_name, b.product.strength, b.lot_number] if b else ["", "", ""]

    wb = Workbook()
    ws = wb.active
    ws.title = "账账相符"
    ws.append(["批发企业", "客户", "药品", "规格", "批号", "申报销售", "发出", "确认收货", "结果", "申报行", "运单", "运单行"])
    for r in result["cross_party"]:
        docs = r.get("documents") or {}
        ws.append([names.get(r["wholesaler"], ""), names.get(r["customer"], ""), *batch_cells(r["batch"]),
                   r["filed"], r["shipped"], r["received"], r["status"],
                   ",".join(map(str, docs.get("filing_lines", []))), ",".join(map(str, docs.get("shipments", []))),
                   ",".join(map(str, docs.get("shipment_lines", [])))])
    ws2 = wb.create_sheet("账物相符")
    ws2.append(["单位", "药品", "规格", "批号", "期初", "购进", "退回入库", "发出", "使用", "报损", "查扣", "调整",
                "以前期间补记", "期末账存", "应存", "在途", "末次盘点", "盘点差异", "结果"])
    for r in result["holders"]:
        ws2.append([names.get(r["holder"], ""), *batch_cells(r["batch"]), r["opening"], r["received"], r["returned"],
                    r["dispatched"], r["used"], r["disposed"], r["seized"], r["adjusted"], r["prior_period"],
                    r["closing_balance"], r["expected_closing"], r["in_transit"], r["last_counted"],
                    r["last_count_variance"], r["status"]])
    for sheet in (ws, ws2):
        for cell in sheet[1]:
            cell.font = Font(bold=True)
    never_formulas(wb)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
