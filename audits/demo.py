"""Demo data for reconciliation and monthly filings, called by `manage.py seed_demo` after
the drug chain (`inventory.demo.seed_drug_chain`) with the registry's `Demo`.

For every past month of the drug chain's history: each wholesaler files its sales summary
(generated from its shipments, as a wholesaler's own system would export it), and each
holder's custodian signs the monthly closing. Planted for the inspectors:

- 湖南仁和医药物流 (the second wholesaler) files a summary late: last month's, or, while last
  month's is not yet due (the 1st to the 5th), the month before's (`late_filing_month`);
- 衡阳县康达医药 (the first) files last month with one quantity 2 higher than it shipped, so
  last month's reconciliation shows a quantity_mismatch (plus the chain's own receipt
  shortage in its month);
- 集兵镇中心卫生院 has not signed last month's closing (the filing status shows it missing).

Each closing is dated the 3rd of the following month (before the 5th, when it is due), or
the moment of seeding when that is earlier, so the office's filing status shows only the
planted late filer as late and only the planted closing as missing. Idempotent: a second
run finds the demo filings and changes nothing.
"""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone

from audits import filings, periods, reconciliation
from audits.closing import closing_sign
from audits.models import SalesFiling, SignedClosing

PLANTED_EXTRA = 2


def _months(first: dt.date, last: dt.date) -> list[dt.date]:
    out, m = [], first
    while m <= last:
        out.append(m)
        m = periods.next_month(m)
    return out


def _sales_rows(wholesaler, month: dt.date) -> list[dict]:
    from inventory.models import Shipment, ShipmentLine

    start, end = periods.month_bounds(month)
    lines = (ShipmentLine.objects.filter(shipment__sender=wholesaler, shipment__kind=Shipment.Kind.SUPPLY,
                                         shipment__dispatched_at__gte=start, shipment__dispatched_at__lt=end)
             .exclude(shipment__status__in=[Shipment.Status.DRAFT, Shipment.Status.REJECTED])
             .select_related("shipment__recipient", "batch__product").order_by("shipment__dispatched_at", "id"))
    return [{"date": timezone.localdate(line.shipment.dispatched_at).isoformat(),
             "customer": line.shipment.recipient.name, "customer_credit_code": line.shipment.recipient.credit_code,
             "drug": line.batch.product.generic_name, "specification": line.batch.product.strength,
             "batch": line.batch.lot_number, "quantity": line.quantity,
             "invoice_number": line.shipment.reference or f"DN-{line.shipment_id}"} for line in lines]


def _approved_in(org, month: dt.date) -> bool:
    """Whether the organisation's termination approval covered part of the month (the rule of
    `filings.filing_status`)."""
    from django.db.models import Q

    from backend.models import Licence

    return Licence.objects.filter(
        Q(valid_until__isnull=True) | Q(valid_until__gte=month), holder_organisation=org,
        valid_from__lt=periods.next_month(month), revoked_at__isnull=True,
        kind=Licence.Kind.TERMINATION_APPROVAL).exists()


def closing_signed_at(month: dt.date, holder, now: dt.datetime) -> dt.datetime:
    """When the demo's custodian signed the month: the 3rd of the next month at 10:00 (or the
    due day, if the jurisdiction sets an earlier one), never later than `now`."""
    day = min(periods.next_month(month).replace(day=3), periods.due_on(month, holder.jurisdiction))
    return min(timezone.make_aware(dt.datetime.combine(day, dt.time(10))), now)


def late_filing_month(demo) -> dict:
    """The month whose sales summary the second wholesaler files 3 days late: the latest month
    whose due date plus 3 days has passed on the demo's day (a filing cannot be dated ahead)."""
    month = periods.previous_month(demo.today.replace(day=1))
    while periods.due_on(month, demo.wholesalers[1].jurisdiction) + dt.timedelta(days=3) > demo.today:
        month = periods.previous_month(month)
    return month


def seed_reconciliation(demo) -> dict[str, int]:
    from inventory.models import StockMovement

    if SalesFiling.objects.filter(wholesaler__in=demo.wholesalers).exists():
        return {}
    holders = [*demo.wholesalers, *demo.approved]
    first = StockMovement.objects.filter(holder__in=holders).order_by("occurred_at").values_list(
        "occurred_at", flat=True).first()
    if demo.expired_hospital is not None and demo.expired_hospital.pk in demo.pharmacist_users:
        holders.append(demo.expired_hospital)  # it files (empty) closings for the months it was approved
    if first is None:
        return {}
    now = timezone.now()
    last = periods.previous_month(demo.today.replace(day=1))
    months = _months(timezone.localdate(first).replace(day=1), last)
    w1, w2 = demo.wholesalers
    late_month = late_filing_month(demo)
    lagging = demo.approved[2]
    counts = {"closings": 0, "filings": 0}
    with transaction.atomic():
        for month in months:
            for holder in holders:
                if month == last and holder == lagging:
                    continue
                if SignedClosing.objects.filter(holder=holder, month=month).exists():
                    continue
                if holder == demo.expired_hospital and not _approved_in(holder, month):
                    continue
                users = (demo.wholesaler_users if holder in demo.wholesalers else demo.pharmacist_users)[holder.pk]
                closing_sign(actor=users[0], holder=holder, month=month, today=demo.today,
                             signed_at=closing_signed_at(month, holder, now),
                             statement="本月进、销（用）、存已核对，账物相符")
                counts["closings"] += 1
            for wholesaler in demo.wholesalers:
                rows = _sales_rows(wholesaler, month)
                if not rows:
                    continue
                if month == last and wholesaler == w1:
                    rows[0]["quantity"] += PLANTED_EXTRA
                due = periods.due_on(month, wholesaler.jurisdiction)
                at = timezone.make_aware(dt.datetime.combine(due - dt.timedelta(days=2), dt.time(10)))
                if month == late_month and wholesaler == w2:
                    at = timezone.make_aware(dt.datetime.combine(due + dt.timedelta(days=3), dt.time(16)))
                filings.sales_filing_submit(actor=demo.wholesaler_users[wholesaler.pk][0], month=month,
                                            rows=filings.rows_from_json(rows), source=SalesFiling.Source.JSON,
                                            submitted_at=min(at, now), today=demo.today)
                counts["filings"] += 1
        for month in months:
            result = reconciliation.reconcile(month, jurisdiction_prefix=demo.county.prefix)
            reconciliation.reconciliation_record(result, jurisdiction_code=demo.county.code)
            counts[f"discrepancies {month:%Y-%m}"] = len(result["discrepancies"])
    return counts
