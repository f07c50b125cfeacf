"""Writes to the device registry. Each service is one transaction: it checks the acting user,
the rules (through backend.policies), appends one event, updates the cached state and ends
with one audit entry. `at` (the time of the act) defaults to now; only the demo seeder and
tests pass it.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from contextlib import contextmanager

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from audits.services import audit_record, snapshot
from backend.models import Organisation, Person, normalise_resident_id, validate_resident_id
from backend.policies import Clause, Decision, may_hold_device, may_operate_device
from backend.uploads import PreparedImage
from inventory.devices import errors, permissions
from inventory.devices.models import (
    FILING_DEADLINE_DAYS,
    Device,
    DeviceEvent,
    DeviceExam,
    DeviceImage,
    DeviceKind,
    DeviceRefusal,
    DeviceStatus,
    identity_key,
)
from inventory.devices.selectors import exam_state
from scanning import codec

Kind = DeviceEvent.Kind

# Refusals worth keeping for inspectors, not only returning.
RECORDED_REFUSALS = (
    errors.DuplicateFiling, errors.HolderNotAllowed, errors.OperatorNotLicensed, errors.CustodianNotLicensed,
    errors.PersonNotAtHolder, errors.DeviceSealed, errors.DeviceScrapped,
)


def _now(at: dt.datetime | None) -> dt.datetime:
    return at or timezone.now()


def days_late(duty_started_on: dt.date, filed_on: dt.date) -> int:
    """Days past the 7-day filing deadline (0 when on time)."""
    return max(0, (filed_on - duty_started_on).days - FILING_DEADLINE_DAYS)


def asset_tag_for(device: Device) -> str:
    """Exactly what scanning.codec reads back as this device's own label (see labels.py)."""
    return codec.device_tag_text(device.pk)


# --- checks shared by filing and transfer ---------------------------------------------


def _check_holder(holder: Organisation, kind: str, on: dt.date) -> None:
    decision = may_hold_device(holder, kind, on)
    if not decision:
        raise errors.HolderNotAllowed(
            decision, message=_("%(holder)s may not hold this device: %(why)s")
            % {"holder": holder.name, "why": "; ".join(decision.messages)},
        )


def _check_people(holder: Organisation, kind: str, on: dt.date, custodian: Person,
                  operators: Sequence[Person]) -> list[Person]:
    operators = list({p.pk: p for p in operators}.values())
    if not operators:
        raise errors.OperatorsRequired()
    strangers = [p for p in [custodian, *operators] if p.organisation_id != holder.pk]
    if strangers:
        raise errors.PersonNotAtHolder(
            _("%(people)s do(es) not work at %(holder)s.")
            % {"people": ", ".join(sorted({p.name for p in strangers})), "holder": holder.name},
            details={"people": sorted({p.pk for p in strangers})},
        )
    _check_operators_licensed(operators, kind, on, error=errors.OperatorNotLicensed)
    decision = may_operate_device(custodian, kind, on)
    if not decision:
        raise errors.CustodianNotLicensed(
            decision, message=_("The custodian %(name)s is not licensed: %(why)s")
            % {"name": custodian.name, "why": "; ".join(decision.messages)},
        )
    return operators


def _check_operators_licensed(people: Sequence[Person], kind: str, on: dt.date, *, error) -> None:
    clauses, per_person = [], []
    for person in people:
        decision = may_operate_device(person, kind, on)
        if not decision:
            clauses.extend(Clause(c.code, f"{person.name}: {c.message}") for c in decision.clauses)
            per_person.append({"person": person.pk, "name": person.name, "clauses": decision.as_details()})
    if clauses:
        exc = error(Decision(tuple(clauses)), message=_("Not licensed to operate this device on %(date)s: %(why)s")
                    % {"date": on.isoformat(), "why": "; ".join(c.message for c in clauses)})
        exc.details["people"] = per_person
        raise exc


@contextmanager
def _refusals_kept(refusals: tuple, *, actor, device: Device, act: str, details: dict | None = None,
                   to_holder: Organisation | None = None):
    """A refusal among `refusals` raised inside is kept (DeviceRefusal) for the device's holder,
    or for the holder the refusing code names (`exc.exam_holder`: the register an exam was for),
    then raised again. `to_holder`: where a refused transfer was to take the device."""
    try:
        yield
    except refusals as exc:
        _record_refusal(exc, actor=actor, holder=getattr(exc, "exam_holder", device.holder), existing=device,
                        act=act, details=details, to_holder=to_holder, fields={
                            "kind": device.kind, "brand": device.brand, "model": device.model,
                            "serial_number": device.serial_number})
        raise


