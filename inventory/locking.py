"""Every lock the stock code takes, in one place (after Saleor's warehouse/lock_objects.py).

Rule: inside the transaction, lock every position a posting touches with
`select_for_update`, in primary-key order, then check, then write. One fixed order means
two postings that touch the same positions cannot deadlock. Missing positions are created
(quantity 0) in key order first, then everything is locked in primary-key order.

One position alone (most postings) is locked, checked and changed by the one UPDATE that
posts to it (`inventory.ledger`): nothing else to order it against.

SQLite ignores `select_for_update`; there the IMMEDIATE transaction mode (settings) takes
the database write lock when the transaction starts, so postings are serialised anyway.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import IntegrityError, transaction
from django.db.models import Q

from inventory.models import Shipment, StockPosition

PositionKey = tuple[int, int, bool]  # holder id, batch id, in transit


def _condition(keys: list[PositionKey]) -> Q:
    if len(keys) == 1:
        holder_id, batch_id, in_transit = keys[0]
        return Q(holder_id=holder_id, batch_id=batch_id, in_transit=in_transit)
    condition = Q()
    for holder_id, batch_id, in_transit in keys:
        condition |= Q(holder_id=holder_id, batch_id=batch_id, in_transit=in_transit)
    return condition


def lock_positions(keys: Iterable[PositionKey]) -> dict[PositionKey, StockPosition]:
    """Lock the positions for `keys` (creating missing ones) in primary-key order."""
    keys = sorted(set(keys))
    if not keys:
        return {}
    condition = _condition(keys)
    locked = {(p.holder_id, p.batch_id, p.in_transit): p
              for p in StockPosition.objects.filter(condition).select_for_update(no_key=True).order_by("pk")}
    missing = [key for key in keys if key not in locked]
    if not missing:
        return locked
    for holder_id, batch_id, in_transit in missing:
        try:
            with transaction.atomic():
                StockPosition.objects.create(holder_id=holder_id, batch_id=batch_id, in_transit=in_transit)
        except IntegrityError:  # created concurrently: fine, we lock it below
            pass
    # Lock again, all of them, in primary-key order (rows already held stay held).
    return {(p.holder_id, p.batch_id, p.in_transit): p
            for p in StockPosition.objects.filter(condition).select_for_update(no_key=True).order_by("pk")}


def lock_shipment(shipment_id: int) -> Shipment:
    """Lock a shipment row before changing its status (dispatch, receive, reject)."""
    return Shipment.objects.select_for_update(of=("self",), no_key=True).select_related("sender", "recipient").get(pk=shipment_id)
