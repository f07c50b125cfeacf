"""Permission-matrix rows for the sweep endpoints (see tests/backend/permission_matrix.py).

Places: "own" = the user's organisation, "county" = the retail pharmacy of 衡阳县 (in a
township), "outside" = the hospital of 长沙县. Each record is a sweep (visit, finding, case)
of the governance office of the owner's county, at the owner's site, made through the
services.

Who (audits/sweeps/services.py, selectors.py): the office administrators of the
jurisdiction plan sweeps (teams, targets, finish); its inspectors open and work visits,
record findings and act on them (seal, seize, order rectification); inspectors and office
administrators open and follow up cases. Sweeps, visits and cases are seen by the
jurisdiction's authorities only; findings also by the inspected organisation itself (its
own, never another site's).
"""

from __future__ import annotations

import datetime as dt
import itertools

from django.utils import timezone

from audits.sweeps import services
from audits.sweeps.models import FindingAction
from tests.backend.permission_matrix import SCOPED_READ, Endpoint, Extra, table
from tests.devices.permission_rows import device_record
from tests.factories import UserFactory
from tests.inventory.permission_rows import give_stock

_n = itertools.count(1)

ADMIN = "403 sweep_office_admin_required"
INSPECTOR = "403 sweep_inspector_required"
INVISIBLE = "400 validation_error"  # a target, visit or finding the user cannot see

AUTHORITY_READ = table(
    office_admin=(200, 200, 404),
    inspector=(200, 200, 404),
    pharmacist=(404, 404, 404),
    physician=(404, 404, 404),
    wholesaler_clerk=(404, 404, 404),
    anonymous=(401, 401, 401),
)
ADMIN_ACTS = table(
    office_admin=(200, 200, 404),
    inspector=(ADMIN, ADMIN, 404),
    pharmacist=(404, 404, 404),
    physician=(404, 404, 404),
    wholesaler_clerk=(404, 404, 404),
    anonymous=(401, 401, 401),
)
ADMIN_ADDS = {role: tuple(201 if o == 200 else o for o in row) for role, row in ADMIN_ACTS.items()}


def _inspector_acts(ok) -> dict:
    return table(
        office_admin=(INSPECTOR, INSPECTOR, 404),
        inspector=(ok, ok, 404),
        pharmacist=(404, 404, 404),
        physician=(404, 404, 404),
        wholesaler_clerk=(404, 404, 404),
        anonymous=(401, 401, 401),
    )


# Findings are visible to the inspected organisation, which may not act on them.
FINDING_ACTS = table(
    office_admin=(INSPECTOR, INSPECTOR, 404),
    inspector=(201, 201, 404),
    pharmacist=(INSPECTOR, 404, 404),
    physician=(INSPECTOR, 404, 404),
    wholesaler_clerk=(INSPECTOR, 404, 404),
    anonymous=(401, 401, 401),
)


def _verify_payload(finding) -> dict:
    """A rectification order on the finding, re-inspected."""
    order = FindingAction.objects.create(finding=finding, kind="order_rectification", requirement="张贴警示标志",
                                         deadline=timezone.localdate(), occurred_at=timezone.now())
    return {"order": order.pk, "note": "复查：已张贴"}


def _office(county, owner):
    """(admin, inspector) of the governance office whose jurisdiction holds `owner`."""
    if owner.jurisdiction.code.startswith(county.jurisdiction.code):
        return county.office_admin, county.inspector
    return county.other.office_admin, county.other.inspector


def _sweep(county, owner):
    admin, _inspector = _office(county, owner)
    today = timezone.localdate()
    sweep = services.sweep_plan(actor=admin, name=f"矩阵专项{next(_n)}", jurisdiction=owner.jurisdiction,
                                period_start=today - dt.timedelta(days=1), period_end=today + dt.timedelta(days=20),
                                departments=["health", "drug_administration"])
    services.target_add(actor=admin, sweep=sweep, organisation=owner)
    return sweep


def _target(county, owner):
    return _sweep(county, owner).targets.get()


def _visit(county, owner):
    _admin, inspector = _office(county, owner)
    return services.visit_open(actor=inspector, target=_target(county, owner))


def _finding(county, owner):
    _admin, inspector = _office(county, owner)
    visit = _visit(county, owner)
    return services.finding_record(actor=inspector, visit=visit, client_id=f"00000000-0000-4000-8000-{next(_n):012d}",
                                   rule="warning_signs", severity="low", description="未张贴警示标志")


def _case(county, owner):
    _admin, inspector = _office(county, owner)
    return services.case_open(actor=inspector, finding=_finding(county, owner))


def _sweep_payload(county, owner):
    today = timezone.localdate()
    return {"name": "新专项", "jurisdiction": owner.jurisdiction.pk, "period_start": today.isoformat(),
            "period_end": (today + dt.timedelta(days=10)).isoformat(), "departments": ["health", "police"]}


