"""The seeded demo signs its past months with back-dated signatures: every signed line must
still equal the ledger up to the end of its month (a back-dated signature once counted the
entries recorded between the stated and the real signing time twice)."""

import pytest
from django.db.models import Sum

from audits import periods
from audits.demo import seed_reconciliation
from audits.models import SignedClosingLine
from backend.demo import seed_registry
from inventory.demo import seed_drug_chain
from inventory.models import StockMovement

pytestmark = pytest.mark.django_db


def test_demo_signed_closings_equal_the_ledger():
    demo = seed_registry()
    seed_drug_chain(demo)
    seed_reconciliation(demo)
    assert SignedClosingLine.objects.exists()  # the demo signs past months
    bad = []
    for line in SignedClosingLine.objects.order_by("month", "holder_id", "batch_id"):
        _start, end = periods.month_bounds(line.month)
        ledger = StockMovement.objects.filter(holder_id=line.holder_id, batch_id=line.batch_id, in_transit=False,
                                              occurred_at__lt=end).aggregate(q=Sum("quantity"))["q"] or 0
        if ledger != line.closing_balance:
            bad.append((f"{line.month:%Y-%m}", line.holder_id, line.batch_id, line.opening, line.prior_period,
                        line.closing_balance, ledger))
    assert not bad
