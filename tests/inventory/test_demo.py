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
    # scanning can be tried on the demo: products with GTINs and product codes, serialised packs
    assert_demo_is_scannable(demo, client_for)
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


def assert_demo_is_scannable(demo, client_for):
    """GS1 scanning, pack flags and the count scan need codes in the catalogue and on packs."""
    from inventory.demo import DEMO_CODES
    from inventory.models import DrugProduct, PackCode, gtin_check_ok
    from scanning.codec import parse, render_gs1

    products = list(DrugProduct.objects.filter(traceability_product_code__in=[c for _g, c in DEMO_CODES.values()]))
    assert len(products) == 5
    for product in products:
        assert len(product.gtins) == 1 and gtin_check_ok(product.gtins[0])
        assert product.gtins[0][1:4] in {str(p) for p in range(690, 700)}  # GS1 China
        assert len(product.traceability_product_code) == 7 and product.traceability_product_code.isdigit()
    trace = PackCode.objects.filter(kind="traceability").select_related("batch__product")
    serials = PackCode.objects.filter(kind="gs1_serial").select_related("batch__product")
    assert trace.count() >= 10 and serials.count() >= 10
    for pack in trace:
        assert len(pack.code) == 20 and pack.code[0] == "8"
        assert pack.code[:7] == pack.batch.product.traceability_product_code
        assert parse(pack.code).kind == "trace"
    dispensed = trace.filter(dispenses__isnull=False).distinct()
    assert dispensed.exists() and trace.filter(dispenses__isnull=True).exists()
    assert serials.filter(dispenses__isnull=False).exists()

    # a pharmacist re-scans a dispensed pack: "already dispensed"; a fresh pack: no flag
    pharmacist = client_for(demo.pharmacist_users[dispensed[0].dispenses.first().institution_id][0])
    again = pharmacist.post("/api/scan/", {"code": dispensed[0].code}, format="json")
    assert again.status_code == 200, again.content
    assert "pack_already_dispensed" in {f["code"] for f in again.json()["flags"]}
    fresh = trace.filter(dispenses__isnull=True).first()
    body = pharmacist.post("/api/scan/", {"code": fresh.code}, format="json").json()
    assert body["pack"]["dispensed"] == 0 and "pack_already_dispensed" not in {f["code"] for f in body["flags"]}
    # a GS1 pack label as printed, (01)(17)(10)(21), names the pack
    pack = serials.filter(dispenses__isnull=False).first()
    gtin, serial = pack.code[2:16], pack.code[18:]
    gs1 = render_gs1(gtin, pack.batch.expiry_printed, pack.batch.lot_number, serial)
    read = pharmacist.post("/api/scan/", {"code": gs1}, format="json").json()
    assert read["pack"]["id"] == pack.pk and "pack_already_dispensed" in {f["code"] for f in read["flags"]}


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
