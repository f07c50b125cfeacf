"""Drug-chain factories and helpers on top of tests/factories.py.

    product = DrugProductFactory()                  # mifepristone 25 mg, own product code
    batch = BatchFactory(product=product)           # expires in a year
    BatchFactory(expired=True)                      # expired yesterday
    stock_wholesaler(county, batch, 100)            # intake of 100 by county.clerk
    stock_institution(county, batch, 50)            # intake + shipment + receipt to county.hospital
    dispense_payload(county, batch)                 # a valid POST body for /api/dispenses/
"""

from __future__ import annotations

import datetime as dt

import factory
from django.utils import timezone
from factory.django import DjangoModelFactory

from inventory import services
from inventory.models import Batch, DrugProduct


class DrugProductFactory(DjangoModelFactory):
    class Meta:
        model = DrugProduct

    generic_name = "米非司酮片"
    generic_name_en = "mifepristone tablets"
    brand_names = factory.LazyFunction(lambda: ["息隐"])
    strength = factory.Sequence(lambda n: f"{25 + n} mg")
    form = DrugProduct.Form.TABLET
    pack_size = 6
    counting_unit = "片"
    manufacturer = "测试制药有限公司"
    traceability_product_code = factory.Sequence(lambda n: f"{8600000 + n:07d}")


class BatchFactory(DjangoModelFactory):
    class Meta:
        model = Batch

    product = factory.SubFactory(DrugProductFactory)
    lot_number = factory.Sequence(lambda n: f"L{20260000 + n}")
    expiry_date = factory.LazyFunction(lambda: timezone.localdate() + dt.timedelta(days=365))
    expiry_printed = factory.LazyAttribute(lambda o: o.expiry_date.strftime("%y%m%d"))
    manufactured_on = factory.LazyAttribute(lambda o: o.expiry_date - dt.timedelta(days=2 * 365))

    class Params:
        expired = factory.Trait(
            expiry_date=factory.LazyFunction(lambda: timezone.localdate() - dt.timedelta(days=1)),
        )


def stock_wholesaler(county, batch, quantity, *, received_at=None):
    return services.intake_record(actor=county.clerk, batch=batch, quantity=quantity, invoice_number="INV-1",
                                  supplier_name="测试制药有限公司", received_at=received_at)


def ship(county, batch, quantity, *, recipient=None, receive=True):
    shipment = services.shipment_create(actor=county.clerk, recipient=recipient or county.hospital,
                                        lines=[{"batch": batch, "quantity": quantity}])
    services.shipment_dispatch(actor=county.clerk, shipment=shipment)
    if receive:
        services.shipment_receive(actor=county.pharmacist, shipment=shipment)
    return shipment


def stock_institution(county, batch, quantity):
    stock_wholesaler(county, batch, quantity)
    return ship(county, batch, quantity)


def dispense_payload(county, batch, **overrides) -> dict:
    body = {
        "patient_name": "陈小红",
        "patient_age": 28,
        "patient_address": "衡阳县西渡镇人民路8号",
        "patient_resident_id": "",
        "birth_permit": "holds",
        "children_count": 1,
        "pregnancy_status": "宫内早孕",
        "gestational_weeks": 7,
        "batch": batch.pk,
        "quantity": 1,
        "dose": "25 mg × 1",
        "prescription_number": "RX-0001",
        "physician": county.physician.person_id,
    }
    body.update(overrides)
    return body


def dispense_context(county, **overrides) -> dict:
    """A dispense's fields without its batch (a scanned or typed pack code names it)."""
    body = dispense_payload(county, BatchFactory.build())
    del body["batch"]
    body.update(overrides)
    return body


def dispense_kwargs(county, batch, **overrides) -> dict:
    body = dispense_payload(county, batch, **overrides)
    body["batch"] = batch
    body["physician"] = county.physician.person
    return body
