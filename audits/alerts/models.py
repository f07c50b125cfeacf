"""Alerts: the governance office's targeting list.

One `Alert` per finding of a rule (see `audits.alerts.rules`): a type, a severity, the row
it is about (the *subject*: any model instance, stored as its label and id), the
organisation and jurisdiction it belongs to (for scoping), the documents that show it
(`evidence`: `[{"type": "app.model", "id": ..}]`) and the figures behind it.

Life: open -> acknowledged -> resolved (or open -> resolved); resolving needs a note; who
did what and when is on the row and on the audit trail.

At most one alert per (type, subject) is open or acknowledged at a time: a partial unique
index says so, `alerts.services.alert_raise` gives the normal path (it returns the alert
already open). The subject of a periodic finding is a record *and* a period: `occurrence`
("2026-10"; empty for everything else) tells the October and the November spike of one
institution apart. A rule does not raise again what it already raised, even when that
alert has since been resolved (see `audits.alerts.rules`).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class AlertType(models.TextChoices):
    SHIPMENT_REFUSED = "shipment_refused", _("refused shipment attempt")
    RECEIPT_SHORTAGE = "receipt_shortage", _("receipt shortage")
    RECEIPT_OVERAGE = "receipt_overage", _("receipt overage")
    COUNT_SUSPECTED_LOSS = "count_suspected_loss", _("count variance: suspected loss or theft")
    DISPENSING_SPIKE = "dispensing_spike", _("dispensing volume spike")
    DISPENSED_WITHOUT_RECEIPT = "dispensed_without_receipt", _("dispensed more than was ever received")
    EXPIRED_STOCK = "expired_stock", _("expired stock on hand")
    PACK_DISPENSED_TWICE = "pack_dispensed_twice", _("pack code dispensed twice")
    PACK_AT_TWO_HOLDERS = "pack_at_two_holders", _("pack code seen at two holders")
    UNREGISTERED_DEVICE_FOUND = "unregistered_device_found", _("unregistered device found")
    DEVICE_FILED_LATE = "device_filed_late", _("device filed late")
    LICENCE_EXPIRED = "licence_expired", _("licence expired")
    LICENCE_EXPIRING = "licence_expiring", _("licence expiring within 30 days")
    FILING_LATE = "filing_late", _("monthly filing late")
    CLOSING_LATE = "closing_late", _("monthly reconciliation (signed closing) late")
    CROSS_PARTY_MISMATCH = "cross_party_mismatch", _("cross-party mismatch")


class Severity(models.TextChoices):
    LOW = "low", pgettext_lazy("alert severity", "low")
    MEDIUM = "medium", pgettext_lazy("alert severity", "medium")
    HIGH = "high", pgettext_lazy("alert severity", "high")


class AlertStatus(models.TextChoices):
    OPEN = "open", pgettext_lazy("alert status", "open")
    ACKNOWLEDGED = "acknowledged", _("acknowledged")
    RESOLVED = "resolved", _("resolved")


class Alert(models.Model):
    Severity = Severity
    Status = AlertStatus

    type = models.CharField(_("type"), max_length=40, choices=AlertType.choices, db_index=True)
    severity = models.CharField(_("severity"), max_length=10, choices=Severity.choices, db_index=True)
    status = models.CharField(_("status"), max_length=12, choices=AlertStatus.choices, default=AlertStatus.OPEN,
                              db_index=True)
    subject_type = models.CharField(_("subject type (app.model)"), max_length=100)
    subject_id = models.BigIntegerField(_("subject id"))
    occurrence = models.CharField(_("occurrence (e.g. the month)"), max_length=40, blank=True)
    organisation = models.ForeignKey("backend.Organisation", verbose_name=_("organisation concerned"), null=True,
                                     blank=True, on_delete=models.PROTECT, related_name="+")
    jurisdiction_code = models.CharField(_("jurisdiction code"), max_length=9, db_index=True)
    other_jurisdiction_code = models.CharField(
        _("other party's jurisdiction code"), max_length=9, blank=True, db_index=True,
        help_text=_("a finding between parties in two divisions (a wholesaler and its customer in another "
                    "county): the other one's authorities see the alert too; its own office acts on it"))
    summary = models.CharField(pgettext_lazy("alert", "summary"), max_length=500, blank=True)
    evidence = models.JSONField(_("evidence (linked records)"), default=list, blank=True)
    figures = models.JSONField(_("figures"), default=dict, blank=True)
    raised_at = models.DateTimeField(_("raised at"), db_index=True)
    raised_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("raised by"), null=True, blank=True,
                                  on_delete=models.PROTECT, related_name="+")
    acknowledged_at = models.DateTimeField(_("acknowledged at"), null=True, blank=True)
    acknowledged_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("acknowledged by"), null=True,
                                        blank=True, on_delete=models.PROTECT, related_name="+")
    acknowledgement_note = models.CharField(_("acknowledgement note"), max_length=500, blank=True)
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)
    resolved_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("resolved by"), null=True,
                                    blank=True, on_delete=models.PROTECT, related_name="+")
    resolution_note = models.CharField(_("resolution note"), max_length=500, blank=True)

    class Meta:
        ordering = ["-raised_at", "-id"]
        verbose_name = _("alert")
        verbose_name_plural = _("alerts")
        constraints = [
            models.UniqueConstraint(fields=["type", "subject_type", "subject_id", "occurrence"],
                                    condition=~Q(status="resolved"), name="alert_one_open_per_subject"),
            models.CheckConstraint(condition=Q(status__in=AlertStatus.values), name="alert_status_known"),
            models.CheckConstraint(condition=Q(severity__in=Severity.values), name="alert_severity_known"),
            models.CheckConstraint(condition=~Q(status="resolved") | (Q(resolved_at__isnull=False)
                                                                      & ~Q(resolution_note="")),
                                   name="alert_resolution_has_note"),
        ]
        indexes = [
            models.Index(fields=["subject_type", "subject_id"], name="alert_subject_idx"),
            models.Index(fields=["jurisdiction_code", "status"], name="alert_scope_idx"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.type} {self.subject_type}:{self.subject_id} ({self.status})"

    def audit_organisation(self):
        return self.organisation

    def audit_jurisdiction_code(self) -> str:
        """The audit trail scopes an alert's entries as the alert itself is scoped."""
        return self.jurisdiction_code
