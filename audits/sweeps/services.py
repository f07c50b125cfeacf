"""Writes of the sweep work. Each service is one transaction: check who acts, check the rules,
write, audit as the last step. `at` (the time of the act) defaults to now; the demo seeder
and tests pass it.

Planning (office administrators of the sweep's jurisdiction):
    sweep = sweep_plan(actor=..., name=..., jurisdiction=..., period_start=..., period_end=...,
                       departments=["health", "drug_administration"])
    team_create(actor=..., sweep=sweep, name="第一组", members=[inspector_a, inspector_b])
    targets_generate(actor=..., sweep=sweep)        # from the registers (idempotent)
    target_add(actor=..., sweep=sweep, site_name="无证诊所", jurisdiction=township)   # ad hoc
    target_assign(actor=..., target=target, team=team)

Field work (inspectors of the site's jurisdiction):
    visit = visit_open(actor=..., target=target)
    answer_record / tick_record / finding_record / photo_record(actor=..., visit=visit,
                                                               client_id=<uuid>, ...)
    visit_count_open(actor=..., visit=visit)         # book vs shelf (audits.counts)
    finding_seal_device / finding_seize_stock / finding_order_rectification / finding_verify_rectification(...)
    case_open(actor=..., finding=finding, title=...); case_follow_up(actor=..., case=..., status=...)
    visit_close(actor=..., visit=visit)              # registered devices not ticked: missing

Items a phone queues offline (answers, ticks, findings, photos) carry a `client_id` unique per
visit (a database constraint): the same item sent again returns the stored one with
`was_created = False`, whatever the order and however often it arrives.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from collections.abc import Iterable, Sequence

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from audits import counts
from audits.services import audit_record, snapshot
from audits.sweeps import checklist
from audits.sweeps import errors as e
from audits.sweeps.models import (
    Case,
    CaseEvent,
    ChecklistAnswer,
    EvidencePhoto,
    Finding,
    FindingAction,
    Sweep,
    Target,
    Team,
    Tick,
    TickAlias,
    Visit,
    unregistered_key,
)
from backend import policies, visibility
from backend.models import Jurisdiction, Organisation, User

FUTURE_TOLERANCE = dt.timedelta(minutes=5)
ITEM_MODELS = (ChecklistAnswer, Tick, Finding, EvidencePhoto)
MISSING_NAMESPACE = uuid.UUID("6f1c1d3e-5a55-4c39-9a3e-7d0f2a1b8e11")
Source = Target.Source
K = Organisation.Kind


# --- who may act ------------------------------------------------------------------------


def _check_office_admin(actor, jurisdiction: Jurisdiction) -> None:
    if not visibility.is_office_admin_of(actor, jurisdiction):
        raise e.OfficeAdminRequired()


def _check_inspector(actor, jurisdiction: Jurisdiction) -> None:
    """Field work: inspectors of the site's jurisdiction (the admin's superusers too)."""
    if not visibility.is_inspector_of(actor, jurisdiction):
        raise e.InspectorRequired()


def _check_authority(actor, jurisdiction: Jurisdiction) -> None:
    """Cases: the jurisdiction's inspectors and office administrators."""
    if not visibility.is_office_admin_of(actor, jurisdiction):
        _check_inspector(actor, jurisdiction)


# --- helpers ------------------------------------------------------------------------------


def _now(at: dt.datetime | None) -> dt.datetime:
    return at or timezone.now()


PHONE_YEAR_EARLIEST = 2000  # a phone time before this is a clock that was never set


def _phone_time(value: dt.datetime | None, *, field: str) -> dt.datetime:
    """A time the phone recorded (default: now); not in the future."""
    now = timezone.now()
    if value is None:
        return now
    if value.year < PHONE_YEAR_EARLIEST:  # checked before make_aware, which underflows near year 1
        raise e.ItemInvalid(_("%(field)s is before 2000: the phone's clock is wrong.") % {"field": field},
                            code="time_implausible", details={"field": field})
    if timezone.is_naive(value):
        value = timezone.make_aware(value)
    if value > now + FUTURE_TOLERANCE:
        raise e.ItemInvalid(_("%(field)s lies in the future.") % {"field": field}, code="time_in_future",
                            details={"field": field})
    return value


def _lock_sweep(sweep: Sweep) -> Sweep:
    return Sweep.objects.select_for_update(of=("self",), no_key=True).select_related("jurisdiction", "office__jurisdiction").get(pk=sweep.pk)


def _lock_visit(visit: Visit) -> Visit:
    return Visit.objects.select_for_update(of=("self",), no_key=True).select_related(
        "jurisdiction", "organisation__jurisdiction", "sweep", "target").get(pk=visit.pk)


def _open_sweep(sweep: Sweep) -> None:
    if sweep.status == Sweep.Status.FINISHED:
        raise e.SweepFinished()


def _within(jurisdiction: Jurisdiction, sweep: Sweep) -> bool:
    return jurisdiction.code.startswith(sweep.jurisdiction.prefix)


# --- planning -------------------------------------------------------------------------------


def _departments(values: Iterable[str]) -> list[str]:
    chosen = sorted(set(values or []))
    unknown = [d for d in chosen if d not in User.Department.values]
    if unknown:
        raise e.SweepInvalid(_("Unknown departments: %(d)s.") % {"d": ", ".join(unknown)}, code="sweep_department_unknown",
                             details={"allowed": list(User.Department.values)})
    if len(chosen) < 2:
        raise e.SweepInvalid(_("A joint inspection takes at least two departments."), code="sweep_needs_two_departments")
    return chosen


