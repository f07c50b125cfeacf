"""Writes of the alerts: raise (rules, the sweeps), acknowledge and resolve (the office).

    alert = alert_raise(type="unregistered_device_found", severity="high", subject=finding,
                        summary="...", evidence=[{"type": "sweeps.visit", "id": visit.pk}])
    alert_acknowledge(actor=office_admin, alert=alert, note="科室已约谈")
    alert_resolve(actor=office_admin, alert=alert, note="已立案查处，案号 ...")

Each is one transaction and writes one audit entry. `alert_raise` is idempotent per
(type, subject, occurrence) while an alert is open or acknowledged: it returns that alert
(with `was_created = False`, new evidence appended) instead of a second one; the partial
unique index `alert_one_open_per_subject` makes a duplicate impossible under concurrency
too.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from audits.alerts.errors import (
    AlertAlreadyResolved,
    AlertInvalid,
    AlertNoteRequired,
    AlertNotOpen,
    AlertOfficeAdminRequired,
    AlertOutsideJurisdiction,
)
from audits.alerts.models import Alert, AlertStatus, AlertType, Severity
from audits.services import _subject_organisation, audit_record
from backend import visibility
from backend.models import Jurisdiction

ACTIVE = (AlertStatus.OPEN, AlertStatus.ACKNOWLEDGED)
NOTE_MAX = 500


def _jurisdiction_code(jurisdiction, organisation, subject) -> str:
    if isinstance(jurisdiction, Jurisdiction):
        return jurisdiction.code
    if isinstance(jurisdiction, str) and jurisdiction:
        return jurisdiction
    if isinstance(subject, Jurisdiction):
        return subject.code
    if organisation is not None:
        return organisation.jurisdiction.code
    return ""


def _evidence(items: Iterable[dict]) -> list[dict]:
    out, seen = [], set()
    for item in items or ():
        if not isinstance(item, dict) or not item.get("type") or item.get("id") in (None, ""):
            raise AlertInvalid(_("Each piece of evidence names a record: {\"type\": \"app.model\", \"id\": ...}."),
                               details={"evidence": item})
        key = (str(item["type"]).lower(), item["id"])
        if key not in seen:
            seen.add(key)
            out.append({**item, "type": key[0]})
    return out


def _active(type: str, subject_type: str, subject_id: int, occurrence: str) -> Alert | None:
    return (Alert.objects.filter(type=type, subject_type=subject_type, subject_id=subject_id,
                                 occurrence=(occurrence or "")[:40], status__in=ACTIVE).first())


def _seen_again(alert: Alert, evidence: list[dict], actor) -> Alert:
    """The finding is already open: add the new evidence to it (audited), nothing else."""
    known = {(e.get("type"), e.get("id")) for e in alert.evidence}
    new = [e for e in evidence if (e["type"], e["id"]) not in known]
    if new:
        alert = Alert.objects.select_for_update(no_key=True).get(pk=alert.pk)
        before = {"evidence": list(alert.evidence)}
        alert.evidence = [*alert.evidence, *new]
        alert.save(update_fields=["evidence"])
        audit_record(action="update", instance=alert, actor=actor, before=before, after={"evidence": alert.evidence},
                     subject_organisation=alert.organisation)
    alert.was_created = False
    return alert


def alert_raise(*, type: str, severity: str, subject, summary: str = "", evidence: Iterable[dict] = (),
                jurisdiction=None, organisation=None, occurrence: str = "", figures: dict | None = None,
                actor=None, raised_at: dt.datetime | None = None, other_organisation=None) -> Alert:
    """Open an alert about `subject` (a saved model instance), or return the one already open
    or acknowledged for the same type and subject (`alert.was_created` tells which).

    `organisation` and `jurisdiction` (a Jurisdiction or its code) default to the subject's
    (an Organisation itself, or what its `audit_organisation()` says); an alert without a
    jurisdiction would be seen by nobody and is refused. `occurrence` tells repeated
    findings about one subject apart (e.g. "2026-10"); `figures` keeps the numbers behind
    the finding; `actor` is who raised it (None: the system). `other_organisation`: the other
    party of a finding between two (the customer of a wholesaler, where a pack was before);
    when it is in another division, that division's authorities see the alert too."""
    if type not in AlertType.values:
        raise AlertInvalid(_("Unknown alert type %(type)s.") % {"type": type},
                           details={"type": type, "allowed": list(AlertType.values)})
    if severity not in Severity.values:
        raise AlertInvalid(_("Unknown severity %(severity)s.") % {"severity": severity},
                           details={"severity": severity, "allowed": list(Severity.values)})
    if subject is None or getattr(subject, "pk", None) is None:
        raise AlertInvalid(_("An alert is about a saved record."))
    subject_type, subject_id = subject._meta.label_lower, int(subject.pk)
    organisation = organisation if organisation is not None else _subject_organisation(subject)
    code = _jurisdiction_code(jurisdiction, organisation, subject)
    if not code:
        raise AlertInvalid(_("An alert needs a jurisdiction (or an organisation that has one)."))
    other = other_organisation.jurisdiction.code if other_organisation is not None else ""
    if other.startswith(code) or code.startswith(other):  # within the same scope (or none)
        other = ""
    evidence = _evidence(evidence)
    actor = actor if getattr(actor, "is_authenticated", False) else None
    with transaction.atomic():
        existing = _active(type, subject_type, subject_id, occurrence)
        if existing is not None:
            return _seen_again(existing, evidence, actor)
        try:
            with transaction.atomic():
                alert = Alert.objects.create(
                    type=type, severity=severity, subject_type=subject_type, subject_id=subject_id,
                    occurrence=(occurrence or "")[:40], organisation=organisation, jurisdiction_code=code,
                    other_jurisdiction_code=other, summary=(summary or "")[:500], evidence=evidence, figures=figures or {},
                    raised_at=raised_at or timezone.now(), raised_by=actor)
        except IntegrityError:
            existing = _active(type, subject_type, subject_id, occurrence)
            if existing is None:
                raise
            return _seen_again(existing, evidence, actor)
        audit_record(action="create", instance=alert, actor=actor, subject_organisation=organisation)
    alert.was_created = True
    return alert


