"""The audit trail: an append-only, hash-chained record of every write.

Each entry's hash covers its columns (actor, action, object, time, the previous entry's
hash...) and its body (the before/after values as canonical JSON, stored exactly as hashed):
see audits.chain. Editing, deleting, inserting or reordering entries breaks the chain and
`verify_audit_trail` names the first bad entry.
On PostgreSQL a trigger refuses UPDATE and DELETE on the table (migration 0002).
"""

import json
from functools import cached_property

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

GENESIS_HASH = "0" * 64


class AuditEntry(models.Model):
    class Action(models.TextChoices):
        CREATE = "create", _("create")
        UPDATE = "update", _("update")
        DELETE = "delete", _("delete")
        TRANSITION = "transition", _("state transition")
        SENSITIVE_READ = "sensitive_read", _("read of sensitive data")

    seq = models.BigIntegerField(_("position in the chain"), unique=True)
    created_at = models.DateTimeField(_("time"))
    actor_id = models.BigIntegerField(_("actor id"), null=True, blank=True)
    actor_username = models.CharField(_("actor"), max_length=150, blank=True)
    organisation_id = models.BigIntegerField(_("acting organisation id"), null=True, blank=True)
    subject_organisation_id = models.BigIntegerField(
        _("organisation the record belongs to"), null=True, blank=True, db_index=True
    )
    jurisdiction_code = models.CharField(_("jurisdiction code"), max_length=9, blank=True, db_index=True)
    ip = models.CharField(_("IP address"), max_length=45, blank=True)
    action = models.CharField(_("action"), max_length=20, choices=Action.choices)
    transition = models.CharField(_("transition"), max_length=60, blank=True)
    object_type = models.CharField(_("object type"), max_length=100)
    object_id = models.CharField(_("object id"), max_length=64)
    body = models.TextField(_("before and after (canonical JSON)"))
    prev_hash = models.CharField(_("previous hash"), max_length=64)
    hash = models.CharField(_("hash"), max_length=64, unique=True)

    class Meta:
        ordering = ["seq"]
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit trail")
        constraints = [
            # One successor per entry: concurrent writers cannot fork the chain.
            models.UniqueConstraint(fields=["prev_hash"], name="audit_prev_hash_unique"),
            models.CheckConstraint(condition=Q(seq__gte=1), name="audit_seq_positive"),
        ]
        indexes = [models.Index(fields=["object_type", "object_id"], name="audit_object_idx")]

    def __str__(self) -> str:
        return f"#{self.seq} {self.action} {self.object_type}:{self.object_id}"

    @cached_property
    def content(self) -> dict:
        return json.loads(self.body)

    @property
    def before(self):
        return self.content.get("before")

    @property
    def after(self):
        return self.content.get("after")


# --- reconciliation and monthly filings (issue 6) ----------------------------------------
# These models only point at the registry and the drug chain; stock changes go through
# `inventory.services`, never through these tables.

from django.conf import settings  # noqa: E402


class CountSession(models.Model):
    """A physical count of one holder's stock (账物相符): opened, lines entered or scanned,
    closed against the book balance at that moment, approved into adjustments."""

    class Status(models.TextChoices):
        OPEN = "open", pgettext_lazy("count status", "open")
        CLOSED = "closed", _("closed (awaiting approval)")
        APPROVED = "approved", _("approved")

    holder = models.ForeignKey("backend.Organisation", verbose_name=_("holder"), on_delete=models.PROTECT,
                               related_name="count_sessions")
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.OPEN,
                              db_index=True)
    note = models.CharField(_("note"), max_length=300, blank=True)
    opened_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("opened by"), on_delete=models.PROTECT,
                                  related_name="+")
    opened_at = models.DateTimeField(_("opened at"))
    closed_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("closed by"), null=True, blank=True,
                                  on_delete=models.PROTECT, related_name="+")
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    approved_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("approved by"), null=True,
                                    blank=True, on_delete=models.PROTECT, related_name="+")
    approved_at = models.DateTimeField(_("approved at"), null=True, blank=True)

    class Meta:
        ordering = ["-opened_at", "-id"]
        verbose_name = _("count session")
        verbose_name_plural = _("count sessions")

    def __str__(self) -> str:
        return f"#{self.pk} {self.holder} ({self.status})"

    def audit_organisation(self):
        return self.holder