def _record_refusal(exc: errors.DomainError, *, actor, holder, fields: dict, existing=None,
                    act: str = DeviceRefusal.Act.FILING, details: dict | None = None,
                    to_holder: Organisation | None = None) -> None:
    """Keep a refused act (own transaction: it survives the refusal's rollback)."""
    with transaction.atomic():
        refusal = DeviceRefusal.objects.create(
            act=act, actor=actor if getattr(actor, "pk", None) else None, holder=holder, code=exc.code,
            message=str(exc.message), kind=fields.get("kind", ""), brand=fields.get("brand", ""),
            model=fields.get("model", ""), serial_number=fields.get("serial_number", ""),
            identity=identity_key(fields.get("brand", ""), fields.get("model", ""), fields.get("serial_number", "")),
            device=existing, to_holder=to_holder, details={**(exc.details or {}), **(details or {})},
        )
        audit_record(action="create", instance=refusal, actor=actor, transition=exc.code)


def _store_images(device: Device, images: Sequence[PreparedImage], *, role: str, actor, person=None) -> None:
    for prepared in images:
        info = prepared.store()
        DeviceImage.objects.create(
            device=device, role=role, person=person, path=info.path, thumbnail_path=info.thumbnail_path,
            sha256=info.sha256, width=info.width, height=info.height, content_type=info.content_type,
            size=info.size, uploaded_by=actor if getattr(actor, "pk", None) else None,
        )


def _actor(actor):
    return actor if getattr(actor, "pk", None) else None


def _locked(device: Device) -> Device:
    return Device.objects.select_for_update(of=("self",), no_key=True).select_related("holder__jurisdiction").get(pk=device.pk)


def _refuse_if_closed(device: Device, *, sealed_too: bool = True) -> None:
    if device.status == DeviceStatus.SCRAPPED:
        raise errors.DeviceScrapped()
    if sealed_too and device.status == DeviceStatus.SEALED:
        raise errors.DeviceSealed()


def _audit_transition(device: Device, event: DeviceEvent, *, actor, before: dict) -> None:
    after = snapshot(device)
    after["operators"] = sorted(device.operators.values_list("pk", flat=True))
    after["event"] = snapshot(event)
    audit_record(action="transition", instance=device, actor=actor, before=before, after=after,
                 transition=event.kind)


def _before(device: Device) -> dict:
    data = snapshot(device)
    data["operators"] = sorted(device.operators.values_list("pk", flat=True))
    return data


# --- filing ---------------------------------------------------------------------------


def device_file(
    *, actor, kind: str, brand: str, model: str, place_of_origin: str, manufactured_on: dt.date,
    purchased_on: dt.date, serial_number: str, holder: Organisation, main_use: str, custodian: Person,
    operators: Sequence[Person], photos: Sequence[PreparedImage], seal_image: PreparedImage | None,
    capabilities: Sequence[str] = (), at: dt.datetime | None = None,
) -> Device:
    """File a device (备案). Refused: a holder that may not hold the kind (with the clause), an
    unlicensed operator or custodian, a second filing of the same brand + model + serial.
    Accepted but marked late when filed more than 7 days after purchase."""
    permissions.check_may_manage(actor, holder)
    fields = {"kind": kind, "brand": brand, "model": model, "serial_number": serial_number}
    try:
        return _device_file(
            actor=actor, kind=kind, brand=brand.strip(), model=model.strip(), place_of_origin=place_of_origin,
            manufactured_on=manufactured_on, purchased_on=purchased_on, serial_number=serial_number.strip(),
            holder=holder, main_use=main_use, custodian=custodian, operators=operators, photos=photos,
            seal_image=seal_image, capabilities=list(capabilities), at=_now(at),
        )
    except RECORDED_REFUSALS as exc:
        existing = getattr(exc, "device", None)
        _record_refusal(exc, actor=actor, holder=holder, fields=fields, existing=existing)
        raise


