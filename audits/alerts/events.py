"""Event-driven alert rules: a source row is written, and after its transaction commits the
matching alert is raised.

| source row | alert | severity |
| --- | --- | --- |
| `inventory.ShipmentRefusal` (a dispatch a rule refused) | shipment_refused | high |
| `inventory.ShipmentDiscrepancy` shortage / overage | receipt_shortage / receipt_overage | medium |
| `audits.CountLine` closed as suspected loss or theft | count_suspected_loss | high |
| `scanning.ScanAnomaly` pack dispensed twice / at two holders | pack_dispensed_twice / pack_at_two_holders | high |
| `inventory.Dispense` of a pack code dispensed before (typed into the register, not scanned) | pack_dispensed_twice | high |
| `audits.Discrepancy` of a cross-party kind (账账相符) | cross_party_mismatch | medium (low: shipped, not yet received) |

Rows saved one by one reach us through `post_save` receivers connected in
`AlertsConfig.ready()`, so the services that write them do not know about alerts. Rows
written with `bulk_create` (no signal) are handed over explicitly by their service with
`rows_created(Model, rows)`: shipment discrepancies, scan anomalies and a register page's
pack-coded dispenses.

The alert is raised in `transaction.on_commit`: a rolled-back write raises nothing, and an
alert that fails is logged and never breaks the business write. A missed event (a crash
between commit and callback, a row written by a script) is caught by `run_alert_rules`,
which sweeps the same sources (`audits.alerts.rules.sweep_*`) with the same builders below.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

from django.db import transaction
from django.db.models.signals import post_save
from django.utils.translation import gettext as _

from audits.context import request_context
from scanning.models import ScanAnomaly

logger = logging.getLogger(__name__)

CROSS_PARTY_KINDS = ("quantity_mismatch", "filed_not_shipped", "shipped_not_filed", "shipped_not_received")
PACK_ANOMALY_KINDS = (ScanAnomaly.Kind.PACK_DISPENSED_TWICE, ScanAnomaly.Kind.PACK_AT_TWO_HOLDERS)


def _ev(instance_or_label, pk=None) -> dict:
    if pk is None:
        return {"type": instance_or_label._meta.label_lower, "id": instance_or_label.pk}
    return {"type": instance_or_label, "id": pk}


# --- builders: one source row -> the arguments of alert_raise (or None) --------------------


def refusal_alert(refusal) -> dict:
    return {
        "type": "shipment_refused", "severity": "high", "subject": refusal, "organisation": refusal.sender,
        "other_organisation": refusal.recipient,
        "summary": (_("%(recipient)s tried to take termination drugs from %(sender)s into stock: %(message)s")
                    if refusal.act == "receipt" else
                    _("%(sender)s tried to ship termination drugs to %(recipient)s: %(message)s"))
        % {"sender": refusal.sender, "recipient": refusal.recipient, "message": refusal.message},
        "evidence": [_ev(refusal), *([_ev("inventory.shipment", refusal.shipment_id)] if refusal.shipment_id else []),
                     _ev("backend.organisation", refusal.recipient_id)],
        "figures": {"code": refusal.code, "clauses": refusal.clauses, "lines": refusal.lines},
    }


def shipment_discrepancy_alert(discrepancy) -> dict:
    line = discrepancy.line
    shipment = line.shipment
    shortage = discrepancy.kind == "shortage"
    return {
        "type": "receipt_shortage" if shortage else "receipt_overage", "severity": "medium",
        "subject": discrepancy, "organisation": shipment.recipient, "other_organisation": shipment.sender,
        "summary": (_("%(recipient)s received %(received)d of %(shipped)d from %(sender)s (%(batch)s)")
                    % {"recipient": shipment.recipient, "received": discrepancy.received,
                       "shipped": discrepancy.shipped, "sender": shipment.sender, "batch": line.batch.lot_number}),
        "evidence": [_ev(discrepancy), _ev("inventory.shipment", shipment.pk), _ev("inventory.shipmentline", line.pk),
                     _ev("inventory.batch", line.batch_id), _ev("backend.organisation", shipment.sender_id)],
        "figures": {"shipped": discrepancy.shipped, "received": discrepancy.received,
                    "difference": discrepancy.received - discrepancy.shipped},
    }


def count_line_alert(line) -> dict | None:
    if not line.suspected_loss or not line.variance:
        return None
    holder = line.session.holder
    return {
        "type": "count_suspected_loss", "severity": "high", "subject": line, "organisation": holder,
        "summary": _("%(holder)s counted %(counted)d of %(batch)s against %(book)d on the books: suspected loss "
                     "or theft") % {"holder": holder, "counted": line.counted, "batch": line.batch.lot_number,
                                    "book": line.book_quantity or 0},
        "evidence": [_ev(line), _ev("audits.countsession", line.session_id), _ev("inventory.batch", line.batch_id)],
        "figures": {"counted": line.counted, "book_quantity": line.book_quantity, "variance": line.variance,
                    "note": line.reason_note},
    }


def pack_occurrence(anomaly) -> str:
    """A pack seen at a holder it was never shipped to is one alert per such holder (each in
    the county where it was seen: a pack moving on from the second county to a third must
    reach the third's office too); a pack dispensed twice is one alert per pack."""
    return "" if anomaly.kind == ScanAnomaly.Kind.PACK_DISPENSED_TWICE else f"holder:{anomaly.holder_id}"


def pack_occurrence_sql():
    """`pack_occurrence` of a ScanAnomaly row, as a query expression (the daily sweep)."""
    from django.db.models import Case, CharField, Value, When
    from django.db.models.functions import Cast, Concat

    return Case(When(kind=ScanAnomaly.Kind.PACK_DISPENSED_TWICE, then=Value("")),
                default=Concat(Value("holder:"), Cast("holder_id", CharField())), output_field=CharField())


def scan_anomaly_alert(anomaly) -> dict | None:
    if anomaly.kind not in PACK_ANOMALY_KINDS or anomaly.pack_code_id is None or anomaly.holder_id is None:
        return None
    twice = anomaly.kind == "pack_dispensed_twice"
    pack = anomaly.pack_code
    summary = (_("Pack %(code)s was dispensed a second time at %(holder)s") if twice
               else _("Pack %(code)s was seen at %(holder)s after %(other)s"))
    return {
        "type": anomaly.kind, "severity": "high", "subject": pack, "occurrence": pack_occurrence(anomaly),
        "organisation": anomaly.holder, "other_organisation": anomaly.other_holder,
        "summary": summary % {"code": pack.code, "holder": anomaly.holder, "other": anomaly.other_holder or "-"},
        "evidence": [_ev(anomaly), _ev("scanning.scanlog", anomaly.scan_id), _ev("inventory.batch", pack.batch_id),
                     *(_ev("inventory.dispense", d) for d in anomaly.dispenses or []),
                     *([_ev("backend.organisation", anomaly.other_holder_id)] if anomaly.other_holder_id else [])],
        "figures": {"details": anomaly.details},
    }


def dispense_alert(dispense) -> dict | None:
    """A use-register entry naming a pack already in the register: the same alert as a
    scan of it would raise (the REST endpoint takes `pack_code` too)."""
    if dispense.pack_code_id is None:
        return None
    from inventory.models import Dispense

    all_of_pack = list(Dispense.objects.filter(pack_code_id=dispense.pack_code_id).order_by("occurred_at", "id")
                       .values_list("pk", flat=True))
    if len(all_of_pack) < 2:
        return None
    pack = dispense.pack_code
    first = Dispense.objects.select_related("institution__jurisdiction").get(pk=all_of_pack[0])
    return {
        "type": ScanAnomaly.Kind.PACK_DISPENSED_TWICE, "severity": "high", "subject": pack,
        "organisation": dispense.institution, "other_organisation": first.institution,
        "summary": _("Pack %(code)s was dispensed a second time at %(holder)s")
        % {"code": pack.code, "holder": dispense.institution},
        "evidence": [_ev("inventory.batch", pack.batch_id), *(_ev("inventory.dispense", d) for d in all_of_pack)],
        "figures": {"details": {"times": len(all_of_pack)}},
    }


def discrepancy_occurrence(n: int) -> str:
    """The alert occurrence of a discrepancy's `occurrence` (its first: none)."""
    return "" if n <= 1 else f"#{n}"


def discrepancy_occurrence_sql():
    """`discrepancy_occurrence` of a Discrepancy row, as a query expression (the daily rules)."""
    from django.db.models import Case, CharField, Value, When
    from django.db.models.functions import Cast, Concat

    return Case(When(occurrence__lte=1, then=Value("")),
                default=Concat(Value("#"), Cast("occurrence", CharField())), output_field=CharField())


def discrepancy_alert(row) -> dict | None:
    if row.kind not in CROSS_PARTY_KINDS or row.resolved_at is not None:
        return None
    from audits.models import Discrepancy

    documents = row.documents or {}
    evidence = [_ev(row), *([_ev("backend.organisation", row.wholesaler_id)] if row.wholesaler_id else []),
                *([_ev("backend.organisation", row.holder_id)] if row.holder_id else []),
                *([_ev("inventory.batch", row.batch_id)] if row.batch_id else [])]
    for name, label in (("filings", "audits.salesfiling"), ("shipments", "inventory.shipment")):
        evidence.extend(_ev(label, pk) for pk in documents.get(name, []))
    return {
        "type": "cross_party_mismatch", "severity": "low" if row.kind == "shipped_not_received" else "medium",
        "subject": row, "occurrence": discrepancy_occurrence(row.occurrence),
        "organisation": row.wholesaler or row.holder, "jurisdiction": row.jurisdiction_code,
        "other_organisation": row.holder if row.wholesaler_id else None,
        "summary": _("%(month)s: %(kind)s between %(wholesaler)s and %(holder)s")
        % {"month": row.month.strftime("%Y-%m"), "kind": Discrepancy.Kind(row.kind).label,
           "wholesaler": row.wholesaler or "-", "holder": row.holder or "-"},
        "evidence": evidence, "figures": {"kind": row.kind, **(row.figures or {})},
    }


# --- raising after commit ------------------------------------------------------------------


def raise_from(builder: Callable, rows: Iterable) -> list:
    """Raise the alert `builder` makes of each row, as the system (not the user whose write
    caused it). Returns the alerts (`was_created` tells the new ones from those already
    open). A failing row is logged and skipped."""
    from audits.alerts.services import alert_raise

    alerts = []
    with request_context(None):
        for row in rows:
            try:
                kwargs = builder(row)
                if kwargs is not None:
                    alerts.append(alert_raise(**kwargs))
            except Exception:  # an alert must never break anything else
                logger.exception("alert rule %s failed on %s #%s", builder.__name__, type(row).__name__,
                                 getattr(row, "pk", None))
    return alerts


def _after_commit(builder: Callable, model, pks: list[int], related: tuple[str, ...]) -> None:
    def run():
        try:
            rows = list(model.objects.select_related(*related).filter(pk__in=pks).order_by("pk"))
            raise_from(builder, rows)
        except Exception:
            logger.exception("alerts after commit failed for %s %s", model.__name__, pks)

    transaction.on_commit(run, robust=True)


SOURCES: dict[str, tuple[Callable, tuple[str, ...]]] = {
    "inventory.shipmentrefusal": (refusal_alert, ("sender__jurisdiction", "recipient__jurisdiction")),
    "inventory.shipmentdiscrepancy": (shipment_discrepancy_alert,
                                      ("line__batch", "line__shipment__recipient__jurisdiction",
                                       "line__shipment__sender__jurisdiction")),
    "audits.countline": (count_line_alert, ("session__holder__jurisdiction", "batch")),
    "scanning.scananomaly": (scan_anomaly_alert, ("pack_code", "holder__jurisdiction",
                                                  "other_holder__jurisdiction")),
    "audits.discrepancy": (discrepancy_alert, ("wholesaler__jurisdiction", "holder__jurisdiction")),
    "inventory.dispense": (dispense_alert, ("pack_code", "institution__jurisdiction")),
}


def rows_created(model, rows: Iterable) -> None:
    """For services that write source rows with `bulk_create` (no post_save): raise their
    alerts after the transaction commits."""
    try:
        pks = [row.pk for row in rows if row.pk is not None]
        if pks:
            builder, related = SOURCES[model._meta.label_lower]
            _after_commit(builder, model, pks, related)
    except Exception:
        logger.exception("alerts: could not schedule %s", model.__name__)


def _wanted(label: str, instance, created: bool) -> bool:
    if label == "audits.countline":  # flagged at the count's close, which saves an existing line
        return bool(instance.suspected_loss and instance.variance)
    if label == "audits.discrepancy":
        return (created or getattr(instance, "reopened", False)) and instance.kind in CROSS_PARTY_KINDS
    if label == "inventory.dispense":  # only a pack-coded entry can repeat a pack
        return created and instance.pack_code_id is not None
    return created


def _receiver(sender, instance, created, raw=False, **kwargs):
    if raw:  # fixtures
        return
    label = sender._meta.label_lower
    try:
        if _wanted(label, instance, created):
            builder, related = SOURCES[label]
            _after_commit(builder, sender, [instance.pk], related)
    except Exception:
        logger.exception("alerts: could not schedule %s #%s", label, getattr(instance, "pk", None))


def connect() -> None:
    from django.apps import apps

    for label in SOURCES:
        post_save.connect(_receiver, sender=apps.get_model(label), dispatch_uid=f"alerts:{label}")
