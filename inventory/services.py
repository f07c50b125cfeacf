"""Writes of the drug chain. Each service is one transaction: check who acts, check the
rules (policies from `backend.policies`, never re-implemented), write the document, post
its movements to the ledger (`inventory.ledger.post`), and audit as the last step."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from audits.alerts import events as alert_events
from audits.services import audit_record, snapshot
from backend import fastsql, policies, visibility
from backend.errors import Conflict, DomainError, InvalidInput
from backend.models import Licence, Organisation, Person, User, normalise_resident_id, validate_resident_id
from inventory import ledger
from inventory.errors import (
    BatchExpired,
    EmergencyNeedsThreePhysicians,
    InstitutionNotAuthorized,
    InvalidState,
    MidtermCertificateRequired,
    NotAllowed,
    PhysicianNotLicensed,
    RecipientNotAuthorized,
    SupplierNotAuthorized,
)
from inventory.ledger import Leg
from inventory.locking import lock_shipment
from inventory.models import (
    Batch,
    Dispense,
    DispenseRefusal,
    Disposal,
    DrugProduct,
    Intake,
    PackCode,
    Seizure,
    Shipment,
    ShipmentDiscrepancy,
    ShipmentLine,
    ShipmentRefusal,
    StockCount,
    StockMovement,
    parse_expiry,
)

Kind = Organisation.Kind
Role = User.Role
MIDTERM_WEEKS = 14
EMERGENCY_PHYSICIANS = 3
EMERGENCY_PAPERS_DAYS = 3
FUTURE_TOLERANCE = dt.timedelta(minutes=5)


# --- helpers -------------------------------------------------------------------------------


def _when(occurred_at: dt.datetime | None) -> tuple[dt.datetime, dt.date]:
    now = timezone.now()
    occurred_at = occurred_at or now
    if timezone.is_naive(occurred_at):
        occurred_at = timezone.make_aware(occurred_at)
    if occurred_at > now + FUTURE_TOLERANCE:
        raise InvalidInput(_("The time lies in the future."), code="occurred_in_future")
    return occurred_at, timezone.localdate(occurred_at)


def _require_member(actor, organisation: Organisation, roles: Iterable[str]) -> None:
    roles = set(roles)
    if not visibility.is_member_of(actor, organisation) or actor.role not in roles:
        raise NotAllowed(
            _("Only %(roles)s of %(org)s may do this.")
            % {"roles": ", ".join(sorted(str(User.Role(r).label) for r in roles)), "org": organisation},
            code="not_allowed", details={"organisation": organisation.pk, "roles": sorted(roles)},
        )


def _acting_organisation(actor, roles: Iterable[str], *, licences: bool = True) -> Organisation:
    """The actor's organisation (with its jurisdiction, and its licences unless the caller
    loads them together with others': `policies.prefetch_licences`)."""
    if not getattr(actor, "is_authenticated", False) or actor.organisation_id is None or actor.role not in set(roles):
        raise NotAllowed(_("Your role may not do this."), code="not_allowed",
                         details={"roles": sorted(set(roles))})
    organisation = visibility.organisation_of(actor)
    if licences:
        policies.prefetch_licences(organisation)
    return organisation


def _audit_document(*, action: str, instance, actor, organisation, movements, transition: str = "",
                    extra: dict | None = None) -> None:
    """One audit entry for a document and the movements it caused (the last step)."""
    after = snapshot(instance)
    after["movements"] = ledger.describe(movements)
    after.update(extra or {})
    audit_record(action=action, instance=instance, actor=actor, subject_organisation=organisation,
                 transition=transition, after=after)


# --- catalogue -----------------------------------------------------------------------------


@transaction.atomic
def batch_get_or_create(*, product: DrugProduct, lot_number: str, expiry_printed: str,
                        manufactured_on: dt.date | None = None, actor=None) -> Batch:
    """The batch of `product` with `lot_number`, created on first sight. A second sighting
    with a different printed expiry is a conflict, not an update."""
    try:
        expiry_date = parse_expiry(expiry_printed)
    except ValueError as exc:
        raise ValidationError({"expiry_printed": str(exc)}) from None
    lot_number = lot_number.strip()
    batch = Batch.objects.filter(product=product, lot_number=lot_number).first()
    if batch is None:
        try:
            with transaction.atomic():
                batch = Batch.objects.create(product=product, lot_number=lot_number, expiry_printed=expiry_printed,
                                             expiry_date=expiry_date, manufactured_on=manufactured_on)
        except IntegrityError:
            batch = Batch.objects.get(product=product, lot_number=lot_number)
        else:
            audit_record(action="create", instance=batch, actor=actor)
            return batch
    if batch.expiry_date != expiry_date:
        raise Conflict(
            _("Batch %(lot)s is registered with expiry %(known)s, not %(given)s.")
            % {"lot": lot_number, "known": batch.expiry_date, "given": expiry_date},
            code="batch_expiry_mismatch",
        )
    return batch


