"""Wholesaler sales filings (企业终止妊娠药品销售情况汇总表): upload, row-level validation,
immutability, amendments, due dates."""

import csv
import datetime as dt
import io

import pytest
from django.db import connection, transaction
from django.db.utils import DatabaseError
from django.utils import timezone
from openpyxl import Workbook, load_workbook

from audits import filings, periods
from audits.models import SalesFiling, SalesFilingLine
from tests.conftest import error_of

pytestmark = pytest.mark.django_db

HEADERS = ["日期", "客户", "客户统一社会信用代码", "药品", "规格", "批号", "数量", "发票号"]


def csv_bytes(rows, headers=HEADERS, encoding="utf-8-sig") -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(headers)
    for row in rows:
        writer.writerow([row[k] for k in ("date", "customer", "customer_credit_code", "drug", "specification",
                                          "batch", "quantity", "invoice_number")])
    return out.getvalue().encode(encoding)


def xlsx_bytes(rows) -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.append(HEADERS)
    for row in rows:
        ws.append([dt.date.fromisoformat(row["date"]), row["customer"], row["customer_credit_code"], row["drug"],
                   row["specification"], row["batch"], row["quantity"], row["invoice_number"]])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def upload(client, month, content: bytes, name: str, **extra):
    f = io.BytesIO(content)
    f.name = name
    return client.post("/api/filings/sales/", {"month": f"{month.month:%Y-%m}", "file": f, **extra},
                       format="multipart")


def test_csv_upload_is_stored_as_submitted(county, month, client_for):
    b1, b2 = month.batches(2)
    rows = [month.row(b1, 10), month.row(b2, 4)]
    response = upload(client_for(county.clerk), month, csv_bytes(rows), "sales.csv")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["version"] == 1 and body["row_count"] == 2 and body["total_quantity"] == 14
    assert body["source"] == "csv" and len(body["file_sha256"]) == 64
    lines = list(SalesFilingLine.objects.order_by("line_number").values_list("line_number", "batch_id", "quantity",
                                                                             "customer_id"))
    assert lines == [(2, b1.pk, 10, county.hospital.pk), (3, b2.pk, 4, county.hospital.pk)]


def test_gb18030_csv_is_read(county, month, client_for):
    (b1,) = month.batches(1)
    response = upload(client_for(county.clerk), month, csv_bytes([month.row(b1, 3)], encoding="gb18030"), "s.csv")
    assert response.status_code == 201, response.json()


def test_xlsx_upload(county, month, client_for):
    (b1,) = month.batches(1)
    response = upload(client_for(county.clerk), month, xlsx_bytes([month.row(b1, 5)]), "sales.xlsx")
    assert response.status_code == 201, response.json()
    assert response.json()["source"] == "xlsx"
    assert SalesFilingLine.objects.get().quantity == 5