@transaction.atomic
def sweep_plan(*, actor, name: str, jurisdiction: Jurisdiction, period_start: dt.date, period_end: dt.date,
               departments: Sequence[str], note: str = "", at: dt.datetime | None = None) -> Sweep:
    """The office plans a sweep of `jurisdiction` (its own or below) for a period."""
    _check_office_admin(actor, jurisdiction)
    if not getattr(actor, "organisation_id", None):
        raise e.OfficeAdminRequired()  # a sweep is planned by an office
    if not name.strip():
        raise e.SweepInvalid(_("A sweep needs a name."), code="sweep_name_required")
    if period_end < period_start:
        raise e.SweepInvalid(_("The period ends before it starts."), code="sweep_period_invalid")
    office = visibility.organisation_of(actor)
    sweep = Sweep.objects.create(name=name.strip(), office=office, jurisdiction=jurisdiction,
                                 period_start=period_start, period_end=period_end,
                                 departments=_departments(departments), note=note, created_by=actor,
                                 created_at=_now(at))
    audit_record(action="create", instance=sweep, actor=actor)
    return sweep


@transaction.atomic
def team_create(*, actor, sweep: Sweep, name: str, members: Sequence[User], leader: User | None = None) -> Team:
    """A joint team: inspectors of the sweep's jurisdiction from at least two of the sweep's
    departments."""
    sweep = _lock_sweep(sweep)
    _check_office_admin(actor, sweep.jurisdiction)
    _open_sweep(sweep)
    members = list({m.pk: m for m in members}.values())
    # named by username only where the administrator sees the user (another county's: by id)
    wrong = [m.username if visibility.in_jurisdiction(actor, getattr(m.organisation, "jurisdiction", None))
             else f"#{m.pk}" for m in members if m.role != User.Role.INSPECTOR
             or not visibility.in_jurisdiction(m, sweep.jurisdiction)]
    if wrong:
        raise e.SweepInvalid(_("Team members are inspectors whose jurisdiction covers the sweep: %(u)s.")
                             % {"u": ", ".join(wrong)}, code="team_member_not_inspector", details={"users": wrong})
    outside = sorted({m.department for m in members} - set(sweep.departments))
    if outside:
        raise e.SweepInvalid(_("Departments not taking part in the sweep: %(d)s.") % {"d": ", ".join(outside)},
                             code="team_department_not_in_sweep", details={"departments": outside})
    if len({m.department for m in members}) < 2:
        raise e.TeamDepartments(details={"departments": sorted({m.department for m in members})})
    if leader is not None and leader.pk not in {m.pk for m in members}:
        raise e.SweepInvalid(_("The team leader is one of its members."), code="team_leader_not_member")
    try:
        with transaction.atomic():
            team = Team.objects.create(sweep=sweep, name=name.strip(), leader=leader)
    except IntegrityError:
        raise e.SweepInvalid(_("The sweep already has a team of this name."), code="team_name_taken") from None
    team.members.set(members)
    audit_record(action="create", instance=team, actor=actor, subject_organisation=sweep.office,
                 after={**snapshot(team), "members": sorted(m.pk for m in members)})
    return team


REGISTER_SOURCES = tuple(s for s in Source.values if s != Source.AD_HOC)  # the registers a sweep plans from


def register_sites(sweep: Sweep, sources: Iterable[str] | None = None) -> dict[int, list[str]]:
    """Organisation id -> why the registers put it on the sweep (every source by default)."""
    from inventory.devices.models import Device, DeviceStatus

    wanted = set(sources or REGISTER_SOURCES)
    prefix = sweep.jurisdiction.prefix
    in_scope = Organisation.objects.filter(jurisdiction__code__startswith=prefix)
    sites: dict[int, list[str]] = {}

    def add(ids, source):
        for pk in ids:
            sites.setdefault(pk, []).append(source)

    holders = set(Device.objects.filter(holder__jurisdiction__code__startswith=prefix)
                  .exclude(status=DeviceStatus.SCRAPPED).values_list("holder_id", flat=True).distinct())
    institutions = list(in_scope.filter(kind__in=checklist.INSTITUTIONS).prefetch_related("licences"))
    approved = {o.pk for o in institutions if policies.may_receive_termination_drugs(o, sweep.period_start)}
    if Source.DEVICE_HOLDER in wanted:
        add(sorted(holders), Source.DEVICE_HOLDER)
    if Source.APPROVED_INSTITUTION in wanted:
        add(sorted(approved), Source.APPROVED_INSTITUTION)
    if Source.MEDICAL_INSTITUTION in wanted:  # 拉网式检查: the township health centre without a device too
        add([o.pk for o in institutions if o.pk not in holders | approved], Source.MEDICAL_INSTITUTION)
    for source, kind in ((Source.WHOLESALER, K.WHOLESALER), (Source.RETAIL_PHARMACY, K.RETAIL_PHARMACY),
                         (Source.INDIVIDUAL_CLINIC, K.INDIVIDUAL_CLINIC)):
        if source in wanted:
            add(in_scope.filter(kind=kind).values_list("pk", flat=True), source)
    return sites


