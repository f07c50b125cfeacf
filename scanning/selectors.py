"""Reads of the scan endpoint: what a parsed code names, what the caller may see of it, and
the flags an inspector or pharmacist should notice. No writes here (the scan log and the
anomalies are written by `scanning.services.scan_record`).

    lookup = code_lookup(user=request.user, payload=codec.parse(raw))
    lookup.as_dict()      # for the response
    lookup.flag_codes     # for the log
    lookup.anomalies      # what scan_record records for the alerts

How a payload is resolved (`scanning.codec` says which fields each payload has):
- GS1: product by GTIN (`DrugProduct.gtins`), batch by product + lot (10), pack by its
  SGTIN ("01<gtin>21<serial>", as `PackCode.code`) or the printed "(01)...(21)..." form.
- China traceability code: pack by the 20 digits, product by the first 7.
- Our labels: device by asset tag; batch by product id + lot.
- Plain text: a bare GTIN names a product; anything else is tried as a device's factory
  serial number (shared by several devices: the one at the site inspected, else ambiguous),
  otherwise it is unknown.

Visibility (backend.visibility): members see their own organisation's holdings, authorities
their jurisdiction's. What a code *is* (product, lot, expiry, device model, status) is
printed on the thing scanned and is always shown; holders, balances and operators only
where the caller may see them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.db import connections, router
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.encoding import force_str
from django.utils.translation import gettext_lazy as _

from backend import fastsql, policies, visibility
from backend.models import Organisation
from inventory.devices.models import Device, DeviceStatus
from inventory.models import Batch, Dispense, DrugProduct, PackCode, Shipment, ShipmentLine, StockPosition
from scanning import codec
from scanning.errors import CodeUnreadable, PackCodeRequired
from scanning.models import ScanAnomaly, ScanLog

FLAG_MESSAGES = {
    "expired": _("Expired on %(expiry_date)s."),
    "expiry_mismatch": _("The expiry on the code (%(printed)s) differs from the batch's (%(expiry_date)s)."),
    "pack_already_dispensed": _("This pack was already dispensed (%(count)s time(s))."),
    "pack_seen_at_other_holder": _("This pack was seen before at another holder."),
    "batch_held_elsewhere": _("Your organisation's books do not show this batch, while other holders hold it."),
    "code_unknown": _("The code is unknown to the system."),
    "batch_unknown": _("The product is known, but this lot is not registered."),
    "separator_missing": _("The scanner sent lot and serial as one (%(scanned_lot)s): read as lot %(lot)s, "
                           "serial %(serial)s, the lot registered for this product. Check the scanner's "
                           "FNC1/GS setting."),
    "pack_unknown": _("The product is known, but this pack code is not registered."),
    "device_unregistered": _("No registered device carries this code."),
    "device_serial_ambiguous": _("%(devices)s registered devices carry this factory serial: scan or type the "
                                 "asset tag."),
    "device_sealed": _("The device is sealed."),
    "device_scrapped": _("The device is scrapped."),
    "device_at_other_holder": _("The device is registered to another organisation."),
    "operator_licence_expired": _("An operator's licence for this device is not valid today."),
}

HANDED_OVER = (Shipment.Status.DISPATCHED, Shipment.Status.RECEIVING, Shipment.Status.RECEIVED)


@dataclass
class Flag:
    code: str
    details: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        try:
            message = force_str(FLAG_MESSAGES[self.code] % self.details)
        except (KeyError, TypeError, ValueError):
            message = force_str(FLAG_MESSAGES.get(self.code, self.code))
        return {"code": self.code, "message": message, "details": self.details}


@dataclass
class Anomaly:
    """To be recorded by scan_record (a `ScanAnomaly` row)."""

    kind: str
    batch_id: int | None = None
    pack_code_id: int | None = None
    other_holder_id: int | None = None
    dispenses: list[int] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class Lookup:
    payload: codec.Payload
    entity: str = "unknown"  # pack, batch, product, device, unknown
    product: DrugProduct | None = None
    batch: Batch | None = None
    pack: PackCode | None = None
    device: Device | None = None
    flags: list[Flag] = field(default_factory=list)
    unknown: bool = False
    holders: list[dict] = field(default_factory=list)
    balance: int | None = None
    device_view: dict | None = None
    pack_view: dict | None = None
    anomalies: list[Anomaly] = field(default_factory=list)
    own_positions: list[StockPosition] | None = None  # a member's own, when loaded with the batch

    @property
    def flag_codes(self) -> list[str]:
        return [f.code for f in self.flags]

    def flag(self, flag_code: str, /, **details) -> None:
        self.flags.append(Flag(flag_code, details))

    def as_dict(self) -> dict[str, Any]:
        batch = self.batch
        return {
            "entity": self.entity,
            "payload": self.payload.as_dict(),
            "product": _product_dict(self.product) if self.product else None,
            "batch": ({"id": batch.pk, "lot_number": batch.lot_number, "expiry_date": batch.expiry_date.isoformat(),
                       "expiry_printed": batch.expiry_printed} if batch else None),
            "pack": self.pack_view,
            "device": self.device_view,
            "expiry": self.expiry.isoformat() if self.expiry else None,
            "holders": self.holders,
            "balance": self.balance,
            "unknown": self.unknown,
            "flags": [f.as_dict() for f in self.flags],
        }

    @property
    def expiry(self) -> dt.date | None:
        if self.batch is not None:
            return self.batch.expiry_date
        return getattr(self.payload, "expiry", None)


def _product_dict(product: DrugProduct) -> dict:
    return {"id": product.pk, "name": str(product), "generic_name": product.generic_name,
            "strength": product.strength, "form": product.form, "pack_size": product.pack_size,
            "counting_unit": product.counting_unit, "traceability_product_code": product.traceability_product_code,
            "gtins": product.gtins}


def is_member(user) -> bool:
    """A member of a holding organisation (not an authority, not the admin's superuser)."""
    return bool(user.is_authenticated and user.organisation_id and not user.is_authority
                and not visibility.sees_everything(user))


def may_see(user, organisation: Organisation | None) -> bool:
    if organisation is None:
        return False
    return visibility.is_member_of(user, organisation) or visibility.in_jurisdiction(user, organisation.jurisdiction)


# --- resolving a payload -------------------------------------------------------------------------


def product_by_gtin(gtin: str) -> DrugProduct | None:
    # JSON containment is not portable to SQLite: match the text, then check the list.
    for product in DrugProduct.objects.filter(gtins__icontains=gtin):
        if gtin in (product.gtins or []):
            return product
    return None


def _gtin_match(connection) -> str:
    """SQL: product `p` lists the GTIN given as a parameter (exact element match)."""
    if connection.vendor == "postgresql":
        return "p.gtins @> jsonb_build_array(%s::text)"
    return "EXISTS (SELECT 1 FROM json_each(p.gtins) WHERE json_each.value = %s)"


def _batch_by_gtin_sql(connection) -> str:
    return (
        f"SELECT {fastsql.columns(Batch, 'b')}, {fastsql.columns(DrugProduct, 'p')}, "  # noqa: S608 (our names; values are parameters)
        f"{fastsql.columns(StockPosition, 'sp')} "
        f"FROM {fastsql.table(DrugProduct)} p "
        f"JOIN {fastsql.table(Batch)} b ON b.product_id = p.id AND b.lot_number = %s "
        f"LEFT JOIN {fastsql.table(StockPosition)} sp ON sp.batch_id = b.id AND sp.holder_id = %s "
        f"WHERE {_gtin_match(connection)} ORDER BY b.id, sp.in_transit"
    )


def _batch_by_gtin(gtin: str, lot: str, *, holder_id: int | None = None) -> tuple[Batch | None, list[StockPosition]]:
    """The batch `lot` of the product with this GTIN (its product loaded), and the
    positions `holder_id` holds of it: the counter's most common scan, in one query."""
    connection = connections[router.db_for_read(Batch)]
    sql = fastsql.cached(connection, "scan_batch_by_gtin", lambda: _batch_by_gtin_sql(connection))
    with fastsql.cursor(connection) as cursor:
        cursor.execute(sql, [lot, holder_id, gtin])
        rows = cursor.fetchall()
    if not rows:
        return None, []
    batch = fastsql.instance(Batch, rows[0], 0, "b")
    Batch._meta.get_field("product").set_cached_value(
        batch, fastsql.instance(DrugProduct, rows[0], fastsql.width(Batch), "p"))
    offset = fastsql.width(Batch) + fastsql.width(DrugProduct)
    # Two products may share a GTIN: the stock shown is the first batch's only.
    positions = [pos for row in rows if (pos := fastsql.instance(StockPosition, row, offset, "sp")) is not None
                 and pos.batch_id == batch.pk]
    return batch, positions


def _batch(product: DrugProduct, lot: str) -> Batch | None:
    return Batch.objects.filter(product=product, lot_number=lot).first()


def _pack(*codes: str | None) -> PackCode | None:
    wanted = [c for c in codes if c]
    if not wanted:
        return None
    return PackCode.objects.select_related("batch__product").filter(code__in=wanted).first()


def _lot_and_serial(scanned: codec.Gs1Payload | codec.ScanError,
                    product: DrugProduct | None = None) -> codec.Gs1Payload | None:
    """A keyboard-wedge scanner that drops the GS between (10) lot and (21) serial sends
    "10LOT21SER": a lot "LOT21SER" that the codec cannot tell from a real one (or, past 20
    characters, refuses as `lot_too_long`). Called when the lot is not registered for the
    product (or the codec refused it): if exactly one of the codec's readings
    (`codec.lot_serial_readings`) has a lot registered for the product of its GTIN, that
    reading; else None (not a guess)."""
    readings = {r.lot: r for r in codec.lot_serial_readings(scanned)}
    if not readings:
        return None
    if product is None:
        gtin = next(iter(readings.values())).gtin
        product = product_by_gtin(gtin) if gtin else None
        if product is None:
            return None
    known = list(Batch.objects.filter(product=product, lot_number__in=list(readings)).values_list(
        "lot_number", flat=True))
    return readings[known[0]] if len(known) == 1 else None


def _device_by_serial(serial: str, site_id: int | None) -> tuple[Device | None, int]:
    """The registered device with this factory serial, and how many share it when it names
    none for sure. A serial is unique per brand and model only: where several devices carry
    it, the one held by `site_id` (the site inspected, the member's own organisation) is
    meant; if none or several of them are there, it is ambiguous (None, how many): the
    asset tag tells them apart, a guess would tick another site's device."""
    devices = list(Device.objects.select_related("holder__jurisdiction").filter(
        serial_number__iexact=serial).order_by("pk")[:SERIAL_CANDIDATES])
    if len(devices) == 1:
        return devices[0], 0
    here = [d for d in devices if site_id is not None and d.holder_id == site_id]
    if len(here) == 1:
        return here[0], 0
    return None, len(devices)


SERIAL_CANDIDATES = 50  # more devices sharing one typed serial are "ambiguous" all the same


def _read_as(lookup: Lookup, user, corrected: codec.Gs1Payload, *, scanned_lot: str, site_id: int | None) -> None:
    """Resolve the lot + serial reading of a run-together scan instead, flagged
    `separator_missing` (once: the reading has its serial)."""
    lookup.payload = corrected
    lookup.flag("separator_missing", scanned_lot=scanned_lot, lot=corrected.lot, serial=corrected.serial)
    _resolve(lookup, user, read_run_together=False, site_id=site_id)


def _resolve(lookup: Lookup, user, *, read_run_together: bool = True, site_id: int | None = None) -> None:
    p = lookup.payload
    if isinstance(p, codec.ScanError):  # a lot_too_long that may be lot + serial run together
        corrected = _lot_and_serial(p) if read_run_together else None
        if corrected is None:
            raise CodeUnreadable.of(p)
        _read_as(lookup, user, corrected, scanned_lot=p.details.get("value", ""), site_id=site_id)
        return
    if isinstance(p, codec.Gs1Payload):
        pack = _pack(p.sgtin, f"(01){p.gtin}(21){p.serial}" if p.gtin and p.serial else None)
        batch = None
        if pack is None and p.gtin and p.lot:
            member = is_member(user)
            batch, own = _batch_by_gtin(p.gtin, p.lot, holder_id=user.organisation_id if member else None)
            if batch is not None and member:
                lookup.own_positions = own
        if batch is not None:  # the common case in one query: product, batch, the caller's stock
            lookup.entity, lookup.batch, lookup.product = "batch", batch, batch.product
            if p.serial:
                lookup.flag("pack_unknown", serial=p.serial)
            if p.expiry and p.expiry != batch.expiry_date:
                lookup.flag("expiry_mismatch", printed=p.expiry.isoformat(), expiry_date=batch.expiry_date.isoformat())
            return
        product = product_by_gtin(p.gtin) if p.gtin and pack is None else None
        if read_run_together and pack is None and product is not None and p.lot and p.serial is None:
            corrected = _lot_and_serial(p, product)
            if corrected is not None:
                _read_as(lookup, user, corrected, scanned_lot=p.lot, site_id=site_id)
                return
        if pack is not None:
            lookup.entity, lookup.pack, lookup.batch, lookup.product = "pack", pack, pack.batch, pack.batch.product
        elif product is None:
            lookup.unknown = True
            lookup.flag("code_unknown")
            return
        else:
            lookup.product, lookup.entity = product, "product"
            if p.lot:
                batch = _batch(product, p.lot)
                if batch is None:
                    lookup.unknown = True
                    lookup.flag("batch_unknown", lot=p.lot)
                else:
                    lookup.batch, lookup.entity = batch, "batch"
            if p.serial:
                lookup.flag("pack_unknown", serial=p.serial)
        if lookup.batch is not None and p.expiry and p.expiry != lookup.batch.expiry_date:
            lookup.flag("expiry_mismatch", printed=p.expiry.isoformat(),
                        expiry_date=lookup.batch.expiry_date.isoformat())
    elif isinstance(p, codec.TraceCodePayload):
        pack = _pack(p.code)
        if pack is not None:
            lookup.entity, lookup.pack, lookup.batch, lookup.product = "pack", pack, pack.batch, pack.batch.product
            return
        product = DrugProduct.objects.filter(traceability_product_code=p.product_code).first()
        lookup.unknown = True
        if product is None:
            lookup.flag("code_unknown")
        else:
            lookup.product, lookup.entity = product, "product"
            lookup.flag("pack_unknown", code=p.code)
    elif isinstance(p, codec.OwnLabelPayload) and p.label_kind == "device":
        device = Device.objects.select_related("holder__jurisdiction").filter(asset_tag=p.device_tag).first()
        if device is None:
            lookup.unknown = True
            lookup.entity = "device"
            lookup.flag("device_unregistered", asset_tag=p.device_tag)
        else:
            lookup.device, lookup.entity = device, "device"
    elif isinstance(p, codec.OwnLabelPayload):
        batch = Batch.objects.select_related("product").filter(product_id=p.product_id, lot_number=p.lot).first()
        if batch is None:
            lookup.unknown = True
            lookup.flag("code_unknown")
        else:
            lookup.entity, lookup.batch, lookup.product = "batch", batch, batch.product
    elif isinstance(p, codec.PlainPayload):
        product = product_by_gtin(p.gtin) if p.gtin else None
        device, shared = None, 0
        if product is None and p.text:
            device, shared = _device_by_serial(p.text.strip(), site_id if site_id is not None else (
                user.organisation_id if is_member(user) else None))
        if product is not None:
            lookup.entity, lookup.product = "product", product
        elif device is not None:
            lookup.entity, lookup.device = "device", device
        elif shared:
            lookup.entity = "device"
            lookup.flag("device_serial_ambiguous", devices=shared)
        else:
            lookup.unknown = True
            lookup.flag("code_unknown")


# --- what the caller may see, and the flags ---------------------------------------------------


def _batch_facts(lookup: Lookup, user, today: dt.date) -> None:
    batch = lookup.batch
    if batch is None:
        expiry = getattr(lookup.payload, "expiry", None)
        if expiry is not None and expiry < today:
            lookup.flag("expired", expiry_date=expiry.isoformat())
        return
    if batch.is_expired_on(today):
        lookup.flag("expired", expiry_date=batch.expiry_date.isoformat())
    if lookup.own_positions is not None:  # a member sees only its own positions: loaded with the batch
        name = user.organisation.name
        lookup.holders = [{"holder": pos.holder_id, "holder_name": name, "in_transit": pos.in_transit,
                           "quantity": pos.quantity} for pos in lookup.own_positions]
    else:
        positions = visibility.scope(
            StockPosition.objects.filter(batch=batch).select_related("holder"), user, "holder",
        ).filter(Q(quantity__gt=0) | Q(holder_id=user.organisation_id)).order_by("holder_id", "in_transit")
        lookup.holders = [{"holder": pos.holder_id, "holder_name": pos.holder.name, "in_transit": pos.in_transit,
                           "quantity": pos.quantity} for pos in positions]
    if not is_member(user):
        return
    own = sum(h["quantity"] for h in lookup.holders if h["holder"] == user.organisation_id and not h["in_transit"])
    lookup.balance = own
    if own > 0:
        return
    incoming = ShipmentLine.objects.filter(
        batch=batch, shipment__recipient_id=user.organisation_id, received_quantity__isnull=True,
        shipment__status__in=(Shipment.Status.DISPATCHED, Shipment.Status.RECEIVING)).exists()
    if incoming:
        return
    elsewhere = StockPosition.objects.filter(batch=batch, quantity__gt=0).exclude(
        holder_id=user.organisation_id).exists()
    if elsewhere:
        lookup.flag("batch_held_elsewhere")
        lookup.anomalies.append(Anomaly(ScanAnomaly.Kind.BATCH_OFF_BOOKS, batch_id=batch.pk))


def _pack_facts(lookup: Lookup, user) -> None:
    pack = lookup.pack
    if pack is None:
        return
    dispenses = list(Dispense.objects.filter(pack_code=pack).select_related("institution__jurisdiction")
                     .order_by("occurred_at", "id"))
    view: dict[str, Any] = {"id": pack.pk, "code": pack.code, "kind": pack.kind, "dispensed": len(dispenses)}
    if dispenses:
        lookup.flag("pack_already_dispensed", count=len(dispenses))
        view["dispenses"] = [{"dispense": d.pk, "institution": d.institution_id, "occurred_at": d.occurred_at}
                             for d in dispenses if may_see(user, d.institution)]
    lookup.pack_view = view
    if not is_member(user):
        return
    mine = user.organisation_id
    seen = set(ScanLog.objects.filter(pack_code=pack, outcome=ScanLog.Outcome.OK, organisation__isnull=False)
               .exclude(organisation_id=mine).exclude(organisation__kind=Organisation.Kind.AUTHORITY)
               .values_list("organisation_id", flat=True).distinct())
    seen |= {d.institution_id for d in dispenses if d.institution_id != mine}
    if not seen:
        return
    # Handed over along the chain (shipped from there to here) is not a second holder.
    upstream = set(ShipmentLine.objects.filter(batch_id=pack.batch_id, shipment__sender_id__in=seen,
                                               shipment__recipient_id=mine, shipment__status__in=HANDED_OVER)
                   .values_list("shipment__sender_id", flat=True))
    dispensed_at = {d.institution_id for d in dispenses}
    others = sorted(org for org in seen if org not in upstream or org in dispensed_at)
    if others:
        lookup.flag("pack_seen_at_other_holder", holders=len(others))
        for org in others:
            lookup.anomalies.append(Anomaly(
                ScanAnomaly.Kind.PACK_AT_TWO_HOLDERS, batch_id=pack.batch_id, pack_code_id=pack.pk,
                other_holder_id=org, dispenses=[d.pk for d in dispenses if d.institution_id == org]))


def _device_facts(lookup: Lookup, user, today: dt.date) -> None:
    device = lookup.device
    if device is None:
        return
    view: dict[str, Any] = {"id": device.pk, "asset_tag": device.asset_tag, "kind": device.kind,
                            "brand": device.brand, "model": device.model, "serial_number": device.serial_number,
                            "status": device.status}
    if device.status == DeviceStatus.SEALED:
        lookup.flag("device_sealed")
    elif device.status == DeviceStatus.SCRAPPED:
        lookup.flag("device_scrapped")
    if is_member(user) and device.holder_id != user.organisation_id:
        lookup.flag("device_at_other_holder")
    if may_see(user, device.holder):
        operators = list(device.operators.prefetch_related("licences").order_by("pk"))
        view["holder"] = {"id": device.holder_id, "name": device.holder.name}
        view["operators"] = []
        lapsed = []
        for person in operators:
            decision = policies.may_operate_device(person, device.kind, today)
            view["operators"].append({"id": person.pk, "name": person.name, "licensed": decision.allowed,
                                      "clauses": decision.as_details()})
            if not decision:
                lapsed.append({"person": person.pk, "clauses": [c.code for c in decision.clauses]})
        if lapsed:
            lookup.flag("operator_licence_expired", operators=lapsed)
    lookup.device_view = view


def code_lookup(*, user, payload: codec.Payload | codec.ScanError, today: dt.date | None = None,
                read_run_together: bool = True, site_id: int | None = None) -> Lookup:
    """What `payload` names and what `user` may see of it, with the flags.

    `site_id`: the organisation being inspected (a scan to tick a visit): a typed factory
    serial that several registered devices share names the one held there (else the
    member's own organisation's; else none: flag `device_serial_ambiguous`).

    `read_run_together`: read a lot and serial sent without their separator as the one
    registered lot (`_lot_and_serial`), also when the two together are too long for a lot
    and the codec refused the scan (`lot_too_long`). For a lookup only: an action that moves
    stock must not act on a reading the registry made, so it gets `batch_unknown` as
    scanned. A refusal of the codec that is not read so is raised (400 `CodeUnreadable`
    with the codec's code)."""
    today = today or timezone.localdate()
    lookup = Lookup(payload=payload)
    _resolve(lookup, user, read_run_together=read_run_together, site_id=site_id)
    _batch_facts(lookup, user, today)
    _pack_facts(lookup, user)
    _device_facts(lookup, user, today)
    return lookup


# --- what a count adds ------------------------------------------------------------------------------


def counted_pack_code(lookup: Lookup) -> str:
    """The pack code a count adds for a scan (`audits.counts.count_line_scan` then adds the
    pack, or refuses an unknown one with `pack_code_unknown`): the registered pack's own code
    however it was scanned (a traceability code, a GS1 element string, its printed
    "(01)...(21)..." form); for a pack not registered, the traceability code or the GS1
    SGTIN as scanned. A code that names no pack (a GS1 batch code, a label, plain text) is
    422 `pack_code_required`."""
    if lookup.pack is not None:
        return lookup.pack.code
    if isinstance(lookup.payload, codec.TraceCodePayload):
        return lookup.payload.code
    if isinstance(lookup.payload, codec.Gs1Payload) and lookup.payload.sgtin:
        return lookup.payload.sgtin
    raise PackCodeRequired(details={"entity": lookup.entity})


def count_scan_pack_code(*, user, raw: str) -> str:
    """The pack code `raw` (a scanner's text) adds to a count, read exactly as
    `POST /api/scan/` with action=count reads it: the codec, then the lookup (without the
    run-together lot/serial reading: a count moves stock), then `counted_pack_code`. For
    `POST /api/counts/{id}/scan/`. Unreadable: 400 with the codec's code."""
    text = raw.strip()
    if PackCode.objects.filter(code=text).exists():  # registered as typed (a bare serial too)
        return text
    payload = codec.parse(raw)
    if not payload.ok:
        raise CodeUnreadable.of(payload)
    return counted_pack_code(code_lookup(user=user, payload=payload, read_run_together=False))


# --- the log ----------------------------------------------------------------------------------------


def scan_logs(user) -> QuerySet[ScanLog]:
    """Scans the user may list: members their own organisation's, authorities those of
    organisations in their jurisdiction (their own inspectors' included)."""
    qs = ScanLog.objects.select_related("user", "organisation")
    return visibility.scope(qs, user, "organisation")