def _register_pack_codes(batch: Batch, codes: Iterable[str]) -> list[PackCode]:
    rows = []
    for code in codes:
        code = code.strip()
        kind = PackCode.Kind.TRACEABILITY if code.isdigit() and len(code) == 20 else PackCode.Kind.GS1_SERIAL
        if kind == PackCode.Kind.TRACEABILITY and batch.product.traceability_product_code and (
            code[:7] != batch.product.traceability_product_code
        ):
            raise InvalidInput(_("Pack code %(code)s does not belong to %(product)s.")
                               % {"code": code, "product": batch.product}, code="pack_code_wrong_product")
        rows.append(PackCode(code=code, kind=kind, batch=batch))
    try:
        with transaction.atomic():
            return PackCode.objects.bulk_create(rows)
    except IntegrityError as exc:
        raise Conflict(_("A pack code is already registered."), code="pack_code_taken") from exc


# --- intake --------------------------------------------------------------------------------


@transaction.atomic
def intake_record(*, actor, batch: Batch, quantity: int, invoice_number: str, supplier_name: str,
                  received_at: dt.datetime | None = None, pack_codes: Iterable[str] = (),
                  idempotency_key: str | None = None) -> Intake:
    """A wholesaler's receipt from a manufacturer: the only way stock enters the chain."""
    wholesaler = _acting_organisation(actor, {Role.WHOLESALER_CLERK})
    received_at, on = _when(received_at)
    if wholesaler.kind != Kind.WHOLESALER:
        raise NotAllowed(_("Only drug wholesalers record intakes."), code="not_a_wholesaler")
    decision = policies.may_supply_termination_drugs(wholesaler, on)
    if not decision:
        raise SupplierNotAuthorized(decision)
    if quantity < 1:
        raise InvalidInput(_("The quantity must be positive."), code="quantity_not_positive")
    intake = Intake.objects.create(wholesaler=wholesaler, supplier_name=supplier_name, batch=batch,
                                   quantity=quantity, invoice_number=invoice_number, received_at=received_at,
                                   recorded_by=actor)
    if pack_codes:
        _register_pack_codes(batch, pack_codes)
    movements = ledger.post(legs=[Leg(wholesaler.pk, batch.pk, quantity)], kind=StockMovement.Kind.INTAKE, actor=actor,
                occurred_at=received_at, document={"intake": intake}, idempotency_key=idempotency_key)
    _audit_document(action="create", instance=intake, actor=actor, organisation=wholesaler, movements=movements)
    return intake


@transaction.atomic
def intake_record_new_lot(*, actor, product: DrugProduct, lot_number: str, expiry_printed: str,
                          manufactured_on: dt.date | None = None, **receipt) -> Intake:
    """An intake of a lot named by product, lot and printed expiry (registered on first
    sight): one transaction, so a refused intake leaves no new batch behind."""
    batch = batch_get_or_create(product=product, lot_number=lot_number, expiry_printed=expiry_printed,
                                manufactured_on=manufactured_on, actor=actor)
    return intake_record(actor=actor, batch=batch, **receipt)


# --- shipments -----------------------------------------------------------------------------


def _is_supplier_of(wholesaler: Organisation, institution: Organisation, batch_ids: set[int]) -> bool:
    """Has `wholesaler` delivered every one of these batches to `institution`?"""
    supplied = set(ShipmentLine.objects.filter(
        shipment__kind=Shipment.Kind.SUPPLY, shipment__sender=wholesaler, shipment__recipient=institution,
        received_quantity__gt=0, batch_id__in=batch_ids,
    ).values_list("batch_id", flat=True))
    return supplied >= batch_ids