@transaction.atomic
def targets_generate(*, actor, sweep: Sweep, sources: Iterable[str] | None = None) -> list[Target]:
    """Targets from the registers: device holders, approved institutions, every other medical
    institution (拉网式检查: hospitals, township health centres, private clinics with no device
    and no valid approval), wholesalers, retail pharmacies and individual clinics in the
    sweep's jurisdiction. Idempotent: a site
    already on the list keeps its row (its reasons are merged)."""
    sweep = _lock_sweep(sweep)
    _check_office_admin(actor, sweep.jurisdiction)
    _open_sweep(sweep)
    unknown = sorted(set(sources or []) - set(REGISTER_SOURCES))
    if unknown:
        raise e.SweepInvalid(_("Unknown register sources: %(s)s.") % {"s": ", ".join(unknown)},
                             code="sweep_source_unknown", details={"allowed": list(REGISTER_SOURCES)})
    sites = register_sites(sweep, sources)
    existing = {t.organisation_id: t for t in sweep.targets.filter(organisation_id__in=sites)}
    orgs = {o.pk: o for o in Organisation.objects.filter(pk__in=sites).select_related("jurisdiction")}
    added, changed = [], []
    for pk, why in sorted(sites.items()):
        target = existing.get(pk)
        if target is None:
            org = orgs[pk]
            added.append(Target.objects.create(sweep=sweep, organisation=org, site_name=org.name,
                                               site_address=org.address, jurisdiction=org.jurisdiction,
                                               sources=sorted(set(why))))
        elif set(why) - set(target.sources):
            target.sources = sorted(set(target.sources) | set(why))
            target.save(update_fields=["sources"])
            changed.append(target)
    if added or changed:
        audit_record(action="update", instance=sweep, actor=actor, transition="targets_generated",
                     after={"added": [t.pk for t in added], "changed": [t.pk for t in changed],
                            "sources": sorted(set(sources or []))})
    return list(sweep.targets.all())


@transaction.atomic
def target_add(*, actor, sweep: Sweep, organisation: Organisation | None = None, site_name: str = "",
               site_address: str = "", jurisdiction: Jurisdiction | None = None, team: Team | None = None) -> Target:
    """An ad-hoc site: a registered organisation not drawn from the registers, or a site
    named by address (an unlicensed clinic, a tip-off)."""
    sweep = _lock_sweep(sweep)
    _check_office_admin(actor, sweep.jurisdiction)
    _open_sweep(sweep)
    if organisation is not None:
        organisation = Organisation.objects.select_related("jurisdiction").get(pk=organisation.pk)
        jurisdiction = organisation.jurisdiction
        site_name = site_name.strip() or organisation.name
        site_address = site_address.strip() or organisation.address
    elif not site_name.strip() or jurisdiction is None:
        raise e.SweepInvalid(_("An ad-hoc site needs a name and a jurisdiction."), code="target_site_required")
    if not _within(jurisdiction, sweep):
        raise e.SweepInvalid(_("The site lies outside the sweep's jurisdiction."), code="target_outside_sweep")
    if team is not None and team.sweep_id != sweep.pk:
        raise e.SweepInvalid(_("The team belongs to another sweep."), code="team_other_sweep")
    try:
        with transaction.atomic():
            target = Target.objects.create(sweep=sweep, organisation=organisation, site_name=site_name.strip(),
                                           site_address=site_address.strip(), jurisdiction=jurisdiction,
                                           sources=[Source.AD_HOC], team=team)
    except IntegrityError:
        raise e.SweepInvalid(_("This organisation is already a target of the sweep."),
                             code="target_exists") from None
    audit_record(action="create", instance=target, actor=actor)
    return target


@transaction.atomic
def target_assign(*, actor, target: Target, team: Team | None) -> Target:
    target = Target.objects.select_for_update(of=("self",), no_key=True).select_related("sweep__jurisdiction").get(pk=target.pk)
    _check_office_admin(actor, target.sweep.jurisdiction)
    _open_sweep(target.sweep)
    if team is not None and team.sweep_id != target.sweep_id:
        raise e.SweepInvalid(_("The team belongs to another sweep."), code="team_other_sweep")
    before = snapshot(target)
    target.team = team
    target.save(update_fields=["team"])
    audit_record(action="update", instance=target, actor=actor, before=before, transition="assign")
    return target


@transaction.atomic
def sweep_finish(*, actor, sweep: Sweep, at: dt.datetime | None = None) -> Sweep:
    sweep = _lock_sweep(sweep)
    _check_office_admin(actor, sweep.jurisdiction)
    _open_sweep(sweep)
    open_visits = list(sweep.visits.filter(status=Visit.Status.OPEN).values_list("pk", flat=True))
    if open_visits:
        raise e.SweepInvalid(_("Close the open visits first."), code="sweep_visits_open",
                             details={"visits": open_visits})
    before = snapshot(sweep)
    sweep.status, sweep.finished_at = Sweep.Status.FINISHED, _now(at)
    sweep.save(update_fields=["status", "finished_at"])
    audit_record(action="transition", instance=sweep, actor=actor, before=before, transition="finish")
    return sweep


# --- visits -------------------------------------------------------------------------------


@transaction.atomic
def visit_open(*, actor, target: Target, note: str = "", at: dt.datetime | None = None) -> Visit:
    """An inspector opens the visit of a target (one per target), within the sweep's period."""
    target = Target.objects.select_for_update(of=("self",), no_key=True).select_related("sweep", "jurisdiction", "organisation").get(
        pk=target.pk)
    _check_inspector(actor, target.jurisdiction)
    sweep = _lock_sweep(target.sweep)
    _open_sweep(sweep)
    at = _now(at)
    on = timezone.localdate(at)
    if not sweep.period_start <= on <= sweep.period_end:
        raise e.SweepInvalid(_("The sweep runs from %(a)s to %(b)s.") % {"a": sweep.period_start, "b": sweep.period_end},
                             code="visit_outside_period")
    try:
        with transaction.atomic():
            visit = Visit.objects.create(sweep=sweep, target=target, organisation=target.organisation,
                                         jurisdiction=target.jurisdiction, team=target.team, opened_by=actor,
                                         opened_at=at, note=note[:500])
    except IntegrityError:
        raise e.VisitExists(details={"visit": Visit.objects.filter(target=target).values_list(
            "pk", flat=True).first()}) from None
    if sweep.status == Sweep.Status.PLANNED:
        sweep.status = Sweep.Status.ACTIVE
        sweep.save(update_fields=["status"])
    audit_record(action="create", instance=visit, actor=actor, subject_organisation=visit.organisation or sweep.office)
    return visit


