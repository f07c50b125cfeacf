"""Helpers for the sweep tests.

    sweep = plan(county)                              # through the service, period around today
    team = team_of(county, sweep)                     # county.inspector (health) + a drug inspector
    visit = open_visit(county, county.hospital)       # a sweep, a target and an open visit
    item("answer", item="warning_signs", answer="no") # a sync item with a fresh client id
"""

from __future__ import annotations

import datetime as dt
import uuid

from django.utils import timezone

from audits.sweeps import services
from audits.sweeps.models import Sweep, Visit
from tests.factories import UserFactory


def drug_inspector(county):
    return UserFactory(role="inspector", organisation=county.authority, department="drug_administration")


def plan(county, *, jurisdiction=None, name="两非专项整治行动", days=(-1, 30)) -> Sweep:
    today = timezone.localdate()
    return services.sweep_plan(actor=county.office_admin, name=name, jurisdiction=jurisdiction or county.jurisdiction,
                               period_start=today + dt.timedelta(days=days[0]),
                               period_end=today + dt.timedelta(days=days[1]),
                               departments=["health", "drug_administration", "family_planning"])


def team_of(county, sweep, name="第一组", *members):
    members = members or (county.inspector, drug_inspector(county))
    return services.team_create(actor=county.office_admin, sweep=sweep, name=name, members=list(members))


def open_visit(county, organisation=None, *, sweep=None, site_name="", jurisdiction=None) -> Visit:
    sweep = sweep or plan(county)
    target = services.target_add(actor=county.office_admin, sweep=sweep, organisation=organisation,
                                 site_name=site_name, jurisdiction=jurisdiction)
    return services.visit_open(actor=county.inspector, target=target)


def item(kind: str, client_id=None, **fields) -> dict:
    return {"type": kind, "client_id": str(client_id or uuid.uuid4()), **fields}