@transaction.atomic
def _device_file(*, actor, kind, brand, model, place_of_origin, manufactured_on, purchased_on, serial_number,
                 holder, main_use, custodian, operators, photos, seal_image, capabilities, at) -> Device:
    on = timezone.localdate(at)
    if kind not in DeviceKind.values:
        raise errors.BadDates(_("Unknown device kind %(kind)s.") % {"kind": kind}, code="device_kind_unknown")
    if purchased_on > on:
        raise errors.BadDates(_("The purchase date is in the future."), code="device_purchase_in_future")
    if manufactured_on > purchased_on:
        raise errors.BadDates(_("The manufacture date is after the purchase date."),
                              code="device_manufactured_after_purchase")
    if not photos:
        raise errors.PhotoRequired()
    if seal_image is None:
        raise errors.SealImageRequired()
    _check_holder(holder, kind, on)
    operators = _check_people(holder, kind, on, custodian, operators)

    key = identity_key(brand, model, serial_number)
    existing = Device.objects.filter(identity=key).first()
    if existing is not None:
        exc = errors.DuplicateFiling(details={"serial_number": serial_number, "brand": brand, "model": model})
        exc.device = existing
        raise exc

    late = days_late(purchased_on, on)
    seal = seal_image.store()
    try:
        with transaction.atomic():
            device = Device.objects.create(
                kind=kind, brand=brand, model=model, capabilities=capabilities, place_of_origin=place_of_origin,
                manufactured_on=manufactured_on, purchased_on=purchased_on, serial_number=serial_number,
                identity=key, main_use=main_use, seal_image=seal.path, status=DeviceStatus.ACTIVE, holder=holder,
                custodian=custodian, duty_started_on=purchased_on, filed_at=at, filed_by=_actor(actor),
                days_late=late,
            )
    except IntegrityError as exc:  # a concurrent filing of the same nameplate won
        dup = errors.DuplicateFiling(details={"serial_number": serial_number, "brand": brand, "model": model})
        dup.device = Device.objects.filter(identity=key).first()
        raise dup from exc
    device.asset_tag = asset_tag_for(device)
    device.save(update_fields=["asset_tag"])
    device.operators.set(operators)
    _store_images(device, photos, role="device", actor=actor)
    event = DeviceEvent.objects.create(
        device=device, kind=Kind.FILED, occurred_at=at, actor=_actor(actor), holder=holder, custodian=custodian,
        operators=sorted(p.pk for p in operators), duty_started_on=purchased_on, days_late=late,
    )
    after = _before(device)
    after["event"] = snapshot(event)
    audit_record(action="create", instance=device, actor=actor, after=after, transition=Kind.FILED)
    return device


def device_photos_add(*, actor, device: Device, photos: Sequence[PreparedImage], person: Person | None = None):
    """Add device photos, or an operator's photo (person given)."""
    with transaction.atomic():
        device = _locked(device)
        permissions.check_may_manage(actor, device.holder)
        _refuse_if_closed(device, sealed_too=False)
        if person is not None and person.pk not in set(device.operators.values_list("pk", flat=True)):
            raise errors.ExamOperatorNotRegistered(code="device_operator_not_registered")
        _store_images(device, photos, role="operator" if person else "device", actor=actor, person=person)
        audit_record(action="update", instance=device, actor=actor, transition="photos_added",
                     after={"images": list(device.images.values_list("path", flat=True))})
        return device


# --- lifecycle ------------------------------------------------------------------------


def device_transfer(*, actor, device: Device, to_holder: Organisation, custodian: Person,
                    operators: Sequence[Person], transferred_on: dt.date, reason: str = "",
                    at: dt.datetime | None = None) -> Device:
    """Hand the device to another institution that may hold it. The new holder's filing
    duties restart: this is its filing, late if more than 7 days after the handover."""
    permissions.check_may_manage(actor, device.holder)
    # A refusal is filed under the device's holder (whose inspectors follow the device),
    # naming the organisation it was to go to (whose inspectors see the attempt too).
    with _refusals_kept(RECORDED_REFUSALS, actor=actor, device=device, act=DeviceRefusal.Act.TRANSFER,
                        details={"to_holder": to_holder.pk}, to_holder=to_holder):
        return _device_transfer(actor=actor, device=device, to_holder=to_holder, custodian=custodian,
                                operators=operators, transferred_on=transferred_on, reason=reason, at=_now(at))


