"""Reads of the alerts.

Who sees alerts: the office administrators and the inspectors of a jurisdiction see the
alerts of it and everything below (superusers see all). Nobody else sees any, and that
includes the organisation an alert is about.

Why an inspected organisation does not see its own alerts: an alert is the office's
targeting tool, not a notice to the inspected. A clinic that could read "dispensing spike
against your own baseline" or "pack code dispensed twice" would know which of its records
drew attention and could tidy them before the visit (DOMAIN.md: falsifying, hiding or
altering records is itself what the office hunts). What an organisation must know about
itself it already sees through its own records: its refused shipments, its receipt
discrepancies, its count variances, its licences and filing status. So for members the
list is empty and a detail is 404 (hidden, as any record outside one's scope), never a 403
that would confirm an alert exists.
"""

from __future__ import annotations

from django.db.models import Q, QuerySet

from audits.alerts.models import Alert
from backend import visibility


def concerning(prefix: str) -> Q:
    """Alerts of the division with this code prefix (and below), and those whose other party
    is there (`other_jurisdiction_code`)."""
    return Q(jurisdiction_code__startswith=prefix) | Q(other_jurisdiction_code__startswith=prefix)


def alert_list(*, user) -> QuerySet[Alert]:
    qs = Alert.objects.select_related("organisation", "raised_by", "acknowledged_by", "resolved_by")
    if not getattr(user, "is_authenticated", False):
        return qs.none()
    if visibility.sees_everything(user):
        return qs
    if not user.is_authority or not user.jurisdiction_prefix:
        return qs.none()
    return qs.filter(concerning(user.jurisdiction_prefix))