class CountLine(models.Model):
    """One batch counted in a session. `book_quantity` and `variance` are set at close."""

    class Reason(models.TextChoices):
        BREAKAGE = "breakage", _("breakage")
        SUSPECTED_LOSS = "suspected_loss", _("suspected loss or theft")
        ENTRY_ERROR = "entry_error", _("entry error")
        OTHER = "other", _("other")

    session = models.ForeignKey(CountSession, verbose_name=_("count session"), on_delete=models.PROTECT,
                                related_name="lines")
    batch = models.ForeignKey("inventory.Batch", verbose_name=_("batch"), on_delete=models.PROTECT,
                              related_name="+")
    counted = models.PositiveIntegerField(_("counted"))
    scanned_codes = models.JSONField(_("pack codes scanned"), default=list, blank=True)
    book_quantity = models.IntegerField(_("on the books at close"), null=True, blank=True)
    variance = models.IntegerField(_("variance (counted - books)"), null=True, blank=True)
    reason = models.CharField(_("reason for the variance"), max_length=20, choices=Reason.choices, blank=True)
    reason_note = models.CharField(_("explanation"), max_length=300, blank=True)
    # Read by the office's alerts: a suspected loss or theft of termination drugs.
    suspected_loss = models.BooleanField(_("suspected loss or theft"), default=False, db_index=True)
    stock_count = models.ForeignKey("inventory.StockCount", verbose_name=_("adjustment (stock count)"), null=True,
                                    blank=True, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["session_id", "id"]
        verbose_name = _("count line")
        verbose_name_plural = _("count lines")
        constraints = [
            models.UniqueConstraint(fields=["session", "batch"], name="countline_unique_batch"),
            models.CheckConstraint(condition=Q(variance__isnull=True) | Q(variance=0) | ~Q(reason=""),
                                   name="countline_variance_has_reason"),
        ]

    def __str__(self) -> str:
        return f"{self.batch}: {self.counted}"

    def audit_organisation(self):
        return self.session.holder


class SignedClosing(models.Model):
    """A holder's monthly closing, signed by its custodian. Append-only: never updated or
    deleted (PostgreSQL trigger); a later correction lands in the next period."""

    holder = models.ForeignKey("backend.Organisation", verbose_name=_("holder"), on_delete=models.PROTECT,
                               related_name="signed_closings")
    month = models.DateField(_("month (first day)"))
    signed_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("signed by (custodian)"),
                                  on_delete=models.PROTECT, related_name="+")
    signed_at = models.DateTimeField(_("signed at"))
    # When the figures were computed and stored, which a back-dated `signed_at` is not: entries
    # recorded after this moment are the next month's late entries. Null for closings stored
    # before the field existed (their `signed_at` stands in).
    recorded_at = models.DateTimeField(_("figures recorded at"), null=True, blank=True)
    statement = models.CharField(_("custodian's statement"), max_length=300, blank=True)
    previous = models.ForeignKey("self", verbose_name=_("previous signed period"), null=True, blank=True,
                                 on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["-month", "holder_id"]
        verbose_name = pgettext_lazy("model name", "signed monthly closing")
        verbose_name_plural = _("signed monthly closings")
        constraints = [
            models.UniqueConstraint(fields=["holder", "month"], name="signedclosing_unique_month"),
            models.CheckConstraint(condition=Q(month__day=1), name="signedclosing_month_first_day"),
        ]

    def __str__(self) -> str:
        return f"{self.holder} {self.month:%Y-%m}"

    def audit_organisation(self):
        return self.holder

    @staticmethod
    def figures_at():
        """An expression: when a closing's figures were computed (`recorded_at`, or
        `signed_at` for closings stored before that field)."""
        from django.db.models.functions import Coalesce

        return Coalesce("recorded_at", "signed_at")


class SignedClosingLine(models.Model):
    """One batch of a signed closing. Quantities are signed sums of the month's movements
    (outflows negative); opening + every column = closing (a CHECK constraint says so).
    `prior_period` holds entries dated in an earlier, already signed month but recorded after
    it was signed: the correction lands here, with the movements named in `references`."""

    closing = models.ForeignKey(SignedClosing, verbose_name=_("closing"), on_delete=models.PROTECT,
                                related_name="lines")
    holder = models.ForeignKey("backend.Organisation", verbose_name=_("holder"), on_delete=models.PROTECT,
                               related_name="+")
    month = models.DateField(_("month (first day)"))
    batch = models.ForeignKey("inventory.Batch", verbose_name=_("batch"), on_delete=models.PROTECT,
                              related_name="+")
    opening = models.IntegerField(_("opening balance"))
    received = models.IntegerField(_("received (intakes and receipts)"), default=0)
    returned = models.IntegerField(_("rejected shipments back in stock"), default=0)
    dispatched = models.IntegerField(_("dispatched (sales or returns)"), default=0)
    dispensed = models.IntegerField(_("dispensed"), default=0)
    disposed = models.IntegerField(_("disposed"), default=0)
    seized = models.IntegerField(_("seized"), default=0)
    adjusted = models.IntegerField(_("count adjustments"), default=0)
    corrected = models.IntegerField(_("corrections"), default=0)
    prior_period = models.IntegerField(_("late entries for signed periods"), default=0)
    closing_balance = models.IntegerField(_("closing book balance"))
    in_transit = models.IntegerField(_("in transit at month end"), default=0)
    last_count_at = models.DateTimeField(_("last count"), null=True, blank=True)
    last_counted = models.IntegerField(_("last counted quantity"), null=True, blank=True)
    last_count_variance = models.IntegerField(_("last count variance"), null=True, blank=True)
    references = models.JSONField(_("references (movement ids)"), default=dict, blank=True)

    class Meta:
        ordering = ["closing_id", "batch_id"]
        verbose_name = _("signed closing line")
        verbose_name_plural = _("signed closing lines")
        constraints = [
            models.UniqueConstraint(fields=["holder", "month", "batch"], name="signedclosingline_unique"),
            models.CheckConstraint(
                condition=Q(closing_balance=models.F("opening") + models.F("received") + models.F("returned")
                            + models.F("dispatched") + models.F("dispensed") + models.F("disposed")
                            + models.F("seized") + models.F("adjusted") + models.F("corrected")
                            + models.F("prior_period")),
                name="signedclosingline_adds_up",
            ),
        ]
        indexes = [models.Index(fields=["month", "holder"], name="closingline_month_holder_idx")]

    def __str__(self) -> str:
        return f"{self.holder_id} {self.month:%Y-%m} {self.batch_id}: {self.closing_balance}"


class SalesFiling(models.Model):
    """A wholesaler's monthly sales summary (企业终止妊娠药品销售情况汇总表), as submitted.
    Append-only: an amendment is a new version with a reason."""

    class Source(models.TextChoices):
        JSON = "json", _("JSON")
        CSV = "csv", _("CSV upload")
        XLSX = "xlsx", _("XLSX upload")

    wholesaler = models.ForeignKey("backend.Organisation", verbose_name=_("wholesaler"), on_delete=models.PROTECT,
                                   related_name="sales_filings")
    month = models.DateField(_("month (first day)"))
    version = models.PositiveSmallIntegerField(_("version"), default=1)
    supersedes = models.OneToOneField("self", verbose_name=_("amends"), null=True, blank=True,
                                      on_delete=models.PROTECT, related_name="amended_by")
    amendment_reason = models.CharField(_("reason for the amendment"), max_length=300, blank=True)
    source = models.CharField(_("source"), max_length=4, choices=Source.choices)
    file_sha256 = models.CharField(_("SHA-256 of the uploaded file"), max_length=64, blank=True)
    row_count = models.PositiveIntegerField(_("rows"))
    total_quantity = models.BigIntegerField(_("total quantity"))
    due_on = models.DateField(_("due on"))
    late = models.BooleanField(_("filed late"), db_index=True)
    submitted_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("submitted by"),
                                     on_delete=models.PROTECT, related_name="+")
    submitted_at = models.DateTimeField(_("submitted at"))

    class Meta:
        ordering = ["-month", "wholesaler_id", "-version"]
        verbose_name = _("sales filing")
        verbose_name_plural = _("sales filings")
        constraints = [
            models.UniqueConstraint(fields=["wholesaler", "month", "version"], name="salesfiling_unique_version"),
            models.CheckConstraint(condition=Q(month__day=1), name="salesfiling_month_first_day"),
            models.CheckConstraint(condition=Q(version=1) | (Q(supersedes__isnull=False) & ~Q(amendment_reason="")),
                                   name="salesfiling_amendment_has_reason"),
        ]

    def __str__(self) -> str:
        return f"{self.wholesaler} {self.month:%Y-%m} v{self.version}"

    def audit_organisation(self):
        return self.wholesaler