def check_may_work(actor, visit: Visit) -> None:
    """May `actor` record on this visit (the sync batch asks before its items)?"""
    _check_inspector(actor, visit.jurisdiction)


def _writable(actor, visit: Visit) -> None:
    _check_inspector(actor, visit.jurisdiction)
    _check_open(visit)


def _check_open(visit: Visit) -> None:
    if visit.status != Visit.Status.OPEN:
        raise e.VisitClosed()


@transaction.atomic
def visit_count_open(*, actor, visit: Visit) -> Visit:
    """Open a count session (book vs shelf) of the site's stock, linked to the visit."""
    visit = _lock_visit(visit)
    _writable(actor, visit)
    if visit.organisation is None:
        raise e.ItemInvalid(_("An ad-hoc site has no books to count against."), code="visit_no_books")
    if visit.count_session_id is not None:
        raise e.SweepInvalid(_("The visit already has a count."), code="visit_count_exists",
                             details={"session": visit.count_session_id})
    session = counts.count_session_open(actor=actor, holder=visit.organisation, note=f"检查 #{visit.pk}")
    before = snapshot(visit)
    visit.count_session = session
    visit.save(update_fields=["count_session"])
    audit_record(action="update", instance=visit, actor=actor, before=before, transition="count_opened",
                 subject_organisation=visit.organisation)
    return visit


@transaction.atomic
def visit_close(*, actor, visit: Visit, note: str = "", at: dt.datetime | None = None) -> Visit:
    """Close the visit: every device registered at the site that the visit did not tick is
    ticked missing."""
    from inventory.devices.models import Device, DeviceStatus

    visit = _lock_visit(visit)
    _writable(actor, visit)
    at = _now(at)
    missing = []
    if visit.organisation_id:
        ticked = Tick.objects.filter(visit=visit, device__isnull=False).values_list("device_id", flat=True)
        for device in (Device.objects.filter(holder_id=visit.organisation_id).exclude(status=DeviceStatus.SCRAPPED)
                       .exclude(pk__in=list(ticked)).order_by("pk")):
            missing.append(Tick.objects.create(
                visit=visit, client_id=uuid.uuid5(MISSING_NAMESPACE, f"{visit.pk}:{device.pk}"),
                kind=Tick.Kind.DEVICE_MISSING, code=device.asset_tag or device.serial_number, device=device,
                registered_holder_id=device.holder_id, flags=[device.status] if device.status != DeviceStatus.ACTIVE else [],
                scanned_at=at, recorded_by=actor))
    before = snapshot(visit)
    visit.status, visit.closed_by, visit.closed_at = Visit.Status.CLOSED, actor, at
    if note:
        visit.note = note[:500]
    visit.save(update_fields=["status", "closed_by", "closed_at", "note"])
    audit_record(action="transition", instance=visit, actor=actor, before=before, transition="close",
                 subject_organisation=visit.organisation,
                 after={**snapshot(visit), "missing_devices": [t.device_id for t in missing]})
    return visit


# --- items a phone may queue offline -------------------------------------------------------


def _existing(visit: Visit, client_id, model, same: dict | None = None):
    """The item of this visit with this client id (None if new); the same id on another kind
    of item is a conflict, and so is the same id with other content (`same`: the fields a
    resend must repeat): a phone that reuses an id must not have its new data dropped as a
    "duplicate"."""
    for candidate in ITEM_MODELS:
        found = candidate.objects.filter(visit=visit, client_id=client_id).first()
        if found is not None:
            if candidate is not model:
                raise e.ClientIdConflict(details={"client_id": str(client_id),
                                                  "kind": candidate._meta.model_name})
            differs = sorted(name for name, value in (same or {}).items() if getattr(found, name) != value)
            if differs:
                raise e.ClientIdReused(details={"client_id": str(client_id), "fields": differs})
            found.was_created = False
            return found
    alias = TickAlias.objects.filter(visit=visit, client_id=client_id).select_related("tick").first()
    if alias is not None:  # a scan folded into an earlier tick: that tick, as for the tick's own id
        if model is not Tick:
            raise e.ClientIdConflict(details={"client_id": str(client_id), "kind": Tick._meta.model_name})
        stored = {"code": alias.code, "device_id": alias.tick.device_id}
        differs = sorted(name for name, value in (same or {}).items() if stored.get(name) != value)
        if differs:
            raise e.ClientIdReused(details={"client_id": str(client_id), "fields": differs})
        alias.tick.was_created = False
        return alias.tick
    return None


def _create_item(model, *, visit: Visit, client_id, duplicate_of=None, **fields):
    """Insert in a savepoint; a unique constraint that fires (a concurrent upload of the
    same item, or the same device or pack ticked again) answers with the stored item."""
    try:
        with transaction.atomic():
            item = model.objects.create(visit=visit, client_id=client_id, **fields)
    except IntegrityError:
        found = model.objects.filter(visit=visit, client_id=client_id).first()
        if found is None and duplicate_of is not None:
            found = duplicate_of()
        if found is None:
            raise
        found.was_created = False
        return found
    item.was_created = True
    return item


