"""Reads of the drug chain: balances, stock cards, the checks that prove the cached
positions equal the ledger, and the cross-party flow of each wholesaler (账账相符)."""

from __future__ import annotations

import datetime as dt

from django.db.models import IntegerField, OuterRef, Q, QuerySet, Subquery, Sum
from django.utils import timezone

from backend import visibility
from inventory.models import (
    Batch,
    Dispense,
    Intake,
    Shipment,
    ShipmentDiscrepancy,
    StockMovement,
    StockPosition,
)


def end_of_day(on: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(on + dt.timedelta(days=1), dt.time.min))


def stock_positions(user) -> QuerySet[StockPosition]:
    qs = StockPosition.objects.select_related("holder", "batch__product")
    return visibility.scope(qs, user, "holder")


POSITION_FIELDS = ("id", "holder_id", "holder__name", "batch_id", "batch__lot_number", "batch__expiry_date",
                   "batch__product_id", "batch__product__generic_name", "batch__product__strength", "in_transit",
                   "quantity", "updated_at")


def _position_rows() -> QuerySet:
    # Resolving the twelve field paths and their joins is most of what .values() costs:
    # done once; each call clones the unevaluated queryset (a clone never shares results).
    global _POSITION_ROWS
    if _POSITION_ROWS is None:
        _POSITION_ROWS = StockPosition.objects.values(*POSITION_FIELDS)
    return _POSITION_ROWS.all()


_POSITION_ROWS: QuerySet | None = None


def stock_position_rows(user) -> QuerySet:
    """Positions the user may see, as plain rows (see POSITION_FIELDS)."""
    return visibility.scope(_position_rows(), user, "holder")


def stock_balances_as_of(user, on: dt.date, *, filters: Q | None = None) -> list[dict]:
    """Balances at the end of `on`, summed from the ledger (not from the cache)."""
    qs = visibility.scope(StockMovement.objects.all(), user, "holder").filter(occurred_at__lt=end_of_day(on))
    if filters is not None:
        qs = qs.filter(filters)
    rows = (qs.values("holder_id", "batch_id", "in_transit").annotate(quantity=Sum("quantity"))
            .order_by("holder_id", "batch_id", "in_transit"))
    return [row for row in rows if row["quantity"] != 0]


def stock_movements(user) -> QuerySet[StockMovement]:
    return visibility.scope(StockMovement.objects.select_related("batch__product"), user, "holder")


def with_running_balance(queryset: QuerySet[StockMovement]) -> QuerySet[StockMovement]:
    """Annotate `balance_after`: the holder + batch + bucket balance after each movement, in
    ledger order (occurred at, then id), whatever other filters apply to the page."""
    earlier = StockMovement.objects.filter(
        holder_id=OuterRef("holder_id"), batch_id=OuterRef("batch_id"), in_transit=OuterRef("in_transit"),
    ).filter(Q(occurred_at__lt=OuterRef("occurred_at")) | Q(occurred_at=OuterRef("occurred_at"), id__lte=OuterRef("id")))
    total = earlier.order_by().values("holder_id").annotate(t=Sum("quantity")).values("t")
    return queryset.annotate(balance_after=Subquery(total, output_field=IntegerField()))


def position_quantity(holder_id: int, batch_id: int, *, in_transit: bool = False) -> int:
    return StockPosition.objects.filter(holder_id=holder_id, batch_id=batch_id, in_transit=in_transit).values_list(
        "quantity", flat=True).first() or 0


def ledger_sums() -> dict[tuple[int, int, bool], int]:
    rows = StockMovement.objects.values("holder_id", "batch_id", "in_transit").annotate(total=Sum("quantity"))
    return {(r["holder_id"], r["batch_id"], r["in_transit"]): r["total"] for r in rows.order_by()}


