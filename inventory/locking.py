"""Every lock the stock code takes, in one place (after Saleor's warehouse/lock_objects.py).

Rule: inside the transaction, lock every position a posting touches with
`select_for_update`, in primary-key order, then check, then write. One fixed order means
two postings that touch the same positions cannot deadlock. Missing positions are created
(quantity 0) in key order first, then everything is locked in primary-key order.

One position alone (most postings) is locked, checked and changed by one UPDATE instead
(`apply_single`): nothing else to order it against.

SQLite ignores `select_for_update`; there the IMMEDIATE transaction mode (settings) takes
the database write lock when the transaction starts, so postings are serialised anyway.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from backend import fastsql
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
              for p in StockPosition.objects.filter(condition).select_for_update().order_by("pk")}
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
            for p in StockPosition.objects.filter(condition).select_for_update().order_by("pk")}


def apply_single(key: PositionKey, delta: int) -> bool:
    """The common posting, one position (a dispense, an intake, a disposal): one UPDATE
    that locks the row, checks the balance and changes it (PostgreSQL re-reads a row it
    waited for, so the check sees the committed balance). False when it changed nothing:
    the position does not exist yet or holds too little; the general path then creates it
    or explains the refusal."""
    holder_id, batch_id, in_transit = key
    connection = transaction.get_connection()
    now = StockPosition._meta.get_field("updated_at").get_db_prep_value(timezone.now(), connection)
    with connection.cursor() as cursor:
        cursor.execute(  # our table name; the values go as parameters
            f"UPDATE {fastsql.table(StockPosition)} SET quantity = quantity + %s, updated_at = %s "  # noqa: S608
            "WHERE holder_id = %s AND batch_id = %s AND in_transit = %s AND quantity + %s >= 0",
            [delta, now, holder_id, batch_id, in_transit, delta])
        return cursor.rowcount == 1


def lock_shipment(shipment_id: int) -> Shipment:
    """Lock a shipment row before changing its status (dispatch, receive, reject)."""
    return Shipment.objects.select_for_update().select_related("sender", "recipient").get(pk=shipment_id)