@transaction.atomic
def shipment_create(*, actor, recipient: Organisation, lines: list[dict], reference: str = "") -> Shipment:
    """Draft a shipment. A wholesaler ships to institutions (the recipient's authorization is
    checked at dispatch); an institution may only return stock to the wholesaler that
    supplied it."""
    sender = _acting_organisation(actor, {Role.WHOLESALER_CLERK, Role.PHARMACIST})
    if not lines:
        raise InvalidInput(_("A shipment needs at least one line."), code="shipment_empty")
    batch_ids = [line["batch"].pk for line in lines]
    if len(set(batch_ids)) != len(batch_ids):
        raise InvalidInput(_("Each batch may appear once per shipment."), code="shipment_duplicate_batch")
    if any(line["quantity"] < 1 for line in lines):
        raise InvalidInput(_("The quantity must be positive."), code="quantity_not_positive")
    if recipient.pk == sender.pk:
        raise InvalidInput(_("A shipment goes to another organisation."), code="shipment_to_self")
    if sender.kind == Kind.WHOLESALER:
        _require_member(actor, sender, {Role.WHOLESALER_CLERK})
        kind = Shipment.Kind.SUPPLY
    else:
        _require_member(actor, sender, {Role.PHARMACIST})
        if recipient.kind != Kind.WHOLESALER:
            raise DomainError(_("Only wholesalers ship termination drugs to institutions."),
                              code="only_wholesalers_ship")
        if not _is_supplier_of(recipient, sender, set(batch_ids)):
            raise DomainError(_("An institution may only return stock to the wholesaler that supplied it."),
                              code="return_to_supplier_only")
        kind = Shipment.Kind.RETURN
    shipment = Shipment.objects.create(kind=kind, sender=sender, recipient=recipient, reference=reference,
                                       created_by=actor)
    ShipmentLine.objects.bulk_create(
        [ShipmentLine(shipment=shipment, batch=line["batch"], quantity=line["quantity"]) for line in lines])
    audit_record(action="create", instance=shipment, actor=actor, subject_organisation=sender,
                 after={"lines": [{"batch": b, "quantity": line["quantity"]} for b, line in zip(batch_ids, lines,
                                                                                                 strict=True)]})
    return shipment


def _refusal_lines(shipment: Shipment) -> list[dict]:
    return [{"batch": line.batch_id, "lot_number": line.batch.lot_number, "product": str(line.batch.product),
             "quantity": line.quantity} for line in shipment.lines.select_related("batch__product")]


def _record_refusal(*, actor, shipment: Shipment, exc, attempted_at: dt.datetime,
                    act: str = ShipmentRefusal.Act.DISPATCH) -> ShipmentRefusal:
    with transaction.atomic():
        refusal = ShipmentRefusal.objects.create(
            shipment=shipment, sender=shipment.sender, recipient=shipment.recipient, act=act,
            attempted_by=actor if getattr(actor, "pk", None) else None, attempted_at=attempted_at,
            code=exc.code, message=str(exc.message)[:500], clauses=exc.decision.as_details(),
            lines=_refusal_lines(shipment),
        )
        audit_record(action="create", instance=refusal, actor=actor, subject_organisation=shipment.sender)
    return refusal


def _refuse_unless_may_receive(recipient: Organisation, on: dt.date, message: str) -> None:
    """RecipientNotAuthorized (with `message` % org and why) unless the recipient of a supply
    may receive termination drugs on `on`: at dispatch and again at receipt."""
    decision = policies.may_receive_termination_drugs(recipient, on)
    if not decision:
        raise RecipientNotAuthorized(decision, message=message % {"org": recipient, "why": "; ".join(decision.messages)})


def shipment_dispatch(*, actor, shipment: Shipment, occurred_at: dt.datetime | None = None,
                      idempotency_key: str | None = None) -> Shipment:
    """Stock leaves the sender and is in transit. Refused (422) when the recipient may not
    receive termination drugs on that date; the refused attempt is stored for inspectors
    after the dispatch itself is rolled back."""
    occurred_at, on = _when(occurred_at)
    try:
        with transaction.atomic():
            return _dispatch(actor=actor, shipment_id=shipment.pk, occurred_at=occurred_at, on=on,
                             idempotency_key=idempotency_key)
    except (RecipientNotAuthorized, SupplierNotAuthorized) as exc:
        _record_refusal(actor=actor, shipment=shipment, exc=exc, attempted_at=occurred_at)
        raise


def _dispatch(*, actor, shipment_id, occurred_at, on, idempotency_key):
    shipment = lock_shipment(shipment_id)
    sender_roles = {Role.WHOLESALER_CLERK} if shipment.kind == Shipment.Kind.SUPPLY else {Role.PHARMACIST}
    _require_member(actor, shipment.sender, sender_roles)
    if shipment.status != Shipment.Status.DRAFT:
        raise InvalidState(_("Only a draft can be dispatched; this shipment is %(status)s.")
                           % {"status": shipment.get_status_display()}, code="shipment_not_draft")
    lines = list(shipment.lines.select_related("batch__product"))
    if shipment.kind == Shipment.Kind.SUPPLY:
        policies.prefetch_licences(shipment.sender, shipment.recipient)  # both in one query
        decision = policies.may_supply_termination_drugs(shipment.sender, on)
        if not decision:
            raise SupplierNotAuthorized(decision)
        _refuse_unless_may_receive(shipment.recipient, on, _("%(org)s may not receive termination drugs: %(why)s"))
        expired = [line for line in lines if line.batch.is_expired_on(on)]
        if expired:
            raise BatchExpired(
                _("Expired batches cannot be shipped: %(lots)s")
                % {"lots": ", ".join(line.batch.lot_number for line in expired)},
                details={"batches": [{"batch": line.batch_id, "expiry_date": line.batch.expiry_date.isoformat()}
                                     for line in expired]},
            )
    elif not _is_supplier_of(shipment.recipient, shipment.sender, {line.batch_id for line in lines}):
        raise DomainError(_("An institution may only return stock to the wholesaler that supplied it."),
                          code="return_to_supplier_only")
    legs = []
    for line in lines:
        legs.append(Leg(shipment.sender_id, line.batch_id, -line.quantity, False, {"shipment_line": line}))
        legs.append(Leg(shipment.sender_id, line.batch_id, line.quantity, True, {"shipment_line": line}))
    movements = ledger.post(legs=legs, kind=StockMovement.Kind.DISPATCH, actor=actor, occurred_at=occurred_at,
                idempotency_key=idempotency_key)
    shipment.status = Shipment.Status.DISPATCHED
    shipment.dispatched_at = occurred_at
    shipment.dispatched_by = actor
    shipment.save(update_fields=["status", "dispatched_at", "dispatched_by"])
    _audit_document(action="transition", instance=shipment, actor=actor, transition="dispatch",
                    organisation=shipment.sender, movements=movements)
    return shipment


