"""A small month for the reconciliation tests: last month (always over), in county.

    m = Month(county)                   # the month, timestamps inside it
    b = m.batches(5)                    # five batches, 100 of each taken in by the wholesaler
    m.ship({b[0]: 10, b[1]: 10}, day=8) # dispatched and received in full
    m.filing([(b[0], 10, "INV-1")])     # the wholesaler's sales filing for the month
"""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from audits import filings, periods
from inventory import services
from inventory.models import DrugProduct
from tests.inventory.factories import BatchFactory, DrugProductFactory, dispense_kwargs


def last_month() -> dt.date:
    return periods.previous_month(timezone.localdate().replace(day=1))


class Month:
    def __init__(self, county, month: dt.date | None = None):
        self.county = county
        self.month = month or last_month()
        self.product = (DrugProduct.objects.filter(generic_name="米非司酮片", strength="25 mg",
                                                   manufacturer="测试制药有限公司").first()
                        or DrugProductFactory(generic_name="米非司酮片", strength="25 mg", counting_unit="片"))
        self._invoice = 0

    def at(self, day: int, hour: int = 10) -> dt.datetime:
        return timezone.make_aware(dt.datetime.combine(self.month.replace(day=day), dt.time(hour)))

    def batches(self, n: int, *, stock: int = 100) -> list:
        out = []
        for _ in range(n):
            batch = BatchFactory(product=self.product)
            services.intake_record(actor=self.county.clerk, batch=batch, quantity=stock, invoice_number="IN-1",
                                   supplier_name="测试制药有限公司", received_at=self.at(2))
            out.append(batch)
        return out

    def ship(self, lines: dict, *, day: int = 8, receive: bool | dict = True, recipient=None,
             reference: str = "FP-001"):
        shipment = services.shipment_create(
            actor=self.county.clerk, recipient=recipient or self.county.hospital, reference=reference,
            lines=[{"batch": b, "quantity": q} for b, q in lines.items()])
        services.shipment_dispatch(actor=self.county.clerk, shipment=shipment, occurred_at=self.at(day))
        if receive:
            received = None
            if isinstance(receive, dict):
                received = [{"line": line.pk, "received_quantity": receive.get(line.batch, line.quantity)}
                            for line in shipment.lines.all()]
            services.shipment_receive(actor=self.county.pharmacist, shipment=shipment, lines=received,
                                      occurred_at=self.at(day + 1))
        return shipment

    def dispense(self, batch, *, day: int = 15, quantity: int = 1, **overrides):
        return services.dispense_record(actor=self.county.pharmacist, occurred_at=self.at(day),
                                        **dispense_kwargs(self.county, batch, quantity=quantity, **overrides))

    def row(self, batch, quantity, invoice=None, *, day: int = 8, customer=None) -> dict:
        customer = customer or self.county.hospital
        if invoice is None:
            self._invoice += 1
            invoice = f"INV-{self._invoice:04d}"
        return {"date": self.month.replace(day=day).isoformat(), "customer": customer.name,
                "customer_credit_code": customer.credit_code, "drug": batch.product.generic_name,
                "specification": batch.product.strength, "batch": batch.lot_number, "quantity": quantity,
                "invoice_number": invoice}

    def filing(self, rows: list[dict], *, submitted_at=None, amendment_reason: str = ""):
        return filings.sales_filing_submit(actor=self.county.clerk, month=self.month,
                                           rows=filings.rows_from_json(rows), source="json",
                                           submitted_at=submitted_at, amendment_reason=amendment_reason)