class SalesFilingLine(models.Model):
    filing = models.ForeignKey(SalesFiling, verbose_name=pgettext_lazy("sales filing", "filing"), on_delete=models.PROTECT, related_name="lines")
    line_number = models.PositiveIntegerField(_("line number"))
    sold_on = models.DateField(_("date"))
    customer = models.ForeignKey("backend.Organisation", verbose_name=_("customer"), on_delete=models.PROTECT,
                                 related_name="+")
    batch = models.ForeignKey("inventory.Batch", verbose_name=_("batch"), on_delete=models.PROTECT, related_name="+")
    quantity = models.PositiveIntegerField(_("quantity"))
    invoice_number = models.CharField(_("invoice number"), max_length=60)

    class Meta:
        ordering = ["filing_id", "line_number"]
        verbose_name = _("sales filing line")
        verbose_name_plural = _("sales filing lines")
        constraints = [
            models.UniqueConstraint(fields=["filing", "line_number"], name="salesfilingline_unique_number"),
            models.CheckConstraint(condition=Q(quantity__gte=1), name="salesfilingline_quantity_positive"),
        ]
        indexes = [models.Index(fields=["filing", "customer", "batch"], name="filingline_cust_batch_idx")]

    def __str__(self) -> str:
        return f"{self.filing_id}:{self.line_number} {self.batch_id} × {self.quantity}"