def test_json_filing(county, month, client_for):
    (b1,) = month.batches(1)
    response = client_for(county.clerk).post("/api/filings/sales/", {
        "month": f"{month.month:%Y-%m}", "rows": [month.row(b1, 2)]}, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["source"] == "json"


@pytest.mark.parametrize("kind", ["csv", "xlsx"])
def test_bad_rows_return_every_error_and_store_nothing(county, month, client_for, kind):
    (b1,) = month.batches(1)
    good = month.row(b1, 10, "INV-1")
    rows = [
        good,                                                                   # line 2: fine
        {**month.row(b1, 1), "customer_credit_code": "91430421MA4L000000"},     # 3: unknown customer
        {**month.row(b1, 1), "batch": "NO-SUCH-LOT"},                           # 4: unknown batch
        {**month.row(b1, 1), "date": "2026-02-30"},                             # 5: bad date
        {**month.row(b1, 0)},                                                   # 6: non-positive quantity
        {**month.row(b1, 3, "INV-1")},                                          # 7: duplicate invoice line
        {**month.row(b1, -2)},                                                  # 8: non-positive quantity
    ]
    if kind == "xlsx":
        rows[3] = {**rows[3], "date": month.month.isoformat()}  # a real date cell; make another row bad
        content = xlsx_bytes(rows)
        wb = load_workbook(io.BytesIO(content))
        wb.active["A5"] = "30/02/2026"
        out = io.BytesIO()
        wb.save(out)
        content = out.getvalue()
    else:
        content = csv_bytes(rows)
    response = upload(client_for(county.clerk), month, content, f"sales.{kind}")
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "filing_rows_invalid"
    got = sorted((e["line"], e["code"]) for e in error["details"]["rows"])
    assert got == [(3, "unknown_customer"), (4, "unknown_batch"), (5, "bad_date"), (6, "quantity_not_positive"),
                   (7, "duplicate_invoice_line"), (8, "quantity_not_positive")]
    dup = next(e for e in error["details"]["rows"] if e["code"] == "duplicate_invoice_line")
    assert dup["first_line"] == 2
    assert SalesFiling.objects.count() == 0 and SalesFilingLine.objects.count() == 0


def test_missing_header_column(county, month, client_for):
    response = upload(client_for(county.clerk), month, "日期,客户\n2026-10-01,x\n".encode(), "s.csv")
    assert response.status_code == 400
    assert error_of(response)["code"] == "filing_bad_header"
    assert "批号" in error_of(response)["details"]["missing"]


def test_date_outside_the_month(county, month):
    (b1,) = month.batches(1)
    row = {**month.row(b1, 1), "date": periods.next_month(month.month).isoformat()}
    with pytest.raises(Exception) as exc:
        month.filing([row])
    assert exc.value.details["rows"][0]["code"] == "date_outside_month"


def test_submitted_filing_refuses_changes_and_amendment_is_a_new_version(county, month, client_for):
    (b1,) = month.batches(1)
    first = month.filing([month.row(b1, 10)])
    client = client_for(county.clerk)
    for method in ("patch", "put", "delete"):
        response = getattr(client, method)(f"/api/filings/sales/{first.pk}/", {"row_count": 1}, format="json")
        assert response.status_code == 409, method
        assert error_of(response)["code"] == "filing_submitted"
    response = upload(client, month, csv_bytes([month.row(b1, 9)]), "s.csv")
    assert response.status_code == 409 and error_of(response)["code"] == "filing_submitted"
    response = upload(client, month, csv_bytes([month.row(b1, 9)]), "s.csv", amendment_reason="发票号录错")
    assert response.status_code == 201
    body = response.json()
    assert body["version"] == 2 and body["supersedes"] == first.pk and body["amendment_reason"] == "发票号录错"
    first.refresh_from_db()
    assert first.row_count == 1 and first.lines.get().quantity == 10


def test_due_date_and_late_flag(county, month):
    (b1,) = month.batches(1)
    county.jurisdiction.monthly_filing_due_day = 10
    county.jurisdiction.save()
    due = periods.next_month(month.month).replace(day=10)
    on_time = month.filing([month.row(b1, 1)], submitted_at=timezone.make_aware(
        dt.datetime.combine(due, dt.time(23, 0))))
    assert on_time.due_on == due and on_time.late is False
    late = month.filing([month.row(b1, 1)], amendment_reason="更正", submitted_at=timezone.make_aware(
        dt.datetime.combine(due + dt.timedelta(days=1), dt.time(9, 0))))
    assert late.late is True


def test_default_due_day_is_the_fifth(county, month):
    assert periods.due_on(month.month, county.jurisdiction) == periods.next_month(month.month).replace(day=5)


def test_current_month_cannot_be_filed(county, month):
    this_month = timezone.localdate().replace(day=1)
    with pytest.raises(Exception) as exc:
        filings.sales_filing_submit(actor=county.clerk, month=this_month, rows=[], source="json")
    assert exc.value.code == "period_not_over"


def test_only_wholesaler_clerks_file(county, month, client_for):
    (b1,) = month.batches(1)
    response = client_for(county.pharmacist).post("/api/filings/sales/", {
        "month": f"{month.month:%Y-%m}", "rows": [month.row(b1, 2)]}, format="json")
    assert response.status_code == 403


def test_templates_have_the_chinese_headers(county, client_for):
    client = client_for(county.clerk)
    response = client.get("/api/filings/sales/template.csv")
    assert response.status_code == 200
    assert response.content.decode("utf-8-sig").strip().split(",") == HEADERS
    response = client.get("/api/filings/sales/template.xlsx")
    wb = load_workbook(io.BytesIO(response.content))
    assert [c.value for c in wb.active[1]] == HEADERS


def test_filings_are_visible_to_their_wholesaler_and_the_county(county, month, client_for):
    (b1,) = month.batches(1)
    filing = month.filing([month.row(b1, 1)])
    assert client_for(county.clerk).get("/api/filings/sales/").json()["count"] == 1
    assert client_for(county.inspector).get(f"/api/filings/sales/{filing.pk}/").status_code == 200
    assert client_for(county.other.inspector).get(f"/api/filings/sales/{filing.pk}/").status_code == 404
    assert client_for(county.pharmacist).get("/api/filings/sales/").json()["count"] == 0
    lines = client_for(county.office_admin).get(f"/api/filings/sales/{filing.pk}/lines/").json()
    assert lines["results"][0]["quantity"] == 1


@pytest.mark.postgres
def test_raw_update_of_a_submitted_filing_is_refused(county, month):
    if connection.vendor != "postgresql":
        pytest.skip("the append-only trigger exists on PostgreSQL only")
    (b1,) = month.batches(1)
    filing = month.filing([month.row(b1, 10)])
    for sql in ("UPDATE audits_salesfilingline SET quantity = 1 WHERE filing_id = %s",
                "DELETE FROM audits_salesfilingline WHERE filing_id = %s",
                "UPDATE audits_salesfiling SET late = NOT late WHERE id = %s"):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as c:
            c.execute(sql, [filing.pk])
