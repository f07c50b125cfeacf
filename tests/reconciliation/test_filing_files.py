"""Uploaded sales-filing files that are not what they claim: 400 with the line, nothing
stored, never a 500."""

import io
import zipfile

import pytest

from audits.models import SalesFiling, SalesFilingLine
from tests.conftest import error_of
from tests.reconciliation.test_filings import csv_bytes, upload, xlsx_bytes

pytestmark = pytest.mark.django_db


def refused(response, code="filing_bad_file") -> dict:
    assert response.status_code == 400, response.content
    error = error_of(response)
    assert error["code"] == code
    assert not SalesFiling.objects.exists() and not SalesFilingLine.objects.exists()
    return error


def test_invalid_utf8_after_the_sniffed_head_is_refused_with_its_line(county, month, client_for):
    (b1,) = month.batches(1)
    content = csv_bytes([month.row(b1, 1) for _ in range(1500)])
    assert len(content) > 65536  # past the window the encoding is sniffed from
    content += "2026-01-08,衡阳县".encode() + b"\xff\xfe,x\r\n"
    error = refused(upload(client_for(county.clerk), month, content, "sales.csv"))
    assert error["details"] == {"line": 1502} and "1502" in error["message"]


def test_invalid_gb18030_is_refused_with_its_line(county, month, client_for):
    (b1,) = month.batches(1)
    content = csv_bytes([month.row(b1, 1), month.row(b1, 2)], encoding="gb18030")
    content = content.rstrip(b"\r\n") + b"\x81\r\n"  # a lead byte with nothing after it
    error = refused(upload(client_for(county.clerk), month, content, "sales.csv"))
    assert error["details"] == {"line": 3}


def test_field_over_the_csv_limit_is_refused_with_its_line(county, month, client_for):
    (b1,) = month.batches(1)
    content = csv_bytes([month.row(b1, 1), month.row(b1, 2)]) + b'"' + b"x" * 200_000 + b'",,,,,,,\r\n'
    error = refused(upload(client_for(county.clerk), month, content, "sales.csv"))
    assert error["details"] == {"line": 4}


def test_nul_in_a_cell_is_a_row_error(county, month, client_for):
    """PostgreSQL refuses NUL in text: the row is refused before anything is looked up or stored."""
    (b1,) = month.batches(1)
    rows = [month.row(b1, 1), dict(month.row(b1, 2), invoice_number="INV\x00-2",
                                   customer_credit_code=county.hospital.credit_code + "\x00")]
    error = refused(upload(client_for(county.clerk), month, csv_bytes(rows), "sales.csv"), "filing_rows_invalid")
    assert sorted((row["line"], row["field"], row["code"]) for row in error["details"]["rows"]) == [
        (3, "customer_credit_code", "nul_character"), (3, "invoice_number", "nul_character")]


def test_carriage_return_line_ends_still_read(county, month, client_for):
    (b1,) = month.batches(1)
    content = csv_bytes([month.row(b1, 1), month.row(b1, 2)]).replace(b"\r\n", b"\r")
    response = upload(client_for(county.clerk), month, content, "sales.csv")
    assert response.status_code == 201, response.json()
    assert response.json()["row_count"] == 2


def _rezip(content: bytes, change) -> bytes:
    source = zipfile.ZipFile(io.BytesIO(content))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            data = change(info.filename, source.read(info.filename))
            if data is not None:
                target.writestr(info.filename, data)
    return out.getvalue()


def _zip_of_text() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("hello.txt", "not a workbook")
    return out.getvalue()


def _corrupt_compressed_sheet(content: bytes) -> bytes:
    name = b"xl/worksheets/sheet1.xml"
    at = content.find(name) + len(name) + 8  # inside the deflated data of the sheet
    return content[:at] + bytes(b ^ 0x5A for b in content[at:at + 16]) + content[at + 16:]


@pytest.mark.parametrize("corrupt", [
    lambda good: b"PK\x03\x04" + b"not a zip" * 50,
    lambda good: _zip_of_text(),
    lambda good: _rezip(good, lambda name, data: data[:len(data) // 2] if name.endswith("sheet1.xml") else data),
    lambda good: _rezip(good, lambda name, data: None if name == "xl/workbook.xml" else data),
    _corrupt_compressed_sheet,
], ids=["not_a_zip", "zip_of_text", "truncated_sheet", "no_workbook", "corrupt_deflate"])
def test_corrupt_xlsx_is_refused(county, month, client_for, corrupt):
    (b1,) = month.batches(1)
    good = xlsx_bytes([month.row(b1, n) for n in range(1, 40)])
    refused(upload(client_for(county.clerk), month, corrupt(good), "sales.xlsx"))
