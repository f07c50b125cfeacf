"""Writes of the scan endpoint.

- `scan_record`: the scan log row (and the anomalies the lookup found), in a transaction of
  its own, written after the action whatever its outcome, so a refused or rolled-back
  action still leaves its row.
- The actions: `ACTIONS` maps each scan action to the function that performs it. Each one
  resolves what the scan named (a `selectors.Lookup`) into the arguments of the very same
  service the REST endpoint calls; the rules live there and nowhere else:

    | action   | service                                   | REST twin                          |
    | -------- | ----------------------------------------- | ---------------------------------- |
    | lookup   | (none: a read)                            |                                    |
    | receive  | inventory.services.shipment_receive       | POST /api/shipments/{id}/receive/  |
    | dispense | inventory.services.dispense_record        | POST /api/dispenses/               |
    | count    | audits.counts.count_line_scan             | POST /api/counts/{id}/scan/        |
    | inspect  | audits.sweeps.services.tick_record        | POST /api/visits/{id}/sync/ (scan) |

  To add an action: write `scan_<action>(*, actor, lookup,
  idempotency_key, **context)` here, put it in `ACTIONS`, and give it a context
  serializer in `scanning.api.CONTEXT_SERIALIZERS`.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from audits import counts
from audits.alerts import events as alert_events
from backend import fastsql
from backend.idempotency import without_nul
from inventory import services as inventory_services
from inventory.models import Dispense, Shipment
from scanning import codec
from scanning.errors import (
    ActionNotAvailable,
    BatchNotInShipment,
    CodeNamesNoBatch,
    DeviceSerialAmbiguous,
)
from scanning.models import MAX_RAW, ScanAction, ScanAnomaly, ScanLog
from scanning.selectors import Anomaly, Lookup, counted_pack_code


@dataclass
class ActionResult:
    """What an action did: the document it wrote or changed (for the log and the response)."""

    document: Any
    shipment: Shipment | None = None
    dispense: Dispense | None = None


# --- the actions ----------------------------------------------------------------------------------


def _batch_of(lookup: Lookup):
    if lookup.batch is None:
        raise CodeNamesNoBatch(details={"entity": lookup.entity, "flags": lookup.flag_codes})
    return lookup.batch


def scan_receive(*, actor, lookup: Lookup, shipment: Shipment, received_quantity: int | None = None,
                 note: str = "", occurred_at=None, idempotency_key: str | None = None) -> ActionResult:
    """Receive the shipment's line of the scanned batch (in full unless `received_quantity`
    says otherwise; a different quantity is the service's recorded discrepancy)."""
    batch = _batch_of(lookup)
    line = shipment.lines.filter(batch=batch).first()
    if line is None:
        raise BatchNotInShipment(details={"shipment": shipment.pk, "batch": batch.pk})
    quantity = line.quantity if received_quantity is None else received_quantity
    shipment = inventory_services.shipment_receive(
        actor=actor, shipment=shipment, lines=[{"line": line.pk, "received_quantity": quantity, "note": note}],
        occurred_at=occurred_at, idempotency_key=idempotency_key)
    return ActionResult(document=shipment, shipment=shipment)


def scan_dispense(*, actor, lookup: Lookup, idempotency_key: str | None = None, **fields) -> ActionResult:
    """Register a dispense of the scanned batch (and pack, when the code names one): the use
    register's rules are `dispense_record`'s. A pack that was dispensed before is not refused
    there (nor here): it is flagged and recorded as an anomaly for the alerts."""
    batch = _batch_of(lookup)
    fields = {**fields, "batch": batch, "pack_code": lookup.pack}
    dispense = inventory_services.dispense_record(actor=actor, idempotency_key=idempotency_key, **fields)
    if lookup.pack is not None:
        earlier = list(Dispense.objects.filter(pack_code=lookup.pack).exclude(pk=dispense.pk)
                       .order_by("occurred_at", "id").values_list("pk", flat=True))
        if earlier:
            lookup.anomalies.append(Anomaly(ScanAnomaly.Kind.PACK_DISPENSED_TWICE, batch_id=batch.pk,
                                            pack_code_id=lookup.pack.pk, dispenses=[*earlier, dispense.pk],
                                            details={"times": len(earlier) + 1}))
    return ActionResult(document=dispense, dispense=dispense)


def scan_count(*, actor, lookup: Lookup, session, idempotency_key: str | None = None) -> ActionResult:
    """One pack into an open count session (`audits.counts.count_line_scan` adds the pack
    size to the batch's line and refuses the same pack twice)."""
    counts.count_line_scan(actor=actor, session=session, code=counted_pack_code(lookup))
    return ActionResult(document=session)


def _scanned_text(payload) -> str:
    if isinstance(payload, codec.OwnLabelPayload):
        return payload.device_tag or payload.text
    if isinstance(payload, codec.PlainPayload):
        return payload.text.strip()
    if isinstance(payload, codec.TraceCodePayload):
        return payload.code
    if isinstance(payload, codec.Gs1Payload):
        return payload.hri or payload.element_string
    return ""