def shipment_receive(*, actor, shipment: Shipment, lines: list[dict] | None = None,
                     occurred_at: dt.datetime | None = None, idempotency_key: str | None = None) -> Shipment:
    """The recipient receives lines (all of them in full when `lines` is None). A received
    quantity that differs from the shipped one is a recorded discrepancy. A supply is refused
    (422 `recipient_not_authorized`, the attempt kept for inspectors) when the recipient may
    not receive termination drugs on the day of the receipt: an approval revoked or lapsed
    while the goods were in transit. They stay in transit, for the recipient to reject back
    to the sender."""
    try:
        with transaction.atomic():
            return _receive(actor=actor, shipment_id=shipment.pk, lines=lines, occurred_at=occurred_at,
                            idempotency_key=idempotency_key)
    except RecipientNotAuthorized as exc:
        _record_refusal(actor=actor, shipment=shipment, exc=exc, attempted_at=_when(occurred_at)[0],
                        act=ShipmentRefusal.Act.RECEIPT)
        raise


def _receive(*, actor, shipment_id: int, lines, occurred_at, idempotency_key) -> Shipment:
    occurred_at, on = _when(occurred_at)
    shipment = lock_shipment(shipment_id)
    _require_member(actor, shipment.recipient, {Role.PHARMACIST, Role.WHOLESALER_CLERK})
    if shipment.status not in (Shipment.Status.DISPATCHED, Shipment.Status.RECEIVING):
        raise InvalidState(_("Only a dispatched shipment can be received; this one is %(status)s.")
                           % {"status": shipment.get_status_display()}, code="shipment_not_in_transit")
    if shipment.kind == Shipment.Kind.SUPPLY:
        policies.prefetch_licences(shipment.recipient)
        _refuse_unless_may_receive(shipment.recipient, on,
                                   _("%(org)s may not take termination drugs into stock: %(why)s"))
    by_id = {line.pk: line for line in shipment.lines.select_related("batch")}
    if lines is None:
        lines = [{"line": pk, "received_quantity": line.quantity} for pk, line in by_id.items()
                 if line.received_quantity is None]
    if not lines:
        raise InvalidInput(_("Name the lines received."), code="receipt_empty")
    legs, discrepancies, seen = [], [], set()
    for entry in lines:
        line = by_id.get(int(entry["line"]))
        if line is None:
            raise InvalidInput(_("Line %(line)s is not part of this shipment.") % {"line": entry["line"]},
                               code="line_not_in_shipment")
        if line.received_quantity is not None or line.pk in seen:
            raise InvalidState(_("Line %(line)s was already received.") % {"line": line.pk},
                               code="line_already_received")
        seen.add(line.pk)
        received = int(entry["received_quantity"])
        if received < 0:
            raise InvalidInput(_("The quantity must not be negative."), code="quantity_negative")
        legs.append(Leg(shipment.sender_id, line.batch_id, -line.quantity, True, {"shipment_line": line}))
        if received:
            legs.append(Leg(shipment.recipient_id, line.batch_id, received, False, {"shipment_line": line}))
        line.received_quantity = received
        line.received_at = occurred_at
        line.save(update_fields=["received_quantity", "received_at"])
        if received != line.quantity:
            discrepancies.append(ShipmentDiscrepancy(
                line=line, shipped=line.quantity, received=received, note=entry.get("note", "")[:300],
                kind=ShipmentDiscrepancy.Kind.SHORTAGE if received < line.quantity else ShipmentDiscrepancy.Kind.OVERAGE,
                recorded_by=actor,
            ))
    ShipmentDiscrepancy.objects.bulk_create(discrepancies)
    alert_events.rows_created(ShipmentDiscrepancy, discrepancies)  # bulk_create sends no post_save
    movements = ledger.post(legs=legs, kind=StockMovement.Kind.RECEIPT, actor=actor, occurred_at=occurred_at,
                idempotency_key=idempotency_key)
    done = all(line.received_quantity is not None for line in by_id.values())
    shipment.status = Shipment.Status.RECEIVED if done else Shipment.Status.RECEIVING
    if done:
        shipment.closed_at, shipment.closed_by = occurred_at, actor
    shipment.save(update_fields=["status", "closed_at", "closed_by"])
    _audit_document(action="transition", instance=shipment, actor=actor, transition="receive",
                    organisation=shipment.recipient, movements=movements,
                    extra={"lines": [{"line": d["line"], "received_quantity": d["received_quantity"]} for d in lines],
                        "discrepancies": [{"line": d.line_id, "shipped": d.shipped, "received": d.received}
                                          for d in discrepancies]})
    return shipment