@transaction.atomic
def answer_record(*, actor, visit: Visit, client_id, item: str, answer: str, note: str = "",
                  answered_at: dt.datetime | None = None) -> ChecklistAnswer:
    """A checklist answer (the latest answer to an item counts; earlier ones stay)."""
    visit = _lock_visit(visit)
    _check_inspector(actor, visit.jurisdiction)
    if (found := _existing(visit, client_id, ChecklistAnswer,
                           {"item": item, "answer": answer, "note": (note or "")[:500]})) is not None:
        return found
    _check_open(visit)  # the inspector was checked above
    kind = visit.organisation.kind if visit.organisation else None
    applicable = {i.code for i in checklist.items_for(kind)}
    if item not in checklist.ITEMS:
        raise e.ItemInvalid(_("Unknown checklist item %(item)s.") % {"item": item}, code="checklist_item_unknown",
                            details={"allowed": sorted(applicable)})
    if item not in applicable:
        raise e.ItemInvalid(_("%(item)s does not apply to this site.") % {"item": item},
                            code="checklist_item_not_applicable", details={"allowed": sorted(applicable)})
    if answer not in ChecklistAnswer.Answer.values:
        raise e.ItemInvalid(_("Answer yes, no or na."), code="checklist_answer_invalid")
    row = _create_item(ChecklistAnswer, visit=visit, client_id=client_id, item=item, answer=answer, note=note[:500],
                       answered_at=_phone_time(answered_at, field="answered_at"), recorded_by=actor)
    if row.was_created:
        audit_record(action="create", instance=row, actor=actor, subject_organisation=visit.organisation)
    return row


def _raise_unregistered_alert(tick_id: int) -> None:
    """After commit: the office's alert for an unregistered device (idempotent per tick)."""
    from audits.alerts.services import alert_raise

    tick = Tick.objects.select_related("visit__jurisdiction", "visit__organisation").get(pk=tick_id)
    visit = tick.visit
    alert_raise(type="unregistered_device_found", severity="high", subject=tick,
                summary=f"{visit.target.site_name}: 发现未登记备案的设备 {tick.code}",
                evidence=[{"type": "sweeps.visit", "id": visit.pk}, {"type": "sweeps.tick", "id": tick.pk}],
                jurisdiction=visit.jurisdiction, organisation=visit.organisation)


def _unregistered_tick(visit: Visit, key: str) -> Tick | None:
    """The visit's unregistered tick of this nameplate (compared by `unregistered_key`), also
    one recorded before the key was (its key is empty: compared by its code)."""
    found = Tick.objects.filter(visit=visit, kind=Tick.Kind.DEVICE_UNREGISTERED, code_key=key).first()
    if found is None:
        found = next((t for t in Tick.objects.filter(visit=visit, kind=Tick.Kind.DEVICE_UNREGISTERED, code_key="")
                      .order_by("pk") if unregistered_key(t.code) == key), None)
    return found


def _prohibited_holder(site: Organisation | None, on: dt.date) -> bool:
    """May the site not hold termination drugs on the day of the scan? Wholesalers may; an
    institution only with a valid termination-surgery approval (and practice licence), as
    for a shipment to it; retail pharmacies, individual clinics and ad-hoc sites never."""
    if site is None:
        return True
    if site.kind == K.WHOLESALER:
        return False
    return not policies.may_receive_termination_drugs(site, on)


