"""账账相符 across wholesaler and clinic, 账物相符 within each holder: one discrepancy of each
kind is planted and found, and nothing else."""

import io

import pytest
from openpyxl import load_workbook

from audits import reconciliation
from audits.models import Discrepancy
from inventory import services
from inventory.models import Dispense
from tests.conftest import error_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def planted(county, month):
    b = month.batches(6)
    matched, mismatch, filed_only, shipped_only, unreceived, counted = b
    shipment = month.ship({matched: 10, mismatch: 10, shipped_only: 7}, day=8)
    in_transit = month.ship({unreceived: 6}, day=20, receive=False, reference="FP-002")
    month.dispense(matched, day=12)
    filing = month.filing([
        month.row(matched, 10), month.row(mismatch, 12), month.row(filed_only, 5), month.row(unreceived, 6)])
    # A use-register entry that never reached the books (written straight to the table).
    ghost = Dispense.objects.create(**{
        **{f.attname: getattr(Dispense.objects.first(), f.attname) for f in Dispense._meta.concrete_fields
           if f.name not in ("id", "recorded_at")},
        "batch_id": mismatch.pk, "occurred_at": month.at(14), "prescription_number": "RX-GHOST"})
    # The wholesaler's physical count of the month: 3 short of the books.
    count = services.stock_count_record(actor=county.clerk, batch=counted, counted=97, occurred_at=month.at(25))
    return {"b": b, "shipment": shipment, "in_transit": in_transit, "filing": filing, "ghost": ghost,
            "count": count}


@pytest.mark.parametrize("pivot", [False, True], ids=["per-kind", "pivot"])
def test_each_kind_is_found_and_nothing_else(county, month, planted, pivot, monkeypatch):
    from audits import closing

    if pivot:
        monkeypatch.setattr(closing, "PIVOT_ABOVE", 0)
    matched, mismatch, filed_only, shipped_only, unreceived, counted = planted["b"]
    result = reconciliation.reconcile(month.month, jurisdiction_prefix=county.jurisdiction.prefix)
    by_batch = {r["batch"]: r for r in result["cross_party"]}
    assert {k: by_batch[k.pk]["status"] for k in (matched, mismatch, filed_only, shipped_only, unreceived)} == {
        matched: "matched", mismatch: "quantity_mismatch", filed_only: "filed_not_shipped",
        shipped_only: "shipped_not_filed", unreceived: "shipped_not_received"}
    assert counted.pk not in by_batch
    found = sorted((d["kind"], d["holder"], d["batch"]) for d in result["discrepancies"])
    assert found == sorted([
        ("quantity_mismatch", county.hospital.pk, mismatch.pk),
        ("filed_not_shipped", county.hospital.pk, filed_only.pk),
        ("shipped_not_filed", county.hospital.pk, shipped_only.pk),
        ("shipped_not_received", county.hospital.pk, unreceived.pk),
        ("institution_unbalanced", county.hospital.pk, mismatch.pk),
        ("count_variance", county.wholesaler.pk, counted.pk),
    ])
    assert result["summary"] == {"quantity_mismatch": 1, "filed_not_shipped": 1, "shipped_not_filed": 1,
                                 "shipped_not_received": 1, "institution_unbalanced": 1, "count_variance": 1}


def test_discrepancies_link_their_documents(county, month, planted):
    matched, mismatch, filed_only, shipped_only, unreceived, counted = planted["b"]
    result = reconciliation.reconcile(month.month, jurisdiction_prefix=county.jurisdiction.prefix)
    d = {(x["kind"], x["batch"]): x for x in result["discrepancies"]}
    qm = d[("quantity_mismatch", mismatch.pk)]
    assert qm["figures"] == {"filed": 12, "shipped": 10, "received": 10}
    assert qm["documents"]["shipments"] == [planted["shipment"].pk]
    assert qm["documents"]["shipment_lines"] == [planted["shipment"].lines.get(batch=mismatch).pk]
    assert qm["documents"]["filing_lines"] == [planted["filing"].lines.get(batch=mismatch).pk]
    assert qm["documents"]["filings"] == [planted["filing"].pk]
    snr = d[("shipped_not_received", unreceived.pk)]
    assert snr["figures"] == {"filed": 6, "shipped": 6, "received": 0}
    assert snr["documents"]["shipments"] == [planted["in_transit"].pk]
    unbalanced = d[("institution_unbalanced", mismatch.pk)]
    assert unbalanced["figures"]["used"] == 1 and unbalanced["figures"]["closing_balance"] == 10
    assert unbalanced["figures"]["expected_closing"] == 9
    assert unbalanced["documents"]["dispenses"] == [planted["ghost"].pk]
    cv = d[("count_variance", counted.pk)]
    assert cv["figures"]["last_count_variance"] == -3
    assert cv["documents"]["stock_counts"] == [planted["count"].pk]


