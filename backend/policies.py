"""Who may do what, on which date: pure functions that answer with reasons.

Each function reads the registry (licences are taken from `holder.licences.all()`, so a
caller can prefetch them) and returns a `Decision`: truthy when allowed, otherwise carrying
the failing clauses, each with a stable code and a translated message, so that every
refusal can say why. Later work calls these; nothing re-implements them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.utils.translation import gettext as _

from backend import fastsql
from backend.models import Licence, Organisation, Person

Kind = Organisation.Kind
LKind = Licence.Kind


@dataclass(frozen=True)
class Clause:
    code: str
    message: str

    def as_dict(self) -> dict:
        return {"code": self.code, "message": self.message}


@dataclass(frozen=True)
class Decision:
    clauses: tuple[Clause, ...] = field(default_factory=tuple)

    @property
    def allowed(self) -> bool:
        return not self.clauses

    def __bool__(self) -> bool:
        return self.allowed

    @property
    def messages(self) -> list[str]:
        return [c.message for c in self.clauses]

    def as_details(self) -> list[dict]:
        return [c.as_dict() for c in self.clauses]


ALLOW = Decision()


def _refuse(*clauses: Clause) -> Decision:
    return Decision(tuple(clauses))


def has_licences_loaded(holder) -> bool:
    return "licences" in getattr(holder, "_prefetched_objects_cache", {})


def prefetch_licences(*holders: Organisation | Person) -> None:
    """Load the licences of several holders (organisations and people) in ONE query and
    cache them as each holder's `licences.all()`, as `prefetch_related("licences")` would
    (which costs a query per model, and Django's prefetch machinery on top)."""
    holders = tuple(h for h in holders if h is not None and not has_licences_loaded(h))
    if not holders:
        return
    org_ids = {h.pk for h in holders if isinstance(h, Organisation)}
    person_ids = {h.pk for h in holders if isinstance(h, Person)}
    rows = _licences_of(org_ids, person_ids)
    for holder in holders:
        field = Licence._meta.get_field("holder_organisation" if isinstance(holder, Organisation) else "holder_person")
        own = [lic for lic in rows if getattr(lic, field.attname) == holder.pk]
        for lic in own:
            field.set_cached_value(lic, holder)
        queryset = holder.licences.all()  # the related manager's queryset: no query until evaluated
        queryset._result_cache = own
        queryset._prefetch_done = True
        holder._prefetched_objects_cache = {**getattr(holder, "_prefetched_objects_cache", {}), "licences": queryset}


def _licences_of(org_ids: set[int], person_ids: set[int]) -> list[Licence]:
    """The licences of these organisations and people, in `Licence.Meta.ordering`
    (newest first), in one precompiled SELECT (backend.fastsql: this runs on every
    dispense and dispatch)."""
    where = []
    if org_ids:
        where.append(f"t.holder_organisation_id IN ({', '.join(['%s'] * len(org_ids))})")
    if person_ids:
        where.append(f"t.holder_person_id IN ({', '.join(['%s'] * len(person_ids))})")
    if not where:
        return []
    # Our table and column names; the ids go as parameters.
    sql = (f"SELECT {fastsql.columns(Licence, 't')} FROM {fastsql.table(Licence)} t WHERE {' OR '.join(where)} "  # noqa: S608
           f"ORDER BY {fastsql.ordering(Licence, 't')}")
    return fastsql.fetch(Licence, sql, [*sorted(org_ids), *sorted(person_ids)])


def _licences(holder, kind: str) -> list[Licence]:
    return [lic for lic in holder.licences.all() if lic.kind == kind]


def licence_clause(holder, kind: str, on: dt.date, *, scope: str | None = None) -> Clause | None:
    """None when the holder has a licence of `kind` valid on `on` (covering `scope` if given);
    otherwise the clause that says what is wrong with the best candidate."""
    label = Licence.Kind(kind).label
    candidates = _licences(holder, kind)
    if scope is not None:
        in_scope = [lic for lic in candidates if scope in (lic.scope or [])]
        if candidates and not in_scope:
            return Clause(
                f"{kind}_scope_missing",
                _("%(licence)s does not list %(scope)s in its scope")
                % {"licence": label, "scope": Licence.Scope(scope).label},
            )
        candidates = in_scope
    if not candidates:
        return Clause(f"{kind}_missing", _("no %(licence)s on record") % {"licence": label})
    if any(lic.is_valid_on(on) for lic in candidates):
        return None
    # Explain with the most relevant licence: the latest one that has started.
    started = [lic for lic in candidates if lic.valid_from <= on]
    if not started:
        first = min(candidates, key=lambda lic: lic.valid_from)
        return Clause(
            f"{kind}_not_yet_valid",
            _("%(licence)s is valid only from %(date)s") % {"licence": label, "date": first.valid_from.isoformat()},
        )
    latest = max(started, key=lambda lic: (lic.valid_from, lic.id or 0))
    if latest.revoked_at is not None and latest.revoked_at <= on:
        return Clause(
            f"{kind}_revoked",
            _("%(licence)s was revoked on %(date)s: %(reason)s")
            % {"licence": label, "date": latest.revoked_at.isoformat(), "reason": latest.revoked_reason},
        )
    return Clause(
        f"{kind}_expired",
        _("%(licence)s expired on %(date)s") % {"licence": label, "date": latest.valid_until.isoformat()},
    )


def _first(clauses: Iterable[Clause | None]) -> list[Clause]:
    return [c for c in clauses if c is not None]


def _practice_clause(org: Organisation, on: dt.date, *, scope: str | None = None) -> Clause | None:
    """A medical institution practises under a medical institution practice licence; a
    family-planning service institution under its technical service licence."""
    if org.kind == Kind.FAMILY_PLANNING:
        fp = licence_clause(org, LKind.FAMILY_PLANNING_SERVICE, on, scope=scope)
        if fp is None:
            return None
        medical = licence_clause(org, LKind.MEDICAL_PRACTICE, on)
        return fp if medical is not None else None
    return licence_clause(org, LKind.MEDICAL_PRACTICE, on)


def may_receive_termination_drugs(org: Organisation, on: dt.date) -> Decision:
    """Only institutions approved for termination surgery by a county-level or higher health
    or family-planning department may hold and use termination drugs; retail pharmacies may
    not sell them at all; individual clinics may not use drugs to terminate pregnancies."""
    if org.kind == Kind.RETAIL_PHARMACY:
        return _refuse(Clause("retail_pharmacy", _("retail pharmacies may not hold termination drugs")))
    if org.kind == Kind.INDIVIDUAL_CLINIC:
        return _refuse(Clause("individual_clinic", _("individual clinics may not use drugs to terminate pregnancies")))
    if org.kind not in {Kind.HOSPITAL, Kind.TOWNSHIP_HEALTH_CENTRE, Kind.FAMILY_PLANNING, Kind.PRIVATE_CLINIC}:
        return _refuse(Clause(
            "not_medical_institution",
            _("only medical institutions approved for termination surgery may receive termination drugs; "
              "this organisation is a %(kind)s") % {"kind": org.get_kind_display()},
        ))
    return Decision(tuple(_first([
        _practice_clause(org, on),
        licence_clause(org, LKind.TERMINATION_APPROVAL, on),
    ])))


def may_supply_termination_drugs(org: Organisation, on: dt.date) -> Decision:
    """Manufacturers and licensed wholesalers may sell termination drugs, and only to
    approved institutions (checked on the recipient with `may_receive_termination_drugs`)."""
    if org.kind == Kind.WHOLESALER:
        clause = licence_clause(org, LKind.DRUG_WHOLESALE, on)
        return _refuse(clause) if clause else ALLOW
    if org.kind == Kind.MANUFACTURER:
        return ALLOW
    if org.kind == Kind.RETAIL_PHARMACY:
        return _refuse(Clause("retail_pharmacy", _("retail pharmacies may not sell termination drugs")))
    return _refuse(Clause(
        "not_supplier",
        _("only manufacturers and licensed drug wholesalers may supply termination drugs; "
          "this organisation is a %(kind)s") % {"kind": org.get_kind_display()},
    ))


DEVICE_SCOPES = {"ultrasound": Licence.Scope.ULTRASOUND, "chromosome_testing": Licence.Scope.CHROMOSOME_TESTING}


def may_hold_device(org: Organisation, kind: str, on: dt.date) -> Decision:
    """Only licensed medical institutions, and family-planning technical service institutions
    whose licence lists the service in scope, may own or use ultrasound and chromosome-testing
    devices; individual clinics and individuals may not buy or use them."""
    if kind not in DEVICE_SCOPES:
        return _refuse(Clause("unknown_device_kind", _("unknown device kind %(kind)s") % {"kind": kind}))
    if org.kind == Kind.INDIVIDUAL_CLINIC:
        return _refuse(Clause("individual_clinic", _("individual clinics may not hold or use ultrasound or chromosome-testing devices")))
    if org.kind == Kind.RETAIL_PHARMACY:
        return _refuse(Clause("retail_pharmacy", _("retail pharmacies may not hold ultrasound or chromosome-testing devices")))
    if org.kind == Kind.WHOLESALER:
        return _refuse(Clause("wholesaler", _("drug wholesalers may not hold ultrasound or chromosome-testing devices")))
    if org.kind not in {Kind.HOSPITAL, Kind.TOWNSHIP_HEALTH_CENTRE, Kind.FAMILY_PLANNING, Kind.PRIVATE_CLINIC}:
        return _refuse(Clause(
            "not_medical_institution",
            _("only licensed medical and family-planning service institutions may hold these devices; "
              "this organisation is a %(kind)s") % {"kind": org.get_kind_display()},
        ))
    clause = _practice_clause(org, on, scope=DEVICE_SCOPES[kind])
    return _refuse(clause) if clause else ALLOW


def is_licensed(person: Person, kind: str, on: dt.date, *, scope: str | None = None) -> Decision:
    """持证上岗: the person holds a licence of `kind` valid on `on` (and covering `scope`)."""
    clause = licence_clause(person, kind, on, scope=scope)
    return _refuse(clause) if clause else ALLOW


def may_operate_device(person: Person, kind: str, on: dt.date) -> Decision:
    """Operating an ultrasound or chromosome-testing device for prenatal diagnosis requires
    the maternal and infant health technical certificate covering that service."""
    if kind not in DEVICE_SCOPES:
        return _refuse(Clause("unknown_device_kind", _("unknown device kind %(kind)s") % {"kind": kind}))
    return is_licensed(person, LKind.MATERNAL_INFANT, on, scope=DEVICE_SCOPES[kind])