@transaction.atomic
def tick_record(*, actor, visit: Visit, client_id, code: str = "", device=None, batch=None, product=None,
                pack=None, unregistered_device: bool = False, scanned_at: dt.datetime | None = None) -> Tick:
    """Tick the register with what was scanned at the site:

    - a registered device: found (registered here) or at the wrong holder; sealed and
      scrapped devices are flagged;
    - an asset tag or factory serial the register does not know: unregistered (the office
      gets an alert); compared without case, spaces or punctuation, as a device's identity;
    - a drug pack or batch: on the site's books (a positive balance) or off the books
      (flagged `prohibited_holder` where the site may not hold termination drugs on the day
      of the scan: not a wholesaler, nor an institution with a valid approval).
    A device, a pack or an unregistered code is ticked once per visit: again, it answers
    with the first tick, and the new scan's client id is kept as an alias of that tick
    (`TickAlias`: a finding citing it as evidence resolves to the tick)."""
    from inventory.devices.models import DeviceStatus
    from inventory.selectors import position_quantity

    visit = _lock_visit(visit)
    _check_inspector(actor, visit.jurisdiction)
    same = {"code": (code or "")[:200]}
    if device is not None:
        same["device_id"] = device.pk
    if (found := _existing(visit, client_id, Tick, same)) is not None:
        return found
    _check_open(visit)  # the inspector was checked above
    site = visit.organisation
    scanned_at = _phone_time(scanned_at, field="scanned_at")
    fields: dict = {"code": (code or "")[:200], "flags": []}
    earlier = None  # an unregistered code the visit ticked before (the constraint decides the rest)
    if pack is not None:
        batch = pack.batch
    if batch is not None:
        product = batch.product
    if device is not None:
        fields["device"] = device
        fields["registered_holder_id"] = device.holder_id
        fields["kind"] = Tick.Kind.DEVICE_FOUND if site is not None and device.holder_id == site.pk \
            else Tick.Kind.DEVICE_WRONG_HOLDER
        if device.status != DeviceStatus.ACTIVE:
            fields["flags"].append(device.status)
        again = lambda: Tick.objects.filter(visit=visit, device=device).first()  # noqa: E731
    elif unregistered_device:
        if not fields["code"]:
            raise e.ItemInvalid(_("An unregistered device is ticked by its code."), code="tick_code_required")
        fields.update(kind=Tick.Kind.DEVICE_UNREGISTERED, code_key=unregistered_key(fields["code"]))
        again = lambda: _unregistered_tick(visit, fields["code_key"])  # noqa: E731
        earlier = again()  # the same nameplate typed otherwise ("sn-7788 "): one device
    elif product is not None:
        book = position_quantity(site.pk, batch.pk) if site is not None and batch is not None else 0
        fields.update(product=product, batch=batch, pack_code=pack, book_quantity=book,
                      kind=Tick.Kind.STOCK_ON_BOOKS if book > 0 else Tick.Kind.STOCK_OFF_BOOKS)
        if batch is None:
            fields["flags"].append("batch_unknown")
        if _prohibited_holder(site, timezone.localdate(scanned_at)):
            fields["flags"].append("prohibited_holder")
        if batch is not None and batch.is_expired_on(timezone.localdate()):
            fields["flags"].append("expired")
        again = (lambda: Tick.objects.filter(visit=visit, pack_code=pack).first()) if pack else None  # noqa: E731
    else:
        raise e.ItemInvalid(_("The code names no device and no drug to tick."), code="tick_nothing_named")
    if earlier is not None:
        tick, tick.was_created = earlier, False
    else:
        tick = _create_item(Tick, visit=visit, client_id=client_id, duplicate_of=again, recorded_by=actor,
                            scanned_at=scanned_at, **fields)
    if not tick.was_created and str(tick.client_id) != str(client_id):
        # folded into the earlier tick: its client id stays an alias of it (evidence may cite it)
        alias = TickAlias.objects.create(visit=visit, client_id=client_id, tick=tick, code=fields["code"],
                                         recorded_by=actor)
        audit_record(action="create", instance=alias, actor=actor, subject_organisation=site)
    if tick.was_created:
        audit_record(action="create", instance=tick, actor=actor, subject_organisation=site)
        if tick.kind == Tick.Kind.DEVICE_UNREGISTERED:
            # robust: an alert that cannot be raised is logged, the tick stays
            transaction.on_commit(lambda: _raise_unregistered_alert(tick.pk), robust=True)
    return tick


def _evidence(refs) -> list[dict]:
    out = []
    for ref in refs or []:
        if not isinstance(ref, dict) or ref.get("type") not in ("tick", "answer", "photo"):
            raise e.ItemInvalid(_("Evidence is a list of {type: tick|answer|photo, client_id}."),
                                code="finding_evidence_invalid")
        try:
            out.append({"type": ref["type"], "client_id": str(uuid.UUID(str(ref.get("client_id"))))})
        except ValueError:
            raise e.ItemInvalid(_("Evidence names items by their client id (a UUID)."),
                                code="finding_evidence_invalid") from None
    return out


@transaction.atomic
def finding_record(*, actor, visit: Visit, client_id, rule: str, severity: str, description: str,
                   evidence: Sequence[dict] = (), found_at: dt.datetime | None = None) -> Finding:
    """A finding: the rule broken, its severity, what was seen, and its evidence (ticks,
    answers and photos of the visit, by client id; they may upload before or after)."""
    visit = _lock_visit(visit)
    _check_inspector(actor, visit.jurisdiction)
    same = {"rule": rule, "severity": severity, "description": (description or "").strip(),
            "evidence": _evidence(evidence)}  # a resend citing other evidence is not a duplicate
    if (found := _existing(visit, client_id, Finding, same)) is not None:
        return found
    _check_open(visit)  # the inspector was checked above
    if rule not in checklist.RULES:
        raise e.ItemInvalid(_("Unknown rule %(rule)s.") % {"rule": rule}, code="finding_rule_unknown",
                            details={"allowed": sorted(checklist.RULES)})
    if severity not in Finding.Severity.values:
        raise e.ItemInvalid(_("Unknown severity %(s)s.") % {"s": severity}, code="finding_severity_unknown")
    if not (description or "").strip():
        raise e.ItemInvalid(_("Say what was found."), code="finding_description_required")
    row = _create_item(Finding, visit=visit, client_id=client_id, organisation=visit.organisation,
                       jurisdiction=visit.jurisdiction, rule=rule, severity=severity,
                       description=description.strip(), evidence=_evidence(evidence),
                       found_at=_phone_time(found_at, field="found_at"), recorded_by=actor)
    if row.was_created:
        audit_record(action="create", instance=row, actor=actor, subject_organisation=visit.organisation)
    return row


@transaction.atomic
def photo_record(*, actor, visit: Visit, client_id, image, caption: str = "", finding_client_id=None,
                 taken_at: dt.datetime | None = None) -> EvidencePhoto:
    """An evidence photo (`image`: a `backend.uploads.PreparedImage`, checked by the shared
    upload rules); stored by content hash, so a re-sent photo is stored once."""
    visit = _lock_visit(visit)
    _check_inspector(actor, visit.jurisdiction)
    finding_client_id = uuid.UUID(str(finding_client_id)) if finding_client_id else None
    caption = (caption or "")[:300]
    same = {"sha256": image.sha256, "finding_client_id": finding_client_id, "caption": caption}
    if (found := _existing(visit, client_id, EvidencePhoto, same)) is not None:
        return found
    _check_open(visit)  # the inspector was checked above
    taken_at = _phone_time(taken_at, field="taken_at")
    info = image.store()
    row = _create_item(EvidencePhoto, visit=visit, client_id=client_id, finding_client_id=finding_client_id,
                       caption=caption, taken_at=taken_at, path=info.path, thumbnail_path=info.thumbnail_path,
                       sha256=info.sha256, width=info.width, height=info.height, content_type=info.content_type,
                       size=info.size, recorded_by=actor)
    if row.was_created:
        audit_record(action="create", instance=row, actor=actor, subject_organisation=visit.organisation)
    return row


