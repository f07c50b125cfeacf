"""Posting to the stock ledger: the only code that writes StockMovement and StockPosition.

`post` takes legs (holder, batch, bucket, signed quantity), locks every touched position in
primary-key order (`inventory.locking`), refuses a leg that would make a position negative
(409 `insufficient_stock`; the CHECK constraint would refuse it anyway), updates the cached
positions and appends the movements in the same transaction. A posting that touches one
existing position with enough stock (a dispense, an intake, a disposal: nearly all of them)
does the lock, the check and the update in one UPDATE (`_post_single`). Call it inside the
service's transaction, just before the document's audit entry.

Audit: every movement is on the audit trail inside the entry of the document that caused
it (`describe(movements)` goes into that entry's `after["movements"]`); a correction, which
has no document, gets an entry of its own (`object_type` inventory.stockmovement).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from backend import fastsql
from backend.errors import Conflict
from inventory.errors import InsufficientStock
from inventory.locking import lock_positions
from inventory.models import StockMovement, StockPosition


@dataclass(frozen=True)
class Leg:
    holder_id: int
    batch_id: int
    quantity: int
    in_transit: bool = False
    document: dict | None = None  # e.g. {"shipment_line": line}; defaults to the posting's
    occurred_at: dt.datetime | None = None  # defaults to the posting's

    @property
    def key(self):
        return (self.holder_id, self.batch_id, self.in_transit)


def post(*, legs: list[Leg], kind: str, actor, occurred_at: dt.datetime, document: dict | None = None,
         idempotency_key: str | None = None, corrects: StockMovement | None = None,
         note: str = "") -> list[StockMovement]:
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("ledger.post must run inside the service's transaction")
    legs = [leg for leg in legs if leg.quantity != 0]
    if not legs:
        return []
    totals: dict = {}
    for leg in legs:
        totals[leg.key] = totals.get(leg.key, 0) + leg.quantity
    movements = _movements(legs, kind=kind, actor=actor, occurred_at=occurred_at, document=document,
                           idempotency_key=idempotency_key, corrects=corrects, note=note)
    if len(totals) == 1 and _post_single(*next(iter(totals.items())), movements):
        return movements
    positions = lock_positions(leg.key for leg in legs)
    for key, delta in totals.items():
        available = positions[key].quantity
        if available + delta < 0:
            holder_id, batch_id, in_transit = key
            raise InsufficientStock(
                _("Not enough stock: %(available)d available, %(requested)d requested.")
                % {"available": available, "requested": -delta},
                details={"holder": holder_id, "batch": batch_id, "in_transit": in_transit,
                         "available": available, "requested": -delta},
            )
    try:
        now = timezone.now()
        for key, delta in totals.items():
            StockPosition.objects.filter(pk=positions[key].pk).update(quantity=F("quantity") + delta, updated_at=now)
    except IntegrityError as exc:
        _raise_domain_error(exc)
    try:
        return StockMovement.objects.bulk_create(movements)
    except IntegrityError as exc:
        _raise_domain_error(exc)


def _post_single(key, delta: int, movements: list[StockMovement]) -> bool:
    """The common posting, one position (a dispense, an intake, a disposal): one UPDATE
    locks the row, checks the balance and changes it (PostgreSQL re-reads a row it waited
    for, so the check sees the committed balance); on PostgreSQL the movement is inserted
    by the same statement. False when nothing changed (nothing inserted): the position
    does not exist yet or holds too little, and the general path creates it or explains
    the refusal."""
    holder_id, batch_id, in_transit = key
    connection = transaction.get_connection()
    now = StockPosition._meta.get_field("updated_at").get_db_prep_value(timezone.now(), connection)
    update = (f"UPDATE {fastsql.table(StockPosition)} SET quantity = quantity + %s, updated_at = %s "  # noqa: S608
              "WHERE holder_id = %s AND batch_id = %s AND in_transit = %s AND quantity + %s >= 0")
    params = [delta, now, holder_id, batch_id, in_transit, delta]
    try:
        if connection.vendor == "postgresql" and len(movements) == 1:
            return fastsql.insert(movements[0], after=(f"p AS ({update} RETURNING 1)", params)) is not None
        with fastsql.cursor(connection) as cursor:
            cursor.execute(update, params)
            if cursor.rowcount != 1:
                return False
        for movement in movements:
            fastsql.insert(movement)
        return True
    except IntegrityError as exc:
        _raise_domain_error(exc)


def _raise_domain_error(exc: IntegrityError):
    """A constraint caught what the checks let through (a concurrent writer)."""
    text = str(exc)
    if "idempotency_key" in text:
        raise Conflict(_("This change was already recorded."), code="duplicate_movement") from exc
    if "quantity_not_negative" in text or "CHECK" in text.upper():
        raise InsufficientStock() from exc
    raise exc


def _movements(legs: list[Leg], *, kind, actor, occurred_at, document, idempotency_key, corrects,
               note) -> list[StockMovement]:
    movements = []
    for index, leg in enumerate(legs):
        docs = leg.document if leg.document is not None else (document or {})
        movements.append(StockMovement(
            holder_id=leg.holder_id, batch_id=leg.batch_id, in_transit=leg.in_transit, quantity=leg.quantity,
            kind=kind, occurred_at=leg.occurred_at or occurred_at, actor=actor if getattr(actor, "pk", None) else None,
            idempotency_key=f"{idempotency_key}#{index}" if idempotency_key else None,
            corrects=corrects, note=note, **docs,
        ))
    return movements


def describe(movements: list[StockMovement]) -> list[dict]:
    """Movements as they go into the audit entry of their document."""
    return [{"id": m.pk, "holder": m.holder_id, "batch": m.batch_id, "in_transit": m.in_transit,
             "quantity": m.quantity, "kind": m.kind, "occurred_at": m.occurred_at.isoformat()}
            for m in movements]