@transaction.atomic
def _device_transfer(*, actor, device, to_holder, custodian, operators, transferred_on, reason, at) -> Device:
    device = _locked(device)
    permissions.check_may_manage(actor, device.holder)  # again: a concurrent transfer may have moved it
    before = _before(device)
    _refuse_if_closed(device)
    on = timezone.localdate(at)
    if to_holder.pk == device.holder_id:
        raise errors.SameHolder()
    if transferred_on > on or transferred_on < device.purchased_on:
        raise errors.BadDates(_("The transfer date must lie between the purchase date and today."),
                              code="device_transfer_date_invalid")
    if transferred_on < device.duty_started_on:  # else the history shows it at two holders at once
        raise errors.BadDates(
            _("The transfer date cannot be before %(date)s, when the current holder took the device.")
            % {"date": device.duty_started_on.isoformat()}, code="device_transfer_before_current_holder",
            details={"not_before": device.duty_started_on.isoformat()})
    _check_holder(to_holder, device.kind, on)
    operators = _check_people(to_holder, device.kind, on, custodian, operators)
    late = days_late(transferred_on, on)
    device.holder, device.custodian = to_holder, custodian
    device.duty_started_on, device.days_late = transferred_on, late
    device.filed_at, device.filed_by = at, _actor(actor)
    device.save(update_fields=["holder", "custodian", "duty_started_on", "days_late", "filed_at", "filed_by"])
    device.operators.set(operators)
    event = DeviceEvent.objects.create(
        device=device, kind=Kind.TRANSFERRED, occurred_at=at, actor=_actor(actor), reason=reason,
        holder=to_holder, custodian=custodian, operators=sorted(p.pk for p in operators),
        duty_started_on=transferred_on, days_late=late,
    )
    _audit_transition(device, event, actor=actor, before=before)
    return device


@transaction.atomic
def device_seal(*, actor, device: Device, reference: str, reason: str = "", at: dt.datetime | None = None) -> Device:
    """An inspector seals (查封) the device, citing the finding or case."""
    device = _locked(device)
    permissions.check_may_seal(actor, device.holder)
    if not reference.strip():
        raise errors.BadDates(_("Sealing cites a finding or case reference."), code="device_seal_reference_required")
    if device.status == DeviceStatus.SEALED:
        raise errors.DeviceSealed(_("The device is already sealed."))
    _refuse_if_closed(device)
    return _transition(device, Kind.SEALED, DeviceStatus.SEALED, actor=actor, at=at, reason=reason,
                       reference=reference.strip())


@transaction.atomic
def device_unseal(*, actor, device: Device, reference: str, reason: str = "",
                  at: dt.datetime | None = None) -> Device:
    device = _locked(device)
    permissions.check_may_seal(actor, device.holder)
    if not reference.strip():
        raise errors.BadDates(_("Unsealing cites a finding or case reference."),
                              code="device_seal_reference_required")
    _refuse_if_closed(device, sealed_too=False)
    if device.status != DeviceStatus.SEALED:
        raise errors.DeviceNotSealed()
    return _transition(device, Kind.UNSEALED, DeviceStatus.ACTIVE, actor=actor, at=at, reason=reason,
                       reference=reference.strip())


def device_scrap(*, actor, device: Device, witness: str, reason: str = "", at: dt.datetime | None = None) -> Device:
    """Scrap the device in front of a witness. A sealed device is evidence: not scrapped
    (and the attempt is kept for inspectors)."""
    with _refusals_kept((errors.DeviceSealed, errors.DeviceScrapped), actor=actor, device=device,
                        act=DeviceRefusal.Act.SCRAP):
        return _device_scrap(actor=actor, device=device, witness=witness, reason=reason, at=at)


@transaction.atomic
def _device_scrap(*, actor, device: Device, witness: str, reason: str, at: dt.datetime | None) -> Device:
    device = _locked(device)
    permissions.check_may_manage(actor, device.holder)
    if not witness.strip():
        raise errors.BadDates(_("Scrapping needs a witness."), code="device_scrap_witness_required")
    _refuse_if_closed(device)
    return _transition(device, Kind.SCRAPPED, DeviceStatus.SCRAPPED, actor=actor, at=at, reason=reason,
                       witness=witness.strip())


def _transition(device: Device, kind: str, status: str, *, actor, at, **event_fields) -> Device:
    before = _before(device)
    device.status = status
    device.save(update_fields=["status"])
    event = DeviceEvent.objects.create(device=device, kind=kind, occurred_at=_now(at), actor=_actor(actor),
                                       **event_fields)
    _audit_transition(device, event, actor=actor, before=before)
    return device


