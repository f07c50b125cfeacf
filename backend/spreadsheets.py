"""What every XLSX the service writes shares."""

from __future__ import annotations


def never_formulas(workbook) -> None:
    """Before saving: a cell openpyxl took for a formula (any text starting with "=") is
    written as the text it is. The forms, reports and reconciliations print what users
    typed (a dose, an address, a shipment reference, an inspector's note), and the office
    opens them in Excel: `=HYPERLINK("http://...")` in a dose must stay a dose.
    (The device register, written in write-only mode, does the same per cell.)"""
    for ws in workbook.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                if cell.data_type == "f":
                    cell.data_type = "s"