def ledger_mismatches() -> list[dict]:
    """Every position whose cached quantity differs from its ledger sum (empty = proven)."""
    sums = ledger_sums()
    cached = {(p.holder_id, p.batch_id, p.in_transit): p.quantity for p in StockPosition.objects.all()}
    out = []
    for key in sorted(set(sums) | set(cached)):
        if sums.get(key, 0) != cached.get(key, 0):
            out.append({"holder": key[0], "batch": key[1], "in_transit": key[2],
                        "cached": cached.get(key, 0), "ledger": sums.get(key, 0)})
    return out


def wholesaler_flow(wholesaler_id: int) -> dict:
    """What left the wholesaler on supply shipments, and where it is now:
    left = received + in transit + returned (rejected) + net discrepancy (shortage - overage).
    """
    supply_lines = Q(shipment_line__shipment__sender_id=wholesaler_id,
                     shipment_line__shipment__kind=Shipment.Kind.SUPPLY)
    moves = StockMovement.objects.filter(supply_lines)

    def total(q: Q) -> int:
        return moves.filter(q).aggregate(t=Sum("quantity"))["t"] or 0

    left = -total(Q(kind=StockMovement.Kind.DISPATCH, holder_id=wholesaler_id, in_transit=False))
    received = total(Q(kind=StockMovement.Kind.RECEIPT, in_transit=False) & ~Q(holder_id=wholesaler_id))
    returned = total(Q(kind=StockMovement.Kind.REJECTION, holder_id=wholesaler_id, in_transit=False))
    in_transit = total(Q(holder_id=wholesaler_id, in_transit=True))
    disc = ShipmentDiscrepancy.objects.filter(line__shipment__sender_id=wholesaler_id,
                                              line__shipment__kind=Shipment.Kind.SUPPLY)
    shortage = sum(d.shipped - d.received for d in disc)  # negative for overages
    return {"left": left, "received": received, "in_transit": in_transit, "returned": returned,
            "net_discrepancy": shortage,
            "balanced": left == received + in_transit + returned + shortage}


def batches_expiring(within_days: int, *, today: dt.date | None = None) -> QuerySet[Batch]:
    today = today or timezone.localdate()
    return Batch.objects.filter(expiry_date__gte=today, expiry_date__lte=today + dt.timedelta(days=within_days))


def batches_visible(user) -> QuerySet[Batch]:
    """Batches whose stock the user may see: members, the batches their organisation holds or
    held (a wholesaler's intakes, an institution's receipts: any ledger row of theirs);
    inspectors and the office, the batches held in their jurisdiction; superusers, all.
    (What a batch *is* stays readable by everyone at /api/batches/; this is for what is
    printed or reported per holder, such as batch labels.)"""
    if visibility.sees_everything(user):
        return Batch.objects.select_related("product")
    held = visibility.scope(StockMovement.objects.all(), user, "holder").values("batch_id")
    taken_in = visibility.scope(Intake.objects.all(), user, "wholesaler").values("batch_id")
    return Batch.objects.select_related("product").filter(Q(pk__in=held) | Q(pk__in=taken_in))


def dispenses_visible(user) -> QuerySet[Dispense]:
    """Dispenses the user may list: the institution's own, the jurisdiction's for
    authorities; never any for wholesalers."""
    if getattr(user, "role", "") == "wholesaler_clerk":
        return Dispense.objects.none()
    qs = Dispense.objects.select_related("institution", "batch__product", "physician", "pharmacist")
    return visibility.scope(qs, user, "institution")


def may_see_patient(user, dispense: Dispense) -> bool:
    """Full patient identifiers: the institution's own pharmacists and physicians, and
    inspectors of the institution's jurisdiction."""
    if not user.is_authenticated:
        return False
    if user.role in ("pharmacist", "physician") and user.organisation_id == dispense.institution_id:
        return True
    if user.role == "inspector" and user.is_authority:
        return dispense.institution.jurisdiction.code.startswith(user.jurisdiction_prefix)
    return False