def device_operator_add(*, actor, device: Device, person: Person, reason: str = "",
                        at: dt.datetime | None = None) -> Device:
    """Register one more operator. An unlicensed one, or one from another organisation, is
    refused and the attempt kept for inspectors."""
    refusals = (errors.OperatorNotLicensed, errors.PersonNotAtHolder, errors.DeviceSealed, errors.DeviceScrapped)
    with _refusals_kept(refusals, actor=actor, device=device, act=DeviceRefusal.Act.OPERATOR,
                        details={"person": person.pk}):
        return _device_operator_add(actor=actor, device=device, person=person, reason=reason, at=at)


@transaction.atomic
def _device_operator_add(*, actor, device: Device, person: Person, reason: str,
                         at: dt.datetime | None) -> Device:
    device = _locked(device)
    permissions.check_may_manage(actor, device.holder)
    _refuse_if_closed(device)
    if person.organisation_id != device.holder_id:
        raise errors.PersonNotAtHolder(_("%(name)s does not work at %(holder)s.")
                                       % {"name": person.name, "holder": device.holder.name})
    if device.operators.filter(pk=person.pk).exists():
        raise errors.OperatorAlreadyRegistered()
    _check_operators_licensed([person], device.kind, timezone.localdate(_now(at)), error=errors.OperatorNotLicensed)
    before = _before(device)
    device.operators.add(person)
    event = DeviceEvent.objects.create(device=device, kind=Kind.OPERATOR_ADDED, occurred_at=_now(at),
                                       actor=_actor(actor), person=person, reason=reason)
    _audit_transition(device, event, actor=actor, before=before)
    return device


@transaction.atomic
def device_operator_remove(*, actor, device: Device, person: Person, reason: str = "",
                           at: dt.datetime | None = None) -> Device:
    device = _locked(device)
    permissions.check_may_manage(actor, device.holder)
    _refuse_if_closed(device, sealed_too=False)
    current = set(device.operators.values_list("pk", flat=True))
    if person.pk not in current:
        raise errors.ExamOperatorNotRegistered(code="device_operator_not_registered")
    if current == {person.pk}:
        raise errors.LastOperator()
    before = _before(device)
    device.operators.remove(person)
    event = DeviceEvent.objects.create(device=device, kind=Kind.OPERATOR_REMOVED, occurred_at=_now(at),
                                       actor=_actor(actor), person=person, reason=reason)
    _audit_transition(device, event, actor=actor, before=before)
    return device


# --- the exam register ----------------------------------------------------------------

# The register has no field for the fetal sex; a summary that states it is refused.
SEX_PATTERN = re.compile(r"胎儿性别|男胎|女胎|男孩|女孩|男婴|女婴|是男|是女|性别[:：]?\s*[男女]|fetal\s+sex|gender",
                         re.IGNORECASE)
CLOCK_SKEW = dt.timedelta(minutes=5)


# Exam refusals kept for inspectors (never with the patient's name or full resident ID).
RECORDED_EXAM_REFUSALS = (
    errors.DeviceSealed, errors.DeviceScrapped, errors.ExamOperatorNotLicensed, errors.ExamOperatorNotRegistered,
    errors.ExamSecondOperatorRequired, errors.ExamMentionsSex, errors.ExamBeforeFiling, errors.HolderNotAllowed,
)


def exam_record(*, actor, device: Device, performed_at: dt.datetime, patient_name: str,
                patient_resident_id: str, gestational_weeks: int, indication: str, operator: Person,
                result_summary: str, second_operator: Person | None = None,
                at: dt.datetime | None = None) -> DeviceExam:
    """One line of the 孕妇超声波诊断检查登记表. Refused: a sealed or scrapped device, an
    operator not licensed on the day or not registered on the device, a missing second
    operator where the jurisdiction requires two signatures. Those refusals are also kept
    (DeviceRefusal, act "exam") for inspectors."""
    with _refusals_kept(RECORDED_EXAM_REFUSALS, actor=actor, device=device, act=DeviceRefusal.Act.EXAM, details={
            "performed_at": performed_at.isoformat(), "operator": operator.pk,
            "second_operator": second_operator.pk if second_operator is not None else None}):
        return _exam_record(
            actor=actor, device=device, performed_at=performed_at, patient_name=patient_name,
            patient_resident_id=patient_resident_id, gestational_weeks=gestational_weeks, indication=indication,
            operator=operator, result_summary=result_summary, second_operator=second_operator, at=at,
        )