class Discrepancy(models.Model):
    """What a reconciliation found, kept for the office's alerts. One row per finding
    (month + kind + parties + batch); seen again it is refreshed, gone it is resolved, found
    again after that it is reopened as its next `occurrence`."""

    class Kind(models.TextChoices):
        QUANTITY_MISMATCH = "quantity_mismatch", _("filed and shipped quantities differ")
        FILED_NOT_SHIPPED = "filed_not_shipped", _("filed but not shipped")
        SHIPPED_NOT_FILED = "shipped_not_filed", _("shipped but not filed")
        SHIPPED_NOT_RECEIVED = "shipped_not_received", _("shipped but not received")
        INSTITUTION_UNBALANCED = "institution_unbalanced", _("received ≠ used + disposed + on hand")
        COUNT_VARIANCE = "count_variance", _("count differs from the books")

    month = models.DateField(_("month (first day)"), db_index=True)
    kind = models.CharField(_("kind"), max_length=30, choices=Kind.choices, db_index=True)
    key = models.CharField(_("identity"), max_length=120)
    jurisdiction_code = models.CharField(_("jurisdiction code"), max_length=9, db_index=True)
    wholesaler = models.ForeignKey("backend.Organisation", null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+")
    holder = models.ForeignKey("backend.Organisation", verbose_name=_("institution or customer"), null=True,
                               blank=True, on_delete=models.PROTECT, related_name="+")
    batch = models.ForeignKey("inventory.Batch", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    figures = models.JSONField(_("figures"), default=dict)
    documents = models.JSONField(_("documents"), default=dict)
    first_seen_at = models.DateTimeField(_("first seen"))
    last_seen_at = models.DateTimeField(_("last seen"))
    resolved_at = models.DateTimeField(_("no longer found"), null=True, blank=True)
    occurrence = models.PositiveIntegerField(
        _("occurrence"), default=1,
        help_text=_("1, plus one each time it is found again after it was resolved (a new lead: a new alert)"))

    class Meta:
        ordering = ["-month", "kind", "id"]
        verbose_name = _("reconciliation discrepancy")
        verbose_name_plural = _("reconciliation discrepancies")
        constraints = [models.UniqueConstraint(fields=["month", "kind", "key"], name="discrepancy_unique_key")]

    def __str__(self) -> str:
        return f"{self.month:%Y-%m} {self.kind} {self.key}"