def test_api_records_the_findings_for_the_alerts(county, month, planted, client_for, filings_due):
    url = f"/api/reconciliations/?month={month.month:%Y-%m}&jurisdiction={county.jurisdiction.code}"
    body = client_for(county.office_admin).get(url).json()
    assert len(body["discrepancies"]) == 6
    assert body["recorded"] == {"created": 6, "refreshed": 0, "resolved": 0}
    assert Discrepancy.objects.filter(month=month.month, resolved_at__isnull=True).count() == 6
    # The wholesaler files the missing sale: seen again, shipped_not_filed is resolved.
    _mm, _x, _f, shipped_only, _u, _c = planted["b"]
    rows = [month.row(b, q) for b, q in ((planted["b"][0], 10), (planted["b"][1], 12), (planted["b"][2], 5),
                                          (planted["b"][4], 6), (shipped_only, 7))]
    month.filing(rows, amendment_reason="漏报一笔")
    body = client_for(county.inspector).get(url).json()
    assert body["recorded"] == {"created": 0, "refreshed": 5, "resolved": 1}
    assert Discrepancy.objects.get(kind="shipped_not_filed").resolved_at is not None


def test_xlsx_export(county, month, planted, client_for):
    response = client_for(county.office_admin).get(
        f"/api/reconciliations/export.xlsx?month={month.month:%Y-%m}&jurisdiction={county.jurisdiction.code}")
    assert response.status_code == 200
    wb = load_workbook(io.BytesIO(response.content))
    sheet = wb["账账相符"]
    assert [c.value for c in sheet[1]][:9] == ["批发企业", "客户", "药品", "规格", "批号", "申报销售", "发出",
                                                "确认收货", "结果"]
    statuses = sorted(row[8] for row in sheet.iter_rows(min_row=2, values_only=True))
    assert statuses == sorted(["matched", "quantity_mismatch", "filed_not_shipped", "shipped_not_filed",
                               "shipped_not_received"])
    assert "institution_unbalanced" in [row[-1] for row in wb["账物相符"].iter_rows(min_row=2, values_only=True)]


def test_members_see_only_their_side(county, month, planted, client_for):
    body = client_for(county.pharmacist).get(f"/api/reconciliations/?month={month.month:%Y-%m}").json()
    assert {r["customer"] for r in body["cross_party"]} == {county.hospital.pk}
    assert {r["holder"] for r in body["holders"]} == {county.hospital.pk}
    assert "recorded" not in body
    assert Discrepancy.objects.count() == 0


def test_other_county_is_refused(county, month, planted, client_for):
    response = client_for(county.other.office_admin).get(
        f"/api/reconciliations/?month={month.month:%Y-%m}&jurisdiction={county.jurisdiction.code}")
    assert response.status_code == 403
    assert error_of(response)["code"] == "not_allowed"


def test_bad_month(county, client_for):
    response = client_for(county.office_admin).get("/api/reconciliations/?month=2026-13")
    assert response.status_code == 400 and error_of(response)["code"] == "invalid_month"


def test_naive_loop_agrees_on_closing_balances(county, month, planted):
    from audits.closing import closing_rows

    naive = reconciliation.naive_reconcile(month.month, jurisdiction_prefix=county.jurisdiction.prefix)
    rows = closing_rows(month.month, jurisdiction_prefix=county.jurisdiction.prefix)
    for (holder, batch), row in rows.items():
        assert naive[holder][batch]["closing"] == row["closing_balance"]
