"""Reads of the device registry: the state derived from events, lists for inspectors."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import QuerySet
from django.utils import timezone

from backend import visibility
from inventory.devices.models import Device, DeviceEvent, DeviceExam, DeviceRefusal, DeviceStatus

Kind = DeviceEvent.Kind


@dataclass(frozen=True)
class DeviceState:
    status: str
    holder_id: int
    custodian_id: int
    operator_ids: frozenset[int]
    duty_started_on: dt.date
    days_late: int
    filed_at: dt.datetime
    filed_by_id: int | None


def replay(events: Iterable[DeviceEvent]) -> DeviceState | None:
    """Fold a device's events (in order) into its state; None before it was filed."""
    state: dict | None = None
    for event in events:
        if event.kind in (Kind.FILED, Kind.TRANSFERRED):
            state = {
                "status": state["status"] if state else DeviceStatus.ACTIVE,
                "holder_id": event.holder_id,
                "custodian_id": event.custodian_id,
                "operator_ids": frozenset(event.operators),
                "duty_started_on": event.duty_started_on,
                "days_late": event.days_late,
                "filed_at": event.occurred_at,
                "filed_by_id": event.actor_id,
            }
        elif state is None:
            continue  # nothing happens to a device before it is filed
        elif event.kind == Kind.SEALED:
            state["status"] = DeviceStatus.SEALED
        elif event.kind == Kind.UNSEALED:
            state["status"] = DeviceStatus.ACTIVE
        elif event.kind == Kind.SCRAPPED:
            state["status"] = DeviceStatus.SCRAPPED
        elif event.kind == Kind.OPERATOR_ADDED:
            state["operator_ids"] = state["operator_ids"] | {event.person_id}
        elif event.kind == Kind.OPERATOR_REMOVED:
            state["operator_ids"] = state["operator_ids"] - {event.person_id}
    return DeviceState(**state) if state is not None else None


def device_state(device: Device, *, at: dt.datetime | None = None) -> DeviceState | None:
    """The device's state from its events, now or as it was at `at`."""
    events = DeviceEvent.objects.filter(device=device).order_by("occurred_at", "id")
    if at is not None:
        events = events.filter(occurred_at__lte=at)
    return replay(events)


def exam_state(device: Device, at: dt.datetime) -> DeviceState | None:
    """The state an exam performed at `at` is judged by: the replay at `at`, except that a
    transfer handed over on or before that day but recorded after `at` already counts (its
    holder, custodian and operators): the exam was done at the new holder."""
    state = device_state(device, at=at)
    if state is None:
        return None
    handed_over = (DeviceEvent.objects.filter(device=device, kind=Kind.TRANSFERRED, occurred_at__gt=at,
                                              duty_started_on__lte=timezone.localdate(at))
                   .order_by("duty_started_on", "occurred_at", "id").last())
    if handed_over is None:
        return state
    return dataclasses.replace(state, holder_id=handed_over.holder_id, custodian_id=handed_over.custodian_id,
                               operator_ids=frozenset(handed_over.operators),
                               duty_started_on=handed_over.duty_started_on, days_late=handed_over.days_late)


def devices_for_exams(*, user) -> QuerySet[Device]:
    """Devices the user may name in an exam: those it sees, and for a member also those its
    organisation held before (an exam done before a transfer is still its to record)."""
    seen = device_list(user=user)
    if user.is_authenticated and not user.is_authority and user.organisation_id is not None:
        earlier = Device.objects.filter(events__holder_id=user.organisation_id).values("pk")
        return (seen | Device.objects.filter(pk__in=earlier)).distinct()
    return seen


def cached_state(device: Device) -> DeviceState:
    """What the cache columns on Device say (must equal `device_state(device)`)."""
    return DeviceState(
        status=device.status, holder_id=device.holder_id, custodian_id=device.custodian_id,
        operator_ids=frozenset(device.operators.values_list("pk", flat=True)),
        duty_started_on=device.duty_started_on, days_late=device.days_late, filed_at=device.filed_at,
        filed_by_id=device.filed_by_id,
    )


def device_list(*, user) -> QuerySet[Device]:
    qs = Device.objects.select_related("holder__jurisdiction", "custodian", "filed_by").prefetch_related(
        "operators", "images",
    )
    return visibility.scope(qs, user, "holder")


def device_events(*, device: Device) -> QuerySet[DeviceEvent]:
    return device.events.select_related("actor", "holder", "custodian", "person").order_by("occurred_at", "id")


def late_filings(*, user) -> QuerySet[DeviceEvent]:
    """Every filing (first filing or after a transfer) made more than 7 days after the date
    the duty started, in what the user may see: a late filing is itself a finding."""
    qs = DeviceEvent.objects.filter(kind__in=[Kind.FILED, Kind.TRANSFERRED], days_late__gt=0).select_related(
        "device", "holder__jurisdiction", "actor",
    )
    return visibility.scope(qs, user, "holder").order_by("-days_late", "-occurred_at")


def exam_list(*, user) -> QuerySet[DeviceExam]:
    qs = DeviceExam.objects.select_related("device", "operator", "second_operator", "holder__jurisdiction")
    return visibility.scope(qs, user, "holder")


def refusal_list(*, user) -> QuerySet[DeviceRefusal]:
    """Refused acts: authorities see their jurisdiction's, members their own organisation's;
    a refused transfer also by the organisation it was to go to and that one's authorities."""
    qs = DeviceRefusal.objects.select_related("holder", "device", "actor", "to_holder")
    return visibility.scope(qs, user, "holder", "to_holder")