@transaction.atomic
def shipment_reject(*, actor, shipment: Shipment, reason: str, occurred_at: dt.datetime | None = None,
                    idempotency_key: str | None = None) -> Shipment:
    """The recipient refuses the whole shipment: the stock returns to the sender."""
    occurred_at, _on = _when(occurred_at)
    shipment = lock_shipment(shipment.pk)
    _require_member(actor, shipment.recipient, {Role.PHARMACIST, Role.WHOLESALER_CLERK})
    if shipment.status != Shipment.Status.DISPATCHED:
        raise InvalidState(_("Only a shipment in transit, not yet partly received, can be rejected."),
                           code="shipment_not_in_transit")
    if not reason.strip():
        raise InvalidInput(_("A rejection needs a reason."), code="reason_required")
    legs = []
    for line in shipment.lines.all():
        legs.append(Leg(shipment.sender_id, line.batch_id, -line.quantity, True, {"shipment_line": line}))
        legs.append(Leg(shipment.sender_id, line.batch_id, line.quantity, False, {"shipment_line": line}))
    movements = ledger.post(legs=legs, kind=StockMovement.Kind.REJECTION, actor=actor, occurred_at=occurred_at,
                idempotency_key=idempotency_key)
    shipment.status = Shipment.Status.REJECTED
    shipment.closed_at, shipment.closed_by, shipment.rejection_reason = occurred_at, actor, reason.strip()[:300]
    shipment.save(update_fields=["status", "closed_at", "closed_by", "rejection_reason"])
    _audit_document(action="transition", instance=shipment, actor=actor, transition="reject",
                    organisation=shipment.recipient, movements=movements)
    return shipment


# --- dispenses -----------------------------------------------------------------------------


