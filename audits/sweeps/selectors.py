"""Reads of the sweep work: who sees what, a visit's state, the sweep summary, the chain head.

Who sees what:
- sweeps, teams, targets, visits and cases: inspectors and office administrators of the
  site's (the sweep's) jurisdiction and below; members never (a sweep plan is not shown to
  the sites it will visit);
- findings and their rectification orders: the jurisdiction's authorities, and the
  inspected organisation its own (never another site's).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from django.db.models import Prefetch, QuerySet

from audits.sweeps import checklist
from audits.sweeps.models import (
    Case,
    ChecklistAnswer,
    EvidencePhoto,
    Finding,
    FindingAction,
    Sweep,
    Target,
    Tick,
    TickAlias,
    Visit,
)
from backend import visibility
from backend.models import Organisation, User


def _authority_scope(qs: QuerySet, user, path: str = "jurisdiction") -> QuerySet:
    if not user.is_authenticated:
        return qs.none()
    if visibility.sees_everything(user):
        return qs
    if not user.is_authority:
        return qs.none()
    return qs.filter(**{f"{path}__code__startswith": user.jurisdiction_prefix})


def sweep_list(*, user) -> QuerySet[Sweep]:
    qs = Sweep.objects.select_related("jurisdiction", "office", "created_by").prefetch_related(
        "teams__members", Prefetch("targets", queryset=Target.objects.select_related(
            "organisation", "jurisdiction", "team").prefetch_related("visit")))
    return _authority_scope(qs, user)


def target_list(*, user) -> QuerySet[Target]:
    return _authority_scope(Target.objects.select_related("sweep", "organisation", "jurisdiction"), user)


def visit_list(*, user) -> QuerySet[Visit]:
    qs = Visit.objects.select_related("sweep", "target", "organisation", "jurisdiction", "team", "opened_by",
                                      "closed_by", "count_session")
    return _authority_scope(qs, user)


def visit_detail(*, user) -> QuerySet[Visit]:
    return visit_list(user=user).prefetch_related(
        "answers", "photos", Prefetch("ticks", queryset=Tick.objects.select_related(
            "device", "batch__product", "product", "pack_code", "registered_holder")),
        Prefetch("findings", queryset=Finding.objects.prefetch_related("actions__verification")))


def finding_list(*, user) -> QuerySet[Finding]:
    qs = Finding.objects.select_related("visit__sweep", "visit__target", "organisation", "jurisdiction",
                                        "recorded_by").prefetch_related(
        Prefetch("actions", queryset=FindingAction.objects.select_related("device", "seizure__batch__product",
                                                                          "verification")))
    if not user.is_authenticated:
        return qs.none()
    if visibility.sees_everything(user) or user.is_authority:
        return _authority_scope(qs, user)
    if user.organisation_id is None or not user.role:
        return qs.none()
    return qs.filter(organisation_id=user.organisation_id)


def case_list(*, user) -> QuerySet[Case]:
    qs = Case.objects.select_related("finding__visit", "organisation", "jurisdiction", "opened_by").prefetch_related(
        "events")
    return _authority_scope(qs, user)


def findings_visible_to_member(user) -> bool:
    return bool(user.is_authenticated and not user.is_authority and not visibility.sees_everything(user))


def latest_answers(visit: Visit) -> dict[str, ChecklistAnswer]:
    """Item code -> the latest answer to it (by the phone's time, then arrival)."""
    out: dict[str, ChecklistAnswer] = {}
    for answer in sorted(visit.answers.all(), key=lambda a: (a.answered_at, a.pk)):
        out[answer.item] = answer
    return out


def checklist_state(visit: Visit) -> list[dict]:
    """The visit's checklist: each applicable item with its latest answer (None: unanswered)."""
    answers = latest_answers(visit)
    kind = visit.organisation.kind if visit.organisation_id else None
    return [{"item": item.code, "title": item.title, "label": str(item.label),
             "answer": answers[item.code].answer if item.code in answers else None,
             "note": answers[item.code].note if item.code in answers else ""}
            for item in checklist.items_for(kind)]


def resolve_evidence(finding: Finding) -> list[dict]:
    """A finding's evidence refs with what they name (None while it has not arrived); a
    tick's client id that was folded into an earlier tick of the same thing names that tick."""
    models = {"tick": Tick, "answer": ChecklistAnswer, "photo": EvidencePhoto}
    out = []
    for ref in finding.evidence:
        row = models[ref["type"]].objects.filter(visit_id=finding.visit_id, client_id=ref["client_id"]).first()
        if row is None and ref["type"] == "tick":  # a scan folded into an earlier tick names that tick
            alias = TickAlias.objects.filter(visit_id=finding.visit_id, client_id=ref["client_id"]).first()
            row = alias.tick if alias is not None else None
        out.append({**ref, "id": row.pk if row else None, "received": row is not None})
    photos = EvidencePhoto.objects.filter(visit_id=finding.visit_id, finding_client_id=finding.client_id)
    known = {r["client_id"] for r in out if r["type"] == "photo"}
    out += [{"type": "photo", "client_id": str(p.client_id), "id": p.pk, "received": True}
            for p in photos if str(p.client_id) not in known]
    return out


@dataclass
class SweepSummary:
    sites_planned: int
    sites_visited: int
    findings_by_rule: dict[str, int]
    devices_sealed: int
    stock_seized: int  # counting units
    seizures: int
    rectifications_ordered: int
    cases_opened: int
    unregistered_devices: int
    missing_devices: int
    off_books_ticks: int


def sweep_summary(sweep: Sweep) -> SweepSummary:
    findings = list(Finding.objects.filter(visit__sweep=sweep).values_list("rule", flat=True))
    actions = FindingAction.objects.filter(finding__visit__sweep=sweep).select_related("seizure")
    ticks = Counter(Tick.objects.filter(visit__sweep=sweep).values_list("kind", flat=True))
    visits = Visit.objects.filter(sweep=sweep)
    return SweepSummary(
        sites_planned=sweep.targets.count(),
        sites_visited=visits.count(),
        findings_by_rule=dict(Counter(findings).most_common()),
        devices_sealed=sum(1 for a in actions if a.kind == FindingAction.Kind.SEAL_DEVICE),
        stock_seized=sum(a.seizure.quantity for a in actions if a.kind == FindingAction.Kind.SEIZE_STOCK),
        seizures=sum(1 for a in actions if a.kind == FindingAction.Kind.SEIZE_STOCK),
        rectifications_ordered=sum(1 for a in actions if a.kind == FindingAction.Kind.ORDER_RECTIFICATION),
        cases_opened=Case.objects.filter(finding__visit__sweep=sweep).count(),
        unregistered_devices=ticks[Tick.Kind.DEVICE_UNREGISTERED],
        missing_devices=ticks[Tick.Kind.DEVICE_MISSING],
        off_books_ticks=ticks[Tick.Kind.STOCK_OFF_BOOKS],
    )


def organisations_in(user, pk: int) -> Organisation | None:
    return visibility.scope(Organisation.objects.select_related("jurisdiction"), user, "").filter(pk=pk).first()


def users_in(user, pks, *, sweep=None) -> dict[int, User]:
    """The users among `pks` of organisations `user` may see (an office administrator: its
    jurisdiction's) and, for a sweep, the inspectors of the divisions above it (a city's drug
    or police inspectors join a county's sweep); the others are unknown to them, their
    usernames never shown."""
    qs = visibility.scope(User.objects.select_related("organisation__jurisdiction"), user, "organisation")
    found = {u.pk: u for u in qs.filter(pk__in=list(pks))}
    if sweep is not None and len(found) < len(set(pks)):
        above = [j.pk for j in sweep.jurisdiction.ancestors_and_self()[1:]]
        found |= {u.pk: u for u in User.objects.select_related("organisation__jurisdiction").filter(
            pk__in=list(pks), role=User.Role.INSPECTOR, organisation__jurisdiction_id__in=above)}
    return found
