"""The demo: signed closings and sales filings for the past months, one late filer, one
filing that disagrees with the shipments, so last month's reconciliation finds it."""

import pytest
from django.utils import timezone

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


def test_demo_filing_status_shows_only_what_was_planted(client_for):
    """The closings of past months are dated when a custodian would sign them (before the
    due day), not when the demo was seeded: over every month of the demo's history the
    office's filing status shows one late filer (the second wholesaler, `late_filing_month`)
    and one missing closing (集兵镇中心卫生院, last month)."""
    from inventory.models import Shipment, StockMovement

    demo = seed_registry()
    seed_drug_chain(demo)
    seed_reconciliation(demo)
    office = client_for(demo.office_user)
    last = periods.previous_month(demo.today.replace(day=1))
    first = timezone.localdate(StockMovement.objects.order_by("occurred_at").first().occurred_at).replace(day=1)
    lagging = demo.approved[2]
    late, missing, not_yet_due, unfiled_sales, rows = set(), set(), set(), set(), 0
    month = first
    while month <= last:
        response = office.get("/api/filings/status/", {"month": f"{month:%Y-%m}"})
        assert response.status_code == 200
        for row in response.json()["results"]:
            rows += 1
            key = (row["organisation"], row["form"], month)
            if row["status"] == "late":
                late.add(key)
            elif row["status"] == "missing" and row["form"] == "sales_summary":
                unfiled_sales.add(key)
            elif row["status"] == "missing":
                missing.add(key)
            elif row["status"] == "not_yet_due":
                not_yet_due.add(key)
            else:
                assert row["status"] == "filed", row
        month = periods.next_month(month)
    assert rows > 40
    assert late == {(demo.wholesalers[1].pk, "sales_summary", late_filing_month(demo))}
    planted = {(lagging.pk, "usage_register", last), (lagging.pk, "drug_summary", last)}
    if demo.today > periods.due_on(last, lagging.jurisdiction):
        assert (missing, not_yet_due) == (planted, set())
    else:
        assert (missing, not_yet_due) == (set(), planted)
    # A month in which a wholesaler sold nothing has no summary (an empty filing is refused):
    # that is the only other gap.
    for wholesaler_id, _form, month in unfiled_sales:
        start, end = periods.month_bounds(month)
        assert not Shipment.objects.filter(sender_id=wholesaler_id, dispatched_at__gte=start,
                                           dispatched_at__lt=end).exists()