def _team_payload(sweep):
    members = [UserFactory(role="inspector", organisation=sweep.office, department=d).pk
               for d in ("health", "drug_administration")]
    return {"name": f"组{next(_n)}", "members": members}


def _seize_payload(finding):
    return {"batch": give_stock(finding.organisation).batch_id, "quantity": 2}


ENDPOINTS = {
    "sweeps": Endpoint(
        record=_sweep,
        read=AUTHORITY_READ,
        create=(_sweep_payload, table(
            office_admin=(201, 201, ADMIN),
            inspector=(ADMIN, ADMIN, ADMIN),
            pharmacist=(ADMIN, ADMIN, ADMIN),
            physician=(ADMIN, ADMIN, ADMIN),
            wholesaler_clerk=(ADMIN, ADMIN, ADMIN),
            anonymous=(401, 401, 401),
        )),
        update=None,
        extra={
            "generate-targets": Extra("post", lambda sweep: {}, ADMIN_ACTS),
            "targets": Extra("post", lambda sweep: {"site_name": "无证B超点", "jurisdiction": sweep.jurisdiction_id},
                             ADMIN_ADDS),
            "teams": Extra("post", _team_payload, ADMIN_ADDS),
            "assign": Extra("post", lambda sweep: {"target": sweep.targets.get().pk, "team": None}, ADMIN_ACTS),
            "finish": Extra("post", lambda sweep: {}, ADMIN_ACTS),
        },
    ),
    "visits": Endpoint(
        record=_visit,
        read=AUTHORITY_READ,
        create=(lambda county, owner: {"target": _target(county, owner).pk}, table(
            office_admin=(INSPECTOR, INSPECTOR, INVISIBLE),
            inspector=(201, 201, INVISIBLE),
            pharmacist=(INVISIBLE, INVISIBLE, INVISIBLE),
            physician=(INVISIBLE, INVISIBLE, INVISIBLE),
            wholesaler_clerk=(INVISIBLE, INVISIBLE, INVISIBLE),
            anonymous=(401, 401, 401),
        )),
        update=None,
        extra={
            "sync": Extra("post", lambda visit: {"items": [{"type": "answer", "client_id": str(visit.pk).rjust(
                8, "0") + "-0000-4000-8000-000000000001", "item": "warning_signs", "answer": "yes"}]},
                _inspector_acts(200)),
            "count": Extra("post", lambda visit: {}, _inspector_acts(201)),
            "close": Extra("post", lambda visit: {}, _inspector_acts(200)),
        },
    ),
    "findings": Endpoint(
        record=_finding,
        read=SCOPED_READ,
        create=(lambda county, owner: {"visit": _visit(county, owner).pk, "rule": "warning_signs",
                                       "severity": "low", "description": "未张贴警示标志"}, table(
            office_admin=(INSPECTOR, INSPECTOR, INVISIBLE),
            inspector=(201, 201, INVISIBLE),
            pharmacist=(INVISIBLE, INVISIBLE, INVISIBLE),
            physician=(INVISIBLE, INVISIBLE, INVISIBLE),
            wholesaler_clerk=(INVISIBLE, INVISIBLE, INVISIBLE),
            anonymous=(401, 401, 401),
        )),
        update=None,
        extra={
            "seal": Extra("post", lambda finding: {"device": device_record(None, finding.organisation).pk},
                          FINDING_ACTS),
            "seize": Extra("post", _seize_payload, FINDING_ACTS),
            "rectification": Extra("post", lambda finding: {
                "requirement": "七日内张贴警示标志",
                "deadline": (timezone.localdate() + dt.timedelta(days=7)).isoformat()}, FINDING_ACTS),
            "verify-rectification": Extra("post", _verify_payload, FINDING_ACTS),
        },
    ),
    "cases": Endpoint(
        record=_case,
        read=AUTHORITY_READ,
        create=(lambda county, owner: {"finding": _finding(county, owner).pk}, table(
            office_admin=(201, 201, INVISIBLE),
            inspector=(201, 201, INVISIBLE),
            pharmacist=(INSPECTOR, INVISIBLE, INVISIBLE),
            physician=(INSPECTOR, INVISIBLE, INVISIBLE),
            wholesaler_clerk=(INSPECTOR, INVISIBLE, INVISIBLE),
            anonymous=(401, 401, 401),
        )),
        update=None,
        extra={
            "follow-up": Extra("post", lambda case: {"status": "investigating", "note": "调查取证"}, table(
                office_admin=(200, 200, 404),
                inspector=(200, 200, 404),
                pharmacist=(404, 404, 404),
                physician=(404, 404, 404),
                wholesaler_clerk=(404, 404, 404),
                anonymous=(401, 401, 401),
            )),
        },
    ),
}