# --- the office's transitions ------------------------------------------------------------


def _lock(alert: Alert) -> Alert:
    return Alert.objects.select_for_update(of=("self",), no_key=True).select_related("organisation__jurisdiction").get(pk=alert.pk)


def _check_office(actor, alert: Alert) -> None:
    if not visibility.is_office_admin(actor):
        raise AlertOfficeAdminRequired()
    if not visibility.in_jurisdiction_code(actor, alert.jurisdiction_code):
        raise AlertOutsideJurisdiction()


def _note(note: str | None) -> str:
    return (note or "").strip()[:NOTE_MAX]


@transaction.atomic
def alert_acknowledge(*, actor, alert: Alert, note: str = "") -> Alert:
    """The office has seen the alert and is on it (open -> acknowledged)."""
    alert = _lock(alert)
    _check_office(actor, alert)
    if alert.status == AlertStatus.RESOLVED:
        raise AlertAlreadyResolved(details={"status": alert.status})
    if alert.status != AlertStatus.OPEN:
        raise AlertNotOpen(details={"status": alert.status})
    before = {"status": alert.status}
    alert.status = AlertStatus.ACKNOWLEDGED
    alert.acknowledged_at, alert.acknowledged_by, alert.acknowledgement_note = timezone.now(), actor, _note(note)
    alert.save(update_fields=["status", "acknowledged_at", "acknowledged_by", "acknowledgement_note"])
    audit_record(action="transition", instance=alert, actor=actor, transition="acknowledge", before=before,
                 subject_organisation=alert.organisation)
    return alert


@transaction.atomic
def alert_resolve(*, actor, alert: Alert, note: str) -> Alert:
    """The office closes the alert with a note saying what was done (open or acknowledged ->
    resolved)."""
    note = _note(note)
    alert = _lock(alert)
    _check_office(actor, alert)
    if alert.status == AlertStatus.RESOLVED:
        raise AlertAlreadyResolved(details={"status": alert.status})
    if not note:
        raise AlertNoteRequired()
    before = {"status": alert.status}
    alert.status = AlertStatus.RESOLVED
    alert.resolved_at, alert.resolved_by, alert.resolution_note = timezone.now(), actor, note
    alert.save(update_fields=["status", "resolved_at", "resolved_by", "resolution_note"])
    audit_record(action="transition", instance=alert, actor=actor, transition="resolve", before=before,
                 subject_organisation=alert.organisation)
    return alert
