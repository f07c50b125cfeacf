"""Helpers for the alert tests."""

from __future__ import annotations

from audits.alerts.models import Alert


def alerts_of(type: str) -> list[Alert]:
    return list(Alert.objects.filter(type=type).order_by("id"))