# --- actions on findings --------------------------------------------------------------------


def _lock_finding(finding: Finding) -> Finding:
    return Finding.objects.select_for_update(of=("self",), no_key=True).select_related(
        "visit__sweep", "visit__jurisdiction", "visit__organisation", "jurisdiction", "organisation").get(pk=finding.pk)


def _action(finding: Finding, kind: str, *, actor, at, **fields) -> FindingAction:
    action = FindingAction.objects.create(finding=finding, kind=kind, actor=actor, occurred_at=at, **fields)
    audit_record(action="create", instance=action, actor=actor, subject_organisation=finding.organisation)
    return action


@transaction.atomic
def finding_seal_device(*, actor, finding: Finding, device, reason: str = "",
                        at: dt.datetime | None = None) -> FindingAction:
    """Seal (查封) a device seen on the finding's visit, citing the finding, through the
    registry's own `device_seal`."""
    from inventory.devices import services as device_services

    finding = _lock_finding(finding)
    _check_inspector(actor, finding.jurisdiction)
    visit = finding.visit
    at_site = visit.organisation_id is not None and device.holder_id == visit.organisation_id
    if not at_site and not Tick.objects.filter(visit=visit, device=device).exists():
        raise e.ActionInvalid(_("Seal a device of the inspected site or one ticked on this visit."),
                              code="seal_device_not_on_visit")
    device_services.device_seal(actor=actor, device=device, reference=finding.reference,
                                reason=reason or finding.description[:300], at=at)
    return _action(finding, FindingAction.Kind.SEAL_DEVICE, actor=actor, at=_now(at), device=device,
                   note=reason[:500])


@transaction.atomic
def finding_seize_stock(*, actor, finding: Finding, batch, quantity: int, note: str = "", off_books: bool = False,
                        at: dt.datetime | None = None, idempotency_key: str | None = None) -> FindingAction:
    """Seize stock of the inspected site (a ledger movement, `inventory.services.seizure_record`).
    `off_books`: found where the site's books show none (a retail pharmacy's shelf): it enters
    the ledger in the authority's custody and nothing leaves the site's books."""
    from inventory import services as inventory_services

    finding = _lock_finding(finding)
    _check_inspector(actor, finding.jurisdiction)
    if finding.organisation is None:
        raise e.ActionInvalid(_("An ad-hoc site has no books to seize from."), code="seize_no_books")
    if quantity < 1:
        raise e.ItemInvalid(_("The quantity must be positive."), code="quantity_not_positive")
    seizure = inventory_services.seizure_record(actor=actor, holder=finding.organisation, batch=batch,
                                                quantity=quantity, case_reference=finding.reference[:60],
                                                note=note[:300], off_books=off_books, occurred_at=at,
                                                idempotency_key=idempotency_key)
    return _action(finding, FindingAction.Kind.SEIZE_STOCK, actor=actor, at=seizure.occurred_at, seizure=seizure,
                   note=note[:500])


@transaction.atomic
def finding_order_rectification(*, actor, finding: Finding, requirement: str, deadline: dt.date,
                                at: dt.datetime | None = None) -> FindingAction:
    """Order the site to rectify by a deadline (责令限期整改)."""
    finding = _lock_finding(finding)
    _check_inspector(actor, finding.jurisdiction)
    at = _now(at)
    if not (requirement or "").strip():
        raise e.ItemInvalid(_("Say what must be rectified."), code="rectification_requirement_required")
    if deadline < timezone.localdate(at):
        raise e.ItemInvalid(_("The deadline lies in the past."), code="rectification_deadline_past")
    return _action(finding, FindingAction.Kind.ORDER_RECTIFICATION, actor=actor, at=at,
                   requirement=requirement.strip(), deadline=deadline)


@transaction.atomic
def finding_verify_rectification(*, actor, finding: Finding, order: FindingAction, note: str,
                                 at: dt.datetime | None = None) -> FindingAction:
    """An inspector re-inspects and records that the site rectified what the order asked
    (整改复查); the order is then no longer overdue. One verification per order (a database
    constraint); a site that did not rectify gets no verification: open a case or order again."""
    finding = _lock_finding(finding)
    _check_inspector(actor, finding.jurisdiction)
    if order.finding_id != finding.pk or order.kind != FindingAction.Kind.ORDER_RECTIFICATION:
        raise e.ItemInvalid(_("Name a rectification order of this finding."), code="rectification_order_unknown")
    if not (note or "").strip():
        raise e.ItemInvalid(_("Say what the re-inspection found."), code="rectification_note_required")
    if FindingAction.objects.filter(rectifies=order).exists():
        raise e.RectificationVerified()
    try:
        with transaction.atomic():  # two inspectors at once: the one-to-one constraint decides
            return _action(finding, FindingAction.Kind.RECTIFICATION_VERIFIED, actor=actor, at=_now(at),
                           rectifies=order, note=note.strip()[:500])
    except IntegrityError:
        raise e.RectificationVerified() from None


# --- cases ---------------------------------------------------------------------------------


FINE_RANGE = (1000, 30000)