def _prepare_dispense(*, actor, institution: Organisation, people: dict, quantity: int, dose: str,
                      prescription_number: str, physician: Person, patient_name: str, patient_age: int,
                      patient_address: str, birth_permit: str, children_count: int, pregnancy_status: str,
                      gestational_weeks: int, batch: Batch | None = None, pack_code: PackCode | None = None,
                      patient_resident_id: str = "", midterm_certificate_number: str = "",
                      midterm_certificate_office: str = "", emergency: bool = False,
                      emergency_physicians: Iterable[Person] = (),
                      occurred_at: dt.datetime | None = None) -> tuple[Dispense, list[Person]]:
    """Every rule of the use register, in order; returns the unsaved entry and its signers.
    `people` caches physicians (with their licences) by id."""

    def licensed_person(person: Person) -> Person:
        if person.pk not in people:
            policies.prefetch_licences(person)
            people[person.pk] = person
        return people[person.pk]

    occurred_at, on = _when(occurred_at)
    if physician.pk not in people:  # the institution's and the physician's licences in one query
        policies.prefetch_licences(institution, physician)
    decision = policies.may_receive_termination_drugs(institution, on)
    if not decision:
        raise InstitutionNotAuthorized(
            decision, message=_("%(org)s may not use termination drugs: %(why)s")
            % {"org": institution, "why": "; ".join(decision.messages)})
    physician = licensed_person(physician)
    if physician.organisation_id != institution.pk:
        # By id, not by name: the caller may not see other organisations' staff.
        raise DomainError(_("Person %(id)s is not a physician of %(org)s.") % {"id": physician.pk, "org": institution},
                          code="physician_not_at_institution", details={"physician": physician.pk})
    decision = policies.is_licensed(physician, Licence.Kind.PHYSICIAN, on)
    if not decision:
        raise PhysicianNotLicensed(
            decision, message=_("%(name)s may not prescribe on %(date)s: %(why)s")
            % {"name": physician, "date": on.isoformat(), "why": "; ".join(decision.messages)})
    if pack_code is not None:
        if batch is not None and batch.pk != pack_code.batch_id:
            raise InvalidInput(_("The pack code belongs to another batch."), code="pack_code_wrong_batch")
        batch = pack_code.batch
    if batch is None:
        raise InvalidInput(_("Name the batch or scan a pack code."), code="batch_required")
    if batch.is_expired_on(on):
        raise BatchExpired(_("Batch %(lot)s expired on %(date)s.")
                           % {"lot": batch.lot_number, "date": batch.expiry_date.isoformat()},
                           details={"batch": batch.pk, "expiry_date": batch.expiry_date.isoformat()})
    if quantity < 1:
        raise InvalidInput(_("The quantity must be positive."), code="quantity_not_positive")
    patient_resident_id = normalise_resident_id(patient_resident_id or "")
    if patient_resident_id:
        validate_resident_id(patient_resident_id)

    signers: list[Person] = []
    if emergency:
        others = [people.get(p.pk, p) for p in {p.pk: p for p in emergency_physicians}.values() if p.pk != physician.pk]
        policies.prefetch_licences(*others)  # one query for all of them
        signers = [physician, *(licensed_person(p) for p in others)]
        unlicensed = [p for p in signers if not policies.is_licensed(p, Licence.Kind.PHYSICIAN, on)]
        if len(signers) < EMERGENCY_PHYSICIANS or unlicensed:
            raise EmergencyNeedsThreePhysicians(
                _("An emergency needs %(n)d licensed physicians' signatures; %(have)d given.")
                % {"n": EMERGENCY_PHYSICIANS, "have": len(signers) - len(unlicensed)},
                details={"physicians": [p.pk for p in signers], "unlicensed": [p.pk for p in unlicensed]},
            )
    papers_due_by = None
    if gestational_weeks >= MIDTERM_WEEKS:
        missing = [name for name, value in (("midterm_certificate_number", midterm_certificate_number),
                                            ("midterm_certificate_office", midterm_certificate_office),
                                            ("patient_resident_id", patient_resident_id)) if not value.strip()]
        if missing and not emergency:
            raise MidtermCertificateRequired(details={"missing": missing, "gestational_weeks": gestational_weeks})
        if missing:
            papers_due_by = on + dt.timedelta(days=EMERGENCY_PAPERS_DAYS)

    dispense = Dispense(
        institution=institution, occurred_at=occurred_at, patient_name=patient_name.strip(),
        patient_age=patient_age, patient_address=patient_address.strip(), patient_resident_id=patient_resident_id,
        birth_permit=birth_permit, children_count=children_count, pregnancy_status=pregnancy_status,
        gestational_weeks=gestational_weeks, batch=batch, pack_code=pack_code, quantity=quantity, dose=dose,
        prescription_number=prescription_number, physician=physician, pharmacist=actor,
        midterm_certificate_number=midterm_certificate_number.strip(),
        midterm_certificate_office=midterm_certificate_office.strip(), emergency=emergency,
        papers_due_by=papers_due_by,
    )
    return dispense, signers


def dispense_record(*, actor, idempotency_key: str | None = None, **fields) -> Dispense:
    """One use of a termination drug, registered by the institution's pharmacist. Refusals:
    institution_not_authorized, physician_not_licensed, batch_expired, insufficient_stock
    (409), midterm_certificate_required, emergency_needs_three_physicians. The two policy
    refusals are also stored (DispenseRefusal) after the attempt is rolled back."""
    institution = _acting_organisation(actor, {Role.PHARMACIST}, licences=False)  # loaded with the physician's
    try:
        with transaction.atomic():
            return _dispense_record(actor=actor, institution=institution, idempotency_key=idempotency_key,
                                    **fields)
    except (InstitutionNotAuthorized, PhysicianNotLicensed) as exc:
        with transaction.atomic():
            pack_code = fields.get("pack_code")
            refusal = DispenseRefusal.objects.create(
                institution=institution, attempted_by=actor, attempted_at=fields.get("occurred_at") or timezone.now(),
                code=exc.code, message=str(exc.message)[:500], clauses=exc.decision.as_details(),
                physician=fields.get("physician"), batch=fields.get("batch") or (pack_code.batch if pack_code else None),
                quantity=fields.get("quantity"), prescription_number=fields.get("prescription_number", "")[:60],
            )
            audit_record(action="create", instance=refusal, actor=actor, subject_organisation=institution)
        raise


def _dispense_record(*, actor, institution: Organisation, idempotency_key: str | None, **fields) -> Dispense:
    dispense, signers = _prepare_dispense(actor=actor, institution=institution, people={}, **fields)
    fastsql.insert(dispense)
    if signers:
        dispense.emergency_physicians.set(signers)
    movements = ledger.post(legs=[Leg(institution.pk, dispense.batch_id, -dispense.quantity)],
                            kind=StockMovement.Kind.DISPENSE, actor=actor, occurred_at=dispense.occurred_at,
                            document={"dispense": dispense}, idempotency_key=idempotency_key)
    _audit_document(action="create", instance=dispense, actor=actor, organisation=institution, movements=movements)
    return dispense


