"""The demo sweep: one finished sweep seeded through the services, idempotent."""

import pytest

from audits.alerts.models import Alert
from audits.selectors import audit_chain_verify
from audits.sweeps.demo import NAME, seed_sweep
from audits.sweeps.models import (
    Case,
    ChecklistAnswer,
    EvidencePhoto,
    Finding,
    FindingAction,
    Sweep,
    Tick,
    Visit,
)
from backend.demo import seed_registry
from inventory import services as inventory_services
from inventory.devices.demo import seed_devices
from inventory.models import DrugProduct, Seizure, StockMovement

pytestmark = pytest.mark.django_db


def _stock(demo):
    """A little mifepristone at the hospital and the township centre (the drug chain's demo
    is much larger; the sweep only needs something on their books)."""
    w1 = demo.wholesalers[0]
    clerk = demo.wholesaler_users[w1.pk][0]
    product = DrugProduct.objects.filter(generic_name="米非司酮片", strength="25 mg").first()
    batch = inventory_services.batch_get_or_create(product=product, lot_number="DEMO-S1", expiry_printed="300100")
    inventory_services.intake_record(actor=clerk, batch=batch, quantity=200, invoice_number="S-1",
                                     supplier_name="华润紫竹药业有限公司")
    for institution in (demo.approved[0], demo.approved[2]):
        shipment = inventory_services.shipment_create(actor=clerk, recipient=institution,
                                                      lines=[{"batch": batch, "quantity": 60}])
        inventory_services.shipment_dispatch(actor=clerk, shipment=shipment)
        inventory_services.shipment_receive(actor=demo.pharmacist_users[institution.pk][0], shipment=shipment)


def test_seed_sweep(django_capture_on_commit_callbacks):
    demo = seed_registry()
    seed_devices(demo)
    _stock(demo)
    with django_capture_on_commit_callbacks(execute=True):
        summary = seed_sweep(demo)
    pack = DrugProduct.objects.filter(generic_name="米非司酮片", strength="25 mg").first().pack_size
    assert summary["seized"] == 24 + 2 * pack
    sweep = Sweep.objects.get(name=NAME)
    assert sweep.status == "finished" and sweep.teams.count() == 2
    assert sweep.targets.count() >= 9 and sweep.targets.filter(team__isnull=True).count() == 0
    assert Visit.objects.filter(sweep=sweep, status="closed").count() == 4
    assert ChecklistAnswer.objects.count() >= 15
    assert Finding.objects.count() == 5
    assert FindingAction.objects.filter(kind="seal_device").get().device.serial_number == "SS22-180455"
    assert FindingAction.objects.filter(kind="seal_device").get().device.status == "sealed"
    on_books, off_books = Seizure.objects.order_by("off_books")
    assert (on_books.holder, on_books.off_books) == (demo.approved[2], False)
    # The retail pharmacy's shelf: seized off the books, so its books stay at nothing.
    assert (off_books.holder, off_books.off_books, off_books.quantity) == (demo.retail_pharmacies[0], True, 2 * pack)
    assert not StockMovement.objects.filter(holder=demo.retail_pharmacies[0]).exists()
    assert StockMovement.objects.get(seizure=off_books).holder == off_books.authority
    assert Tick.objects.filter(kind="device_missing").get().device.serial_number == "CTS88-17302"
    assert Tick.objects.filter(kind="device_unregistered").get().visit.organisation == demo.individual_clinics[0]
    off = Tick.objects.get(kind="stock_off_books")
    assert off.visit.organisation == demo.retail_pharmacies[0] and "prohibited_holder" in off.flags
    assert EvidencePhoto.objects.count() == 1
    assert sorted(Case.objects.values_list("status", flat=True)) == ["closed", "investigating"]
    assert Alert.objects.filter(type="unregistered_device_found").count() == 1
    assert audit_chain_verify().ok

    rows = (Sweep.objects.count(), Visit.objects.count(), Finding.objects.count(), Tick.objects.count(),
            Case.objects.count(), Seizure.objects.count())
    with django_capture_on_commit_callbacks(execute=True):
        assert seed_sweep(seed_registry()) == {}
    assert rows == (Sweep.objects.count(), Visit.objects.count(), Finding.objects.count(), Tick.objects.count(),
                    Case.objects.count(), Seizure.objects.count())
