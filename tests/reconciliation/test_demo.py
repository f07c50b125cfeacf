"""The demo: signed closings and sales filings for the past months, one late filer, one
filing that disagrees with the shipments, so last month's reconciliation finds it."""

import pytest

from audits import periods, reconciliation
from audits.demo import late_filing_month, seed_reconciliation
from audits.models import Discrepancy, SalesFiling, SignedClosing
from backend.demo import seed_registry
from inventory.demo import seed_drug_chain

pytestmark = pytest.mark.django_db


def test_demo_reconciliation(client_for):
    demo = seed_registry()
    seed_drug_chain(demo)
    counts = seed_reconciliation(demo)
    assert counts["closings"] > 20 and counts["filings"] >= 10, counts
    last = periods.previous_month(demo.today.replace(day=1))
    w1, w2 = demo.wholesalers
    late = late_filing_month(demo)
    assert late in (last, periods.previous_month(last))
    assert SalesFiling.objects.get(wholesaler=w2, month=late).late is True
    assert SalesFiling.objects.filter(wholesaler=w2, late=True).count() == 1
    assert not SalesFiling.objects.filter(wholesaler=w1, late=True).exists()
    assert not SignedClosing.objects.filter(holder=demo.approved[2], month=last).exists()
    result = reconciliation.reconcile(last, jurisdiction_prefix=demo.county.prefix)
    mismatches = [d for d in result["discrepancies"] if d["kind"] == "quantity_mismatch"]
    assert len(mismatches) == 1 and mismatches[0]["wholesaler"] == w1.pk
    figures = mismatches[0]["figures"]
    assert figures["filed"] == figures["shipped"] + 2
    assert Discrepancy.objects.filter(month=last, kind="quantity_mismatch").count() == 1
    # The chain's own receipt shortage shows in its month.
    assert Discrepancy.objects.filter(kind="shipped_not_received").count() == 1
    # Idempotent.
    assert seed_reconciliation(demo) == {}
    status = client_for(demo.office_user).get(f"/api/filings/status/?month={last:%Y-%m}").json()["results"]
    by = {(r["organisation"], r["form"]): r["status"] for r in status}
    assert by[(w1.pk, "sales_summary")] == "filed"
    assert by[(demo.approved[2].pk, "drug_summary")] in ("missing", "not_yet_due")
    status = client_for(demo.office_user).get(f"/api/filings/status/?month={late:%Y-%m}").json()["results"]
    by = {(r["organisation"], r["form"]): r["status"] for r in status}
    assert by[(w2.pk, "sales_summary")] == "late"