@transaction.atomic
def dispense_record_many(*, actor, entries: list[dict]) -> list[Dispense]:
    """A page of the use register entered at once (a paper register transcribed after the
    fact; the demo data): every entry passes the same rules as `dispense_record`, all of
    them post in one ledger posting (all or nothing), and one audit entry lists the
    dispenses and their movements."""
    institution = _acting_organisation(actor, {Role.PHARMACIST})
    people: dict = {}
    prepared = [_prepare_dispense(actor=actor, institution=institution, people=people, **entry) for entry in entries]
    if not prepared:
        return []
    dispenses = Dispense.objects.bulk_create([d for d, _signers in prepared])
    for dispense, (_d, signers) in zip(dispenses, prepared, strict=True):
        if signers:
            dispense.emergency_physicians.set(signers)
    movements = ledger.post(
        legs=[Leg(institution.pk, d.batch_id, -d.quantity, document={"dispense": d}, occurred_at=d.occurred_at)
              for d in dispenses],
        kind=StockMovement.Kind.DISPENSE, actor=actor, occurred_at=dispenses[0].occurred_at)
    audit_record(action="create", object_type="inventory.dispense",
                 object_id=f"{dispenses[0].pk}..{dispenses[-1].pk}", actor=actor,
                 subject_organisation=institution, transition="register_page",
                 after={"dispenses": [d.pk for d in dispenses], "movements": ledger.describe(movements)})
    # bulk_create sends no post_save: a pack already in the register is alerted as one by one
    alert_events.rows_created(Dispense, [d for d in dispenses if d.pack_code_id is not None])
    return dispenses


def dispense_sensitive_read(*, actor, dispense: Dispense | None = None, dispenses: Iterable[Dispense] = (),
                            document: str = "", month: dt.date | None = None) -> None:
    """Record that `actor` saw the patients' full identifiers: of one `dispense`, or of
    several at once in a `document` (a monthly form of one institution: `month`), as one
    entry naming them all."""
    if dispense is not None:
        with transaction.atomic():
            audit_record(action="sensitive_read", instance=dispense, actor=actor, transition="patient",
                         subject_organisation=dispense.institution)
        return
    dispenses = list(dispenses)
    if not dispenses:
        return
    institution = dispenses[0].institution
    with transaction.atomic():
        audit_record(action="sensitive_read", object_type="inventory.dispense",
                     object_id=f"{dispenses[0].pk}..{dispenses[-1].pk}", actor=actor, transition="patient",
                     subject_organisation=institution,
                     after={"document": document, "month": month.strftime("%Y-%m") if month else None,
                            "institution": institution.pk, "dispenses": [d.pk for d in dispenses]})


# --- disposal, seizure, counts, corrections ------------------------------------------------


@transaction.atomic
def _may_witness(person: Person, holder: Organisation) -> bool:
    org = person.organisation
    if org is None:
        return False
    if org.pk == holder.pk:
        return True
    return org.kind == Organisation.Kind.AUTHORITY and holder.jurisdiction.code.startswith(org.jurisdiction.prefix)


def disposal_record(*, actor, batch: Batch, quantity: int, reason: str, witness_name: str = "",
                    witness: Person | None = None, note: str = "", occurred_at: dt.datetime | None = None,
                    idempotency_key: str | None = None) -> Disposal:
    """Expired or damaged stock destroyed before a witness: named (`witness_name`), or a
    registered person (`witness`: of the holder, or of an authority over it, e.g. the drug
    regulator's officer), whose name is then recorded."""
    holder = _acting_organisation(actor, {Role.PHARMACIST, Role.WHOLESALER_CLERK})
    occurred_at, _on = _when(occurred_at)
    if witness is not None and not _may_witness(witness, holder):
        # Anyone else's name is not the holder's to learn (nor to put on its record).
        raise InvalidInput(_("The witness is a person of this organisation or of an authority over it."),
                           code="witness_unknown", details={"witness": witness.pk})
    witness_name = (witness_name or (witness.name if witness else "")).strip()
    if not witness_name:
        raise InvalidInput(_("A disposal needs a witness."), code="witness_required")
    if actor.person_id and witness is not None and witness.pk == actor.person_id:
        raise InvalidInput(_("The witness must be someone else."), code="witness_is_actor")
    disposal = Disposal.objects.create(holder=holder, batch=batch, quantity=quantity, reason=reason, note=note,
                                       witness_name=witness_name, witness=witness, occurred_at=occurred_at,
                                       recorded_by=actor)
    movements = ledger.post(legs=[Leg(holder.pk, batch.pk, -quantity)], kind=StockMovement.Kind.DISPOSAL, actor=actor,
                occurred_at=occurred_at, document={"disposal": disposal}, idempotency_key=idempotency_key)
    _audit_document(action="create", instance=disposal, actor=actor, organisation=holder, movements=movements)
    return disposal


