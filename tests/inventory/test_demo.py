"""The demo drug chain (inventory.demo.seed_drug_chain) on top of the registry demo."""

import datetime as dt

import pytest
from django.db.models import Count
from django.db.models.functions import TruncMonth

from backend.demo import seed_registry
from inventory import selectors
from inventory.demo import seed_drug_chain
from inventory.models import Dispense, Shipment, ShipmentDiscrepancy, ShipmentRefusal, StockMovement

pytestmark = pytest.mark.django_db


def test_demo_chain_has_the_patterns_and_is_idempotent(client_for):
    demo = seed_registry()
    counts = seed_drug_chain(demo)
    assert 45 <= Shipment.objects.filter(status__in=["received", "rejected"]).count() <= 60, counts
    assert 1800 <= Dispense.objects.count() <= 2200, counts
    assert Dispense.objects.filter(occurred_at__date__lt=demo.today - dt.timedelta(days=150)).exists()
    # a refused shipment to a retail pharmacy, and one to the hospital whose approval lapsed
    assert ShipmentRefusal.objects.filter(recipient__in=demo.retail_pharmacies, code="recipient_not_authorized",
                                          clauses__0__code="retail_pharmacy").exists()
    assert ShipmentRefusal.objects.filter(recipient=demo.expired_hospital).exists()
    # a receipt shortage
    assert ShipmentDiscrepancy.objects.filter(kind="shortage").count() == 1
    # a nearly expired batch
    assert selectors.batches_expiring(60, today=demo.today).exists()
    # an unusual spike: the township centre's busiest month is far above its median month
    months = sorted(Dispense.objects.filter(institution=demo.approved[2]).annotate(m=TruncMonth("occurred_at"))
                    .values("m").annotate(n=Count("id")).values_list("n", flat=True))
    assert months[-1] >= 2 * months[len(months) // 2], months
    # the books hold
    assert selectors.ledger_mismatches() == []
    for wholesaler in demo.wholesalers:
        assert selectors.wholesaler_flow(wholesaler.pk)["balanced"]
    # a second run changes nothing
    movements = StockMovement.objects.count()
    assert seed_drug_chain(seed_registry()) == {}
    assert StockMovement.objects.count() == movements
    # the inspector sees the refusals through the API
    r = client_for(demo.inspector_user).get("/api/shipment-refusals/")
    assert r.json()["count"] == 2


def test_admin_pages_render(county, client):
    from tests.factories import UserFactory

    admin = UserFactory(role="", organisation=None, is_staff=True, is_superuser=True)
    client.force_login(admin)
    from tests.inventory.factories import BatchFactory, stock_institution

    stock_institution(county, BatchFactory(), 5)
    for name in ("drugproduct", "batch", "stockmovement", "stockposition", "intake", "shipment",
                 "shipmentrefusal", "dispense", "disposal", "seizure", "stockcount", "shipmentdiscrepancy"):
        r = client.get(f"/admin/inventory/{name}/", secure=True)
        assert r.status_code == 200, name
