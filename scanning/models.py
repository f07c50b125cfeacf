"""What was scanned, by whom, and what the system made of it.

- `ScanLog`: one row per code scanned through `POST /api/scan/` (one per code found in a
  photo), written whatever the outcome: a lookup, an action done, an action refused by a
  rule, a code that could not be read, a code the system does not know. It is written in
  its own transaction after the action, so a rolled-back action still leaves its row.
  Append-only (a PostgreSQL trigger refuses UPDATE and DELETE, migration 0002).
- `ScanAnomaly`: what the office's alerts pick up from scans: a pack code dispensed a
  second time, a pack seen at a holder other than the one that last had it, a batch
  scanned at a holder whose books do not show it while others hold it. One row per
  sighting, pointing at the scan that saw it. Append-only too.

Neither row holds patient data: the dispense fields of a scanned dispense stay in
`inventory.Dispense` (the log points at it).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

MAX_RAW = 500


class ScanAction(models.TextChoices):
    LOOKUP = "lookup", _("look up")
    RECEIVE = "receive", _("receive (into a shipment)")
    DISPENSE = "dispense", _("dispense")
    COUNT = "count", _("count (into a count session)")
    INSPECT = "inspect", _("inspect (within a visit)")


class ScanLog(models.Model):
    class Outcome(models.TextChoices):
        OK = "ok", _("done")
        REFUSED = "refused", _("refused by a rule")
        INVALID = "invalid", _("code or request not valid")
        FAILED = "failed", _("failed (server error)")

    class Source(models.TextChoices):
        TEXT = "text", _("scanner text")
        IMAGE = "image", _("photo")

    user = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("scanned by"), null=True,
                             on_delete=models.PROTECT, related_name="+")
    organisation = models.ForeignKey("backend.Organisation", verbose_name=_("organisation of the scanner"),
                                     null=True, blank=True, on_delete=models.PROTECT, related_name="scan_logs")
    scanned_at = models.DateTimeField(_("scanned at"), default=timezone.now, db_index=True)
    source = models.CharField(_("source"), max_length=5, choices=Source.choices, default=Source.TEXT)
    raw = models.CharField(_("raw text"), max_length=MAX_RAW, blank=True)
    symbology = models.CharField(_("symbology"), max_length=30, blank=True)
    decoder = models.CharField(_("decoder"), max_length=20, blank=True)
    image_sha256 = models.CharField(_("photo (SHA-256)"), max_length=64, blank=True)
    payload = models.JSONField(_("parsed payload"), default=dict, blank=True)
    payload_kind = models.CharField(_("payload kind"), max_length=12, blank=True)
    action = models.CharField(_("action"), max_length=10, choices=ScanAction.choices, default=ScanAction.LOOKUP)
    context = models.JSONField(_("action context (no patient data)"), default=dict, blank=True)
    outcome = models.CharField(_("outcome"), max_length=8, choices=Outcome.choices, db_index=True)
    status_code = models.PositiveSmallIntegerField(_("HTTP status"))
    error_code = models.CharField(_("error code"), max_length=60, blank=True)
    entity = models.CharField(_("what the code named"), max_length=10, blank=True)
    unknown = models.BooleanField(_("unknown to the system"), default=False, db_index=True)
    flags = models.JSONField(_("flags"), default=list, blank=True)
    product = models.ForeignKey("inventory.DrugProduct", null=True, blank=True, on_delete=models.PROTECT,
                                related_name="+")
    batch = models.ForeignKey("inventory.Batch", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    pack_code = models.ForeignKey("inventory.PackCode", null=True, blank=True, on_delete=models.PROTECT,
                                  related_name="scans")
    device = models.ForeignKey("devices.Device", null=True, blank=True, on_delete=models.PROTECT,
                               related_name="scans")
    shipment = models.ForeignKey("inventory.Shipment", null=True, blank=True, on_delete=models.PROTECT,
                                 related_name="+")
    dispense = models.ForeignKey("inventory.Dispense", null=True, blank=True, on_delete=models.PROTECT,
                                 related_name="+")

    class Meta:
        ordering = ["-scanned_at", "-id"]
        verbose_name = _("scan")
        verbose_name_plural = _("scan log")
        indexes = [
            models.Index(fields=["organisation", "scanned_at"], name="scanlog_org_time_idx"),
            models.Index(fields=["pack_code", "scanned_at"], name="scanlog_pack_time_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(outcome="ok") | ~Q(error_code=""), name="scanlog_failure_has_code"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.action} {self.raw[:40]!r} → {self.outcome}"

    def audit_organisation(self):
        return self.organisation


class ScanAnomaly(models.Model):
    """A sighting the alerts work picks up (query by `kind`, `holder`, `detected_at`)."""

    class Kind(models.TextChoices):
        PACK_DISPENSED_TWICE = "pack_dispensed_twice", _("pack code dispensed a second time")
        PACK_AT_TWO_HOLDERS = "pack_at_two_holders", _("pack seen at a second holder")
        BATCH_OFF_BOOKS = "batch_off_books", _("batch scanned where the books do not show it, held elsewhere")

    kind = models.CharField(_("kind"), max_length=24, choices=Kind.choices, db_index=True)
    scan = models.ForeignKey(ScanLog, verbose_name=_("scan"), on_delete=models.PROTECT, related_name="anomalies")
    detected_at = models.DateTimeField(_("detected at"), default=timezone.now, db_index=True)
    holder = models.ForeignKey("backend.Organisation", verbose_name=_("where it was scanned"), null=True,
                               blank=True, on_delete=models.PROTECT, related_name="+")
    other_holder = models.ForeignKey("backend.Organisation", verbose_name=_("where it was seen before"),
                                     null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    batch = models.ForeignKey("inventory.Batch", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    pack_code = models.ForeignKey("inventory.PackCode", null=True, blank=True, on_delete=models.PROTECT,
                                  related_name="anomalies")
    dispenses = models.JSONField(_("dispense ids"), default=list, blank=True)
    details = models.JSONField(_("details"), default=dict, blank=True)

    class Meta:
        ordering = ["-detected_at", "-id"]
        verbose_name = _("scan anomaly")
        verbose_name_plural = _("scan anomalies")
        constraints = [
            models.CheckConstraint(condition=Q(batch__isnull=False) | Q(pack_code__isnull=False),
                                   name="scananomaly_names_stock"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} #{self.scan_id}"

    def audit_organisation(self):
        return self.holder