def _check_fine(fine: int | None) -> None:
    if fine is not None and not FINE_RANGE[0] <= fine <= FINE_RANGE[1]:
        raise e.CaseInvalid(_("Fines range from 1,000 to 30,000 yuan."), code="case_fine_out_of_range",
                            details={"min": FINE_RANGE[0], "max": FINE_RANGE[1]})


def _next_case_seq(prefix: str) -> int:
    """The next number of a county's year (`prefix`), handed out one transaction at a time:
    on PostgreSQL an advisory lock on the prefix, held to the commit, so two cases opened at
    once from two findings do not both take the same number (SQLite's IMMEDIATE transactions
    already serialise writers)."""
    connection = transaction.get_connection()
    if connection.vendor == "postgresql":
        key = int.from_bytes(hashlib.blake2b(f"sweeps.case_number:{prefix}".encode(), digest_size=8).digest(),
                             "big", signed=True)
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [key])
    numbers = Case.objects.filter(number__startswith=prefix).values_list("number", flat=True)
    return max((int(n[len(prefix):]) for n in numbers if n[len(prefix):].isdigit()), default=0) + 1


@transaction.atomic
def case_open(*, actor, finding: Finding, title: str = "", summary: str = "",
              at: dt.datetime | None = None) -> Case:
    """Open a case (两非案件立案) from a finding: one case per finding."""
    finding = _lock_finding(finding)
    _check_authority(actor, finding.jurisdiction)
    at = _now(at)
    if Case.objects.filter(finding=finding).exists():
        raise e.CaseExists(details={"case": Case.objects.filter(finding=finding).values_list("pk", flat=True)[0]})
    year = timezone.localdate(at).year
    prefix = f"LF-{finding.jurisdiction.code}-{year}-"
    seq = _next_case_seq(prefix)
    title = (title or "").strip() or f"{finding.visit.target.site_name}：{checklist.rule_title(finding.rule)}"
    try:
        with transaction.atomic():
            case = Case.objects.create(finding=finding, number=f"{prefix}{seq:04d}", title=title[:200],
                                       summary=summary or finding.description, organisation=finding.organisation,
                                       jurisdiction=finding.jurisdiction, opened_by=actor, opened_at=at)
    except IntegrityError:
        if not Case.objects.filter(finding=finding).exists():
            raise  # not this finding's case: a number taken is a bug, not "already open"
        raise e.CaseExists(details={"case": Case.objects.filter(finding=finding).values_list(
            "pk", flat=True)[0]}) from None
    CaseEvent.objects.create(case=case, status=Case.Status.OPEN, note=_("case opened from finding #%(id)s")
                             % {"id": finding.pk}, actor=actor, occurred_at=at)
    audit_record(action="create", instance=case, actor=actor)
    return case


FOLLOW_UPS = {
    Case.Status.OPEN: {Case.Status.INVESTIGATING, Case.Status.TRANSFERRED, Case.Status.CLOSED},
    Case.Status.INVESTIGATING: {Case.Status.INVESTIGATING, Case.Status.PENALISED, Case.Status.TRANSFERRED,
                                Case.Status.CLOSED},
    Case.Status.PENALISED: {Case.Status.PENALISED, Case.Status.CLOSED},
    Case.Status.TRANSFERRED: {Case.Status.TRANSFERRED, Case.Status.CLOSED},
    Case.Status.CLOSED: set(),
}


@transaction.atomic
def case_follow_up(*, actor, case: Case, status: str, note: str = "", outcome: str = "",
                   fine_yuan: int | None = None, at: dt.datetime | None = None) -> Case:
    """A follow-up step: investigating, penalty decided (with the fine: a fine on any other
    step is refused), transferred to the police, closed (with the outcome)."""
    case = Case.objects.select_for_update(of=("self",), no_key=True).select_related("jurisdiction", "organisation").get(pk=case.pk)
    _check_authority(actor, case.jurisdiction)
    at = _now(at)
    if case.status == Case.Status.CLOSED:
        raise e.CaseClosed()
    if status not in Case.Status.values:
        raise e.CaseInvalid(_("Unknown status %(s)s.") % {"s": status}, code="case_status_unknown")
    if status not in FOLLOW_UPS[case.status]:
        raise e.CaseInvalid(_("A %(a)s case cannot become %(b)s.") % {"a": case.status, "b": status},
                            code="case_transition_invalid",
                            details={"allowed": sorted(FOLLOW_UPS[case.status])})
    if fine_yuan is not None and status != Case.Status.PENALISED:  # a fine is a penalty decision (处罚)
        raise e.CaseInvalid(_("A fine is stated only with the penalty decision."), code="case_fine_without_penalty",
                            details={"status": status})
    _check_fine(fine_yuan)
    if status == Case.Status.PENALISED and fine_yuan is None and case.fine_yuan is None:
        raise e.CaseInvalid(_("A penalty decision states the fine."), code="case_fine_required")
    outcome = (outcome or "").strip()
    if status == Case.Status.CLOSED and not (outcome or case.outcome):
        raise e.CaseInvalid(_("Closing a case states its outcome."), code="case_outcome_required")
    before = snapshot(case)
    CaseEvent.objects.create(case=case, status=status, note=note, outcome=outcome, fine_yuan=fine_yuan,
                             actor=actor, occurred_at=at)
    case.status = status
    if outcome:
        case.outcome = outcome
    if fine_yuan is not None:
        case.fine_yuan = fine_yuan
    if status == Case.Status.CLOSED:
        case.closed_at = at
    case.save(update_fields=["status", "outcome", "fine_yuan", "closed_at"])
    audit_record(action="transition", instance=case, actor=actor, before=before, transition=status)
    return case