@transaction.atomic
def seizure_record(*, actor, holder: Organisation, batch: Batch, quantity: int, case_reference: str = "",
                   note: str = "", off_books: bool = False, occurred_at: dt.datetime | None = None,
                   idempotency_key: str | None = None) -> Seizure:
    """An inspector seizes stock: it leaves the holder and is held by the inspector's authority.

    `off_books`: the stock was found where the books show none of it (termination drugs on a
    retail pharmacy's shelf, more on a clinic's shelf than its books hold). It was outside
    the chain, so nothing leaves the holder's books: it enters the ledger in the authority's
    custody, and the seizure (holder, batch, quantity) records where it was found."""
    authority = _acting_organisation(actor, {Role.INSPECTOR})
    occurred_at, _on = _when(occurred_at)
    holder = Organisation.objects.select_related("jurisdiction").get(pk=holder.pk)
    if not visibility.in_jurisdiction(actor, holder.jurisdiction):
        raise NotAllowed(_("%(org)s is outside your jurisdiction.") % {"org": holder}, code="outside_jurisdiction")
    seizure = Seizure.objects.create(holder=holder, authority=authority, batch=batch, quantity=quantity,
                                     case_reference=case_reference, note=note, off_books=off_books,
                                     occurred_at=occurred_at, inspector=actor)
    legs = [Leg(authority.pk, batch.pk, quantity)]
    if not off_books:
        legs.insert(0, Leg(holder.pk, batch.pk, -quantity))
    movements = ledger.post(legs=legs, kind=StockMovement.Kind.SEIZURE, actor=actor, occurred_at=occurred_at,
                            document={"seizure": seizure}, idempotency_key=idempotency_key)
    _audit_document(action="create", instance=seizure, actor=actor, organisation=holder, movements=movements)
    return seizure


@transaction.atomic
def stock_count_record(*, actor, batch: Batch, counted: int, note: str = "",
                       occurred_at: dt.datetime | None = None) -> StockCount:
    """A physical count; a difference from the books is posted as an adjustment."""
    holder = _acting_organisation(actor, {Role.PHARMACIST, Role.WHOLESALER_CLERK})
    occurred_at, _on = _when(occurred_at)
    from inventory.locking import lock_positions

    position = lock_positions([(holder.pk, batch.pk, False)])[(holder.pk, batch.pk, False)]
    count = StockCount.objects.create(holder=holder, batch=batch, counted=counted, book_quantity=position.quantity,
                                      note=note, occurred_at=occurred_at, recorded_by=actor)
    movements = ledger.post(legs=[Leg(holder.pk, batch.pk, counted - position.quantity)], kind=StockMovement.Kind.ADJUSTMENT,
                actor=actor, occurred_at=occurred_at, document={"stock_count": count})
    _audit_document(action="create", instance=count, actor=actor, organisation=holder, movements=movements)
    return count


CORRECTABLE = {StockMovement.Kind.INTAKE, StockMovement.Kind.DISPENSE, StockMovement.Kind.DISPOSAL,
               StockMovement.Kind.ADJUSTMENT}


@transaction.atomic
def movement_correct(*, actor, movement: StockMovement, reason: str) -> StockMovement:
    """Cancel a single-leg movement with a compensating row that points at it (the original
    stays). Transfers (dispatch, receipt, rejection, seizure) are undone by their own
    documents, not here."""
    movement = StockMovement.objects.select_related("holder__jurisdiction").get(pk=movement.pk)
    if not (visibility.is_member_of(actor, movement.holder) and actor.role in {Role.PHARMACIST, Role.WHOLESALER_CLERK}
            ) and not (visibility.is_office_admin(actor) and visibility.in_jurisdiction(actor, movement.holder.jurisdiction)):
        raise NotAllowed(_("You may not correct this movement."), code="not_allowed")
    if movement.kind not in CORRECTABLE:
        raise InvalidState(_("A %(kind)s is corrected through its document.") % {"kind": movement.get_kind_display()},
                           code="movement_not_correctable")
    if StockMovement.objects.filter(corrects=movement).exists():
        raise InvalidState(_("This movement was already corrected."), code="movement_already_corrected")
    if not reason.strip():
        raise InvalidInput(_("A correction needs a reason."), code="reason_required")
    (correction,) = ledger.post(
        legs=[Leg(movement.holder_id, movement.batch_id, -movement.quantity, movement.in_transit)],
        kind=StockMovement.Kind.CORRECTION, actor=actor, occurred_at=timezone.now(), corrects=movement,
        note=reason.strip()[:300],
    )
    audit_record(action="create", instance=correction, actor=actor, subject_organisation=movement.holder)
    return correction