def scan_inspect(*, actor, lookup: Lookup, visit, client_id=None, scanned_at=None,
                 idempotency_key: str | None = None) -> ActionResult:
    """Tick the visit's register with what was scanned (`audits.sweeps.services.tick_record`
    decides found / wrong holder / unregistered / on or off the books). An asset tag or a
    typed factory serial that names no registered device is an unregistered device."""
    import uuid

    from audits.sweeps import services as sweep_services

    if "device_serial_ambiguous" in lookup.flag_codes:  # never tick (nor call unregistered) a guess
        raise DeviceSerialAmbiguous(details=next(f.details for f in lookup.flags
                                                 if f.code == "device_serial_ambiguous"))
    if client_id is None:  # the phone's id for the tick; a keyed retry maps to the same one
        client_id = uuid.uuid5(uuid.NAMESPACE_URL, idempotency_key) if idempotency_key else uuid.uuid4()
    unregistered = lookup.device is None and lookup.product is None and (
        lookup.entity == "device" or isinstance(lookup.payload, codec.PlainPayload))
    tick = sweep_services.tick_record(
        actor=actor, visit=visit, client_id=client_id, code=_scanned_text(lookup.payload), device=lookup.device,
        batch=lookup.batch, product=lookup.product, pack=lookup.pack, unregistered_device=unregistered,
        scanned_at=scanned_at)
    return ActionResult(document=tick)


ACTIONS: dict[str, Callable[..., ActionResult] | None] = {
    ScanAction.LOOKUP: None,
    ScanAction.RECEIVE: scan_receive,
    ScanAction.DISPENSE: scan_dispense,
    ScanAction.COUNT: scan_count,
    ScanAction.INSPECT: scan_inspect,
}


def scan_act(*, action: str, actor, lookup: Lookup, context: dict, idempotency_key: str | None) -> ActionResult | None:
    handler = ACTIONS.get(action)
    if handler is None:
        if action == ScanAction.LOOKUP:
            return None
        raise ActionNotAvailable(details={"action": action})
    return handler(actor=actor, lookup=lookup, idempotency_key=idempotency_key, **context)


# --- the log ------------------------------------------------------------------------------------------


def _outcome(status_code: int) -> str:
    if status_code < 400:
        return ScanLog.Outcome.OK
    if status_code >= 500:
        return ScanLog.Outcome.FAILED
    if status_code in (400, 413, 415):
        return ScanLog.Outcome.INVALID
    return ScanLog.Outcome.REFUSED


def scan_record(*, actor, action: str, status_code: int, error_code: str = "", raw: str = "",
                payload: codec.Payload | codec.ScanError | None = None, lookup: Lookup | None = None,
                source: str = ScanLog.Source.TEXT, symbology: str = "", decoder: str = "", image_sha256: str = "",
                context: dict | None = None, result: ActionResult | None = None) -> ScanLog:
    """Write one scan log row (+ its anomalies) in a transaction of its own (a lone row: one
    autocommitted INSERT, the cheapest write there is). Never inside the action's
    transaction: a rolled-back action keeps its row."""
    user = actor if getattr(actor, "is_authenticated", False) else None
    if payload is None and lookup is not None:
        payload = lookup.payload
    with transaction.atomic() if lookup is not None and lookup.anomalies else nullcontext():
        log = fastsql.insert(ScanLog(
            user=user, organisation_id=getattr(user, "organisation_id", None), scanned_at=timezone.now(),
            source=source, raw=without_nul(raw or "")[:MAX_RAW],
            symbology=without_nul(symbology or getattr(payload, "symbology", "") or "")[:30],
            decoder=decoder, image_sha256=image_sha256,
            payload=without_nul(payload.as_dict()) if payload is not None else {},
            payload_kind=payload.kind if payload is not None else "", action=action, context=context or {},
            outcome=_outcome(status_code), status_code=status_code,
            error_code=error_code or ("" if status_code < 400 else "error"),
            entity=lookup.entity if lookup else "", unknown=bool(lookup and lookup.unknown),
            flags=lookup.flag_codes if lookup else [],
            product=lookup.product if lookup else None, batch=lookup.batch if lookup else None,
            pack_code=lookup.pack if lookup else None, device=lookup.device if lookup else None,
            shipment=result.shipment if result else None, dispense=result.dispense if result else None,
        ))
        if lookup is not None and lookup.anomalies:
            anomalies = ScanAnomaly.objects.bulk_create([
                ScanAnomaly(kind=a.kind, scan=log, detected_at=log.scanned_at, holder_id=log.organisation_id,
                            other_holder_id=a.other_holder_id, batch_id=a.batch_id, pack_code_id=a.pack_code_id,
                            dispenses=a.dispenses, details=a.details)
                for a in lookup.anomalies
            ])
            alert_events.rows_created(ScanAnomaly, anomalies)  # bulk_create sends no post_save
    return log