@transaction.atomic
def _exam_record(*, actor, device, performed_at, patient_name, patient_resident_id, gestational_weeks, indication,
                 operator, result_summary, second_operator, at) -> DeviceExam:
    device = _locked(device)  # a concurrent seal waits for this exam, or this exam sees the seal
    # The register is the holder's at the time of the exam: after a transfer, an earlier exam
    # is still the old holder's to record, and in its register.
    then = exam_state(device, performed_at)
    holder = device.holder if then is None or then.holder_id == device.holder_id else Organisation.objects.select_related(
        "jurisdiction").get(pk=then.holder_id)
    try:
        return _exam_checked(actor=actor, device=device, then=then, holder=holder, performed_at=performed_at,
                             patient_name=patient_name, patient_resident_id=patient_resident_id,
                             gestational_weeks=gestational_weeks, indication=indication, operator=operator,
                             result_summary=result_summary, second_operator=second_operator, at=at)
    except RECORDED_EXAM_REFUSALS as exc:
        exc.exam_holder = holder  # the refusal is kept in that holder's records
        raise


def _exam_checked(*, actor, device, then, holder, performed_at, patient_name, patient_resident_id,
                  gestational_weeks, indication, operator, result_summary, second_operator, at) -> DeviceExam:
    permissions.check_may_record_exam(actor, holder)
    now = _now(at)
    if device.kind != DeviceKind.ULTRASOUND:
        raise errors.ExamNotUltrasound()
    if performed_at > now + CLOCK_SKEW:
        raise errors.ExamInvalid(_("The exam time is in the future."), code="exam_in_future")
    patient_resident_id = normalise_resident_id(patient_resident_id or "")
    try:
        validate_resident_id(patient_resident_id)
    except ValidationError as exc:
        raise errors.ExamInvalid(exc.messages[0], code="exam_invalid_resident_id") from None
    if not 1 <= int(gestational_weeks) <= 45:
        raise errors.ExamInvalid(_("Gestational weeks must be between 1 and 45."), code="exam_weeks_invalid")
    if SEX_PATTERN.search(result_summary or "") or SEX_PATTERN.search(indication or ""):
        raise errors.ExamMentionsSex()

    _refuse_if_closed(device)  # sealed or scrapped now
    if then is None:
        raise errors.ExamBeforeFiling()
    if then.status == DeviceStatus.SCRAPPED:
        raise errors.DeviceScrapped()
    if then.status == DeviceStatus.SEALED:
        raise errors.DeviceSealed(_("The device was sealed (查封) at the time of the exam."))

    day = timezone.localdate(performed_at)
    _check_holder(holder, device.kind, day)  # its practice licence valid that day, not revoked
    dual = holder.jurisdiction.setting("dual_signoff_required", False)
    if dual and second_operator is None:
        raise errors.ExamSecondOperatorRequired()
    if second_operator is not None and second_operator.pk == operator.pk:
        raise errors.ExamSecondOperatorRequired(_("The two signatures must be of two different operators."),
                                                code="exam_second_operator_same")
    signers = [operator] + ([second_operator] if second_operator is not None else [])
    unregistered = [p for p in signers if p.pk not in then.operator_ids]
    departed = [p for p in signers if p.pk not in {u.pk for u in unregistered} and p.organisation_id != holder.pk]
    if departed:  # registered on the device, but has since left the institution
        raise errors.ExamOperatorNotRegistered(
            _("%(people)s no longer works at %(holder)s.")
            % {"people": ", ".join(p.name for p in departed), "holder": holder.name},
            code="exam_operator_not_at_holder", details={"people": [p.pk for p in departed]},
        )
    if unregistered:
        raise errors.ExamOperatorNotRegistered(
            _("%(people)s is not registered as an operator of this device.")
            % {"people": ", ".join(p.name for p in unregistered)},
            details={"people": [p.pk for p in unregistered]},
        )
    _check_operators_licensed(signers, device.kind, day, error=errors.ExamOperatorNotLicensed)

    exam = DeviceExam.objects.create(
        device=device, performed_at=performed_at, patient_name=patient_name.strip(),
        patient_resident_id=patient_resident_id, gestational_weeks=gestational_weeks, indication=indication,
        operator=operator, second_operator=second_operator, result_summary=result_summary,
        recorded_by=_actor(actor), holder=holder,
    )
    audit_record(action="create", instance=exam, actor=actor)
    return exam


def exam_sensitive_read(*, actor, exam: DeviceExam) -> None:
    """Record that `actor` saw the patient's name and resident ID in full."""
    with transaction.atomic():
        audit_record(action="sensitive_read", instance=exam, actor=actor, transition="patient")
