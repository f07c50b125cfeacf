"""Termination drugs: catalogue, batches, pack codes, the append-only stock ledger and the
documents that move stock (intakes, shipments, dispenses, disposals, seizures, counts).

Stock only changes through `StockMovement` rows (see `inventory.ledger`). `StockPosition`
is a cache of the ledger per holder + batch + bucket ("on hand" or "in transit"), updated
in the same transaction as the movements; `inventory.selectors.ledger_mismatches` proves
it equals the ledger sum.

In transit: when a shipment is dispatched, the quantity leaves the sender's on-hand
position and enters the sender's in-transit position (`in_transit=True`); receipt moves it
from there to the recipient's on-hand position, rejection back to the sender's on-hand.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from backend.models import Organisation, Person, mask_resident_id, validate_resident_id

# --- catalogue ----------------------------------------------------------------------------


# The most units one document (an intake, a shipment line, a dispense, a count...) may move:
# far above any county's monthly volume, far below the 32-bit columns' limit, so a typo of
# extra digits is a 400, never a database overflow.
MAX_QUANTITY = 10_000_000


class DrugProduct(models.Model):
    class Form(models.TextChoices):
        TABLET = "tablet", _("tablet")
        INJECTION = "injection", _("injection")
        CAPSULE = "capsule", _("capsule")
        OTHER = "other", _("other")

    generic_name = models.CharField(_("generic name"), max_length=100)
    generic_name_en = models.CharField(_("generic name (English)"), max_length=100, blank=True)
    brand_names = models.JSONField(_("brand names"), default=list, blank=True)
    strength = models.CharField(_("strength"), max_length=50)
    form = models.CharField(_("dosage form"), max_length=20, choices=Form.choices)
    pack_size = models.PositiveIntegerField(_("units per pack"), default=1)
    counting_unit = models.CharField(_("counting unit"), max_length=10, help_text=_("片, 支, 粒..."))
    approval_number = models.CharField(_("approval number (国药准字)"), max_length=40, blank=True)
    manufacturer = models.CharField(_("manufacturer"), max_length=200, blank=True)
    traceability_product_code = models.CharField(
        _("traceability product code (first 7 digits of the 20-digit code)"), max_length=7,
        null=True, blank=True, unique=True,
    )
    gtins = models.JSONField(_("GTINs"), default=list, blank=True)
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["generic_name", "strength", "id"]
        verbose_name = _("drug product")
        verbose_name_plural = _("drug products")
        constraints = [
            models.UniqueConstraint(fields=["generic_name", "strength", "form", "manufacturer"],
                                    name="drugproduct_unique_name_strength"),
            models.CheckConstraint(condition=Q(pack_size__gte=1), name="drugproduct_pack_size_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.generic_name} {self.strength}"

    def clean(self) -> None:
        code = self.traceability_product_code
        if code and not re.fullmatch(r"\d{7}", code):
            raise ValidationError({"traceability_product_code": _("the product code has 7 digits")})
        for gtin in self.gtins or []:
            if not re.fullmatch(r"\d{14}", str(gtin)) or not gtin_check_ok(str(gtin)):
                raise ValidationError({"gtins": _("%(gtin)s is not a valid GTIN-14") % {"gtin": gtin}})


def gtin_check_ok(gtin: str) -> bool:
    digits = [int(c) for c in gtin]
    total = sum(d * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(digits[:-1])))
    return (10 - total % 10) % 10 == digits[-1]


def parse_expiry(printed: str) -> dt.date:
    """The expiry date from the value printed on the pack.

    GS1 AI (17) YYMMDD, where day 00 means the last day of the month; also YYYY-MM-DD,
    YYYYMMDD, YYYY-MM / YYYY.MM / YYYYMM (the month's last day)."""
    text = printed.strip()
    m = re.fullmatch(r"(\d{2})(\d{2})(\d{2})", text)
    if m:
        year, month, day = 2000 + int(m[1]), int(m[2]), int(m[3])
    else:
        m = re.fullmatch(r"(\d{4})[-./]?(\d{2})(?:[-./]?(\d{2}))?", text)
        if not m:
            raise ValueError(f"unrecognised expiry {printed!r}")
        year, month, day = int(m[1]), int(m[2]), int(m[3] or 0)
    if not 1 <= month <= 12:
        raise ValueError(f"bad month in expiry {printed!r}")
    if day == 0:
        day = calendar.monthrange(year, month)[1]
    return dt.date(year, month, day)


class Batch(models.Model):
    product = models.ForeignKey(DrugProduct, verbose_name=_("product"), on_delete=models.PROTECT,
                                related_name="batches")
    lot_number = models.CharField(_("lot number"), max_length=40)
    expiry_printed = models.CharField(_("expiry as printed"), max_length=20)
    expiry_date = models.DateField(_("expiry date"), db_index=True)
    manufactured_on = models.DateField(_("manufacture date"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["product_id", "expiry_date", "lot_number"]
        verbose_name = _("batch")
        verbose_name_plural = _("batches")
        constraints = [
            models.UniqueConstraint(fields=["product", "lot_number"], name="batch_unique_product_lot"),
            models.CheckConstraint(
                condition=Q(manufactured_on__isnull=True) | Q(manufactured_on__lte=F("expiry_date")),
                name="batch_made_before_expiry",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.product} {self.lot_number} (exp {self.expiry_date})"

    def is_expired_on(self, on: dt.date) -> bool:
        return self.expiry_date < on


class PackCode(models.Model):
    class Kind(models.TextChoices):
        TRACEABILITY = "traceability", _("China drug traceability code (20 digits)")
        GS1_SERIAL = "gs1_serial", _("GS1 serial (AI 21)")

    code = models.CharField(_("code"), max_length=80, unique=True)
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    batch = models.ForeignKey(Batch, verbose_name=_("batch"), on_delete=models.PROTECT, related_name="pack_codes")
    registered_at = models.DateTimeField(_("registered at"), auto_now_add=True)

    class Meta:
        ordering = ["id"]
        verbose_name = _("pack code")
        verbose_name_plural = _("pack codes")

    def __str__(self) -> str:
        return self.code


# --- documents that move stock -----------------------------------------------------------


class Intake(models.Model):
    """A wholesaler's receipt from a manufacturer: the only way stock enters the chain."""

    wholesaler = models.ForeignKey(Organisation, verbose_name=_("wholesaler"), on_delete=models.PROTECT,
                                   related_name="intakes")
    supplier_name = models.CharField(_("supplier (manufacturer)"), max_length=200)
    batch = models.ForeignKey(Batch, verbose_name=_("batch"), on_delete=models.PROTECT, related_name="intakes")
    quantity = models.PositiveIntegerField(_("quantity (counting units)"))
    invoice_number = models.CharField(_("invoice number"), max_length=60)
    received_at = models.DateTimeField(_("received at"))
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("recorded by"),
                                    on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(_("recorded at"), auto_now_add=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        verbose_name = _("intake")
        verbose_name_plural = _("intakes")
        constraints = [models.CheckConstraint(condition=Q(quantity__gte=1), name="intake_quantity_positive")]

    def __str__(self) -> str:
        return f"{self.wholesaler} ← {self.supplier_name}: {self.batch} × {self.quantity}"

    def audit_organisation(self):
        return self.wholesaler


class Shipment(models.Model):
    class Kind(models.TextChoices):
        SUPPLY = "supply", _("supply (wholesaler to institution)")
        RETURN = "return", _("return (institution to its supplier)")

    class Status(models.TextChoices):
        DRAFT = "draft", _("draft")
        DISPATCHED = "dispatched", _("dispatched (in transit)")
        RECEIVING = "receiving", _("partly received")
        RECEIVED = "received", pgettext_lazy("shipment status", "received")
        REJECTED = "rejected", _("rejected")

    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices, default=Kind.SUPPLY)
    status = models.CharField(_("status"), max_length=12, choices=Status.choices, default=Status.DRAFT,
                              db_index=True)
    sender = models.ForeignKey(Organisation, verbose_name=_("sender"), on_delete=models.PROTECT,
                               related_name="shipments_sent")
    recipient = models.ForeignKey(Organisation, verbose_name=_("recipient"), on_delete=models.PROTECT,
                                  related_name="shipments_received")
    reference = models.CharField(_("delivery note / invoice number"), max_length=60, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("drafted by"),
                                   on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(_("drafted at"), auto_now_add=True)
    dispatched_at = models.DateTimeField(_("dispatched at"), null=True, blank=True)
    dispatched_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("dispatched by"), null=True,
                                      blank=True, on_delete=models.PROTECT, related_name="+")
    closed_at = models.DateTimeField(_("received or rejected at"), null=True, blank=True)
    closed_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("received or rejected by"),
                                  null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    rejection_reason = models.CharField(_("reason for rejection"), max_length=300, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("shipment")
        verbose_name_plural = _("shipments")
        constraints = [
            models.CheckConstraint(condition=~Q(sender=F("recipient")), name="shipment_not_to_self"),
            models.CheckConstraint(condition=~Q(status="rejected") | ~Q(rejection_reason=""),
                                   name="shipment_rejection_has_reason"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.sender} → {self.recipient} ({self.status})"

    def audit_organisation(self):
        return self.sender


class ShipmentLine(models.Model):
    shipment = models.ForeignKey(Shipment, verbose_name=_("shipment"), on_delete=models.PROTECT,
                                 related_name="lines")
    batch = models.ForeignKey(Batch, verbose_name=_("batch"), on_delete=models.PROTECT, related_name="+")
    quantity = models.PositiveIntegerField(_("quantity shipped"))
    received_quantity = models.PositiveIntegerField(_("quantity received"), null=True, blank=True)
    received_at = models.DateTimeField(_("received at"), null=True, blank=True)

    class Meta:
        ordering = ["shipment_id", "id"]
        verbose_name = _("shipment line")
        verbose_name_plural = _("shipment lines")
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gte=1), name="shipmentline_quantity_positive"),
            models.UniqueConstraint(fields=["shipment", "batch"], name="shipmentline_unique_batch"),
        ]

    def __str__(self) -> str:
        return f"{self.batch} × {self.quantity}"

    def audit_organisation(self):
        return self.shipment.sender


class ShipmentDiscrepancy(models.Model):
    """A received quantity that differs from the shipped one: recorded, never hidden."""

    class Kind(models.TextChoices):
        SHORTAGE = "shortage", _("shortage")
        OVERAGE = "overage", _("overage")

    line = models.OneToOneField(ShipmentLine, verbose_name=_("shipment line"), on_delete=models.PROTECT,
                                related_name="discrepancy")
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    shipped = models.PositiveIntegerField(_("shipped"))
    received = models.PositiveIntegerField(pgettext_lazy("quantity", "received"))
    note = models.CharField(_("note"), max_length=300, blank=True)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("recorded by"),
                                    on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(_("recorded at"), auto_now_add=True)

    class Meta:
        ordering = ["-recorded_at", "-id"]
        verbose_name = _("shipment discrepancy")
        verbose_name_plural = _("shipment discrepancies")

    def __str__(self) -> str:
        return f"{self.kind} {self.shipped} → {self.received}"

    @property
    def difference(self) -> int:
        return self.received - self.shipped

    def audit_organisation(self):
        return self.line.shipment.recipient


class ShipmentRefusal(models.Model):
    """A dispatch (or a receipt) that a rule refused (who, to whom, what, when, why), kept for
    inspectors even though the dispatch itself was rolled back."""

    class Act(models.TextChoices):
        DISPATCH = "dispatch", _("dispatch")
        RECEIPT = "receipt", _("receipt")

    shipment = models.ForeignKey(Shipment, verbose_name=_("shipment"), null=True, blank=True,
                                 on_delete=models.PROTECT, related_name="refusals")
    sender = models.ForeignKey(Organisation, verbose_name=_("sender"), on_delete=models.PROTECT, related_name="+")
    recipient = models.ForeignKey(Organisation, verbose_name=_("recipient"), on_delete=models.PROTECT,
                                  related_name="+")
    attempted_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("attempted by"),
                                     null=True, on_delete=models.PROTECT, related_name="+")
    attempted_at = models.DateTimeField(_("attempted at"))
    code = models.CharField(_("code"), max_length=60)
    message = models.CharField(_("message"), max_length=500)
    clauses = models.JSONField(_("clauses"), default=list)
    lines = models.JSONField(_("what"), default=list)
    act = models.CharField(_("refused act"), max_length=10, choices=Act.choices, default=Act.DISPATCH,
                           help_text=_("receipt: the recipient's approval lapsed while the goods were in transit"))

    class Meta:
        ordering = ["-attempted_at", "-id"]
        verbose_name = _("refused shipment")
        verbose_name_plural = _("refused shipments")

    def __str__(self) -> str:
        return f"{self.sender} → {self.recipient}: {self.code}"

    def audit_organisation(self):
        return self.sender


class Dispense(models.Model):
    """One entry of the use register (使用终止妊娠药品情况登记表)."""

    class BirthPermit(models.TextChoices):
        HOLDS = "holds", _("holds a birth permit")
        NONE = "none", _("no birth permit")
        NOT_REQUIRED = "not_required", _("not required")
        UNKNOWN = "unknown", _("unknown")

    institution = models.ForeignKey(Organisation, verbose_name=_("institution"), on_delete=models.PROTECT,
                                    related_name="dispenses")
    occurred_at = models.DateTimeField(_("time of use"), db_index=True)
    patient_name = models.CharField(_("patient name"), max_length=100)
    patient_age = models.PositiveSmallIntegerField(_("age"))
    patient_address = models.CharField(_("work unit or address"), max_length=300)
    patient_resident_id = models.CharField(_("resident ID number"), max_length=18, blank=True,
                                           validators=[validate_resident_id])
    birth_permit = models.CharField(_("birth permit"), max_length=15, choices=BirthPermit.choices)
    children_count = models.PositiveSmallIntegerField(_("current number of children"))
    pregnancy_status = models.CharField(_("pregnancy status"), max_length=200)
    gestational_weeks = models.PositiveSmallIntegerField(_("gestational weeks"))
    batch = models.ForeignKey(Batch, verbose_name=_("batch"), on_delete=models.PROTECT, related_name="dispenses")
    pack_code = models.ForeignKey(PackCode, verbose_name=_("pack code"), null=True, blank=True,
                                  on_delete=models.PROTECT, related_name="dispenses")
    quantity = models.PositiveIntegerField(_("quantity (counting units)"))
    dose = models.CharField(_("dose"), max_length=100)
    prescription_number = models.CharField(_("prescription number"), max_length=60)
    physician = models.ForeignKey(Person, verbose_name=_("attending physician"), on_delete=models.PROTECT,
                                  related_name="dispenses_prescribed")
    pharmacist = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("pharmacist"),
                                   on_delete=models.PROTECT, related_name="dispenses")
    midterm_certificate_number = models.CharField(
        _("mid-term termination certificate number (人工终止中期以上妊娠证明)"), max_length=60, blank=True)
    midterm_certificate_office = models.CharField(_("certificate issued by"), max_length=200, blank=True)
    emergency = models.BooleanField(_("emergency"), default=False)
    emergency_physicians = models.ManyToManyField(Person, verbose_name=_("physicians who signed (emergency)"),
                                                  blank=True, related_name="+")
    papers_due_by = models.DateField(_("papers due by (emergency)"), null=True, blank=True)
    recorded_at = models.DateTimeField(_("recorded at"), auto_now_add=True)

    # Identifying the patient: masked in lists and in the audit trail.
    PATIENT_FIELDS = ("patient_name", "patient_age", "patient_address", "patient_resident_id", "birth_permit",
                      "children_count", "pregnancy_status", "gestational_weeks",
                      "midterm_certificate_number")
    # Nothing about the patient is in clear in the audit trail (which the office administrator
    # reads, and the detail view does not show them): a masked form and a keyed digest.
    AUDIT_MASKED_FIELDS = (*PATIENT_FIELDS, "midterm_certificate_office")

    class Meta:
        ordering = ["-occurred_at", "-id"]
        verbose_name = _("dispense")
        verbose_name_plural = _("dispenses (use register)")
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gte=1), name="dispense_quantity_positive"),
            models.CheckConstraint(
                condition=Q(gestational_weeks__lt=14) | Q(emergency=True)
                | (~Q(midterm_certificate_number="") & ~Q(midterm_certificate_office="")),
                name="dispense_midterm_certificate",
            ),
        ]
        indexes = [models.Index(fields=["institution", "occurred_at"], name="dispense_inst_time_idx")]

    def __str__(self) -> str:
        return f"#{self.pk} {self.institution} {self.occurred_at:%Y-%m-%d}"

    def audit_organisation(self):
        return self.institution

    @property
    def patient_name_masked(self) -> str:
        return mask_name(self.patient_name)

    @property
    def patient_resident_id_masked(self) -> str:
        return mask_resident_id(self.patient_resident_id)


class DispenseRefusal(models.Model):
    """A dispense refused by a policy (the institution not authorized, the physician's
    licence not valid that day), kept for inspectors although nothing was written. No
    patient identifiers are stored here."""

    institution = models.ForeignKey(Organisation, verbose_name=_("institution"), on_delete=models.PROTECT,
                                    related_name="+")
    attempted_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("attempted by"),
                                     on_delete=models.PROTECT, related_name="+")
    attempted_at = models.DateTimeField(_("attempted at"))
    code = models.CharField(_("code"), max_length=60)
    message = models.CharField(_("message"), max_length=500)
    clauses = models.JSONField(_("clauses"), default=list)
    physician = models.ForeignKey(Person, verbose_name=_("attending physician"), null=True, blank=True,
                                  on_delete=models.PROTECT, related_name="+")
    batch = models.ForeignKey(Batch, verbose_name=_("batch"), null=True, blank=True, on_delete=models.PROTECT,
                              related_name="+")
    quantity = models.PositiveIntegerField(_("quantity"), null=True, blank=True)
    prescription_number = models.CharField(_("prescription number"), max_length=60, blank=True)

    class Meta:
        ordering = ["-attempted_at", "-id"]
        verbose_name = _("refused dispense")
        verbose_name_plural = _("refused dispenses")

    def __str__(self) -> str:
        return f"{self.institution}: {self.code}"

    def audit_organisation(self):
        return self.institution


def mask_name(name: str) -> str:
    """Keep the surname: 王**."""
    if not name:
        return ""
    return name[0] + "*" * max(1, len(name) - 1)


class Disposal(models.Model):
    class Reason(models.TextChoices):
        EXPIRED = "expired", _("expired")
        DAMAGED = "damaged", _("damaged")
        OTHER = "other", _("other")

    holder = models.ForeignKey(Organisation, verbose_name=_("holder"), on_delete=models.PROTECT,
                               related_name="disposals")
    batch = models.ForeignKey(Batch, verbose_name=_("batch"), on_delete=models.PROTECT, related_name="+")
    quantity = models.PositiveIntegerField(_("quantity"))
    reason = models.CharField(_("reason"), max_length=10, choices=Reason.choices)
    note = models.CharField(_("note"), max_length=300, blank=True)
    witness_name = models.CharField(_("witness"), max_length=100)
    witness = models.ForeignKey(Person, verbose_name=_("witness (registered person)"), null=True, blank=True,
                                on_delete=models.PROTECT, related_name="+")
    occurred_at = models.DateTimeField(_("disposed at"))
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("recorded by"),
                                    on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(_("recorded at"), auto_now_add=True)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        verbose_name = _("disposal")
        verbose_name_plural = _("disposals")
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gte=1), name="disposal_quantity_positive"),
            models.CheckConstraint(condition=~Q(witness_name=""), name="disposal_has_witness"),
        ]

    def __str__(self) -> str:
        return f"{self.holder}: {self.batch} × {self.quantity} ({self.reason})"

    def audit_organisation(self):
        return self.holder


class Seizure(models.Model):
    """Stock taken by an inspector: it leaves the holder and is held by the authority. Stock
    found off the books (`off_books`) was never on the holder's books: it enters the ledger in
    the authority's custody, and the seizure names the holder it was found at."""

    holder = models.ForeignKey(Organisation, verbose_name=_("seized from"), on_delete=models.PROTECT,
                               related_name="seizures")
    authority = models.ForeignKey(Organisation, verbose_name=_("seized by (authority)"),
                                  on_delete=models.PROTECT, related_name="+")
    batch = models.ForeignKey(Batch, verbose_name=_("batch"), on_delete=models.PROTECT, related_name="+")
    quantity = models.PositiveIntegerField(_("quantity"))
    case_reference = models.CharField(_("case reference"), max_length=60, blank=True)
    note = models.CharField(_("note"), max_length=300, blank=True)
    off_books = models.BooleanField(
        _("off the books"), default=False,
        help_text=_("Found where the holder's books show none (e.g. at a retail pharmacy): the stock enters the "
                    "ledger in the authority's custody and nothing leaves the holder's books."))
    occurred_at = models.DateTimeField(_("seized at"))
    inspector = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("inspector"),
                                  on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(_("recorded at"), auto_now_add=True)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        verbose_name = _("seizure")
        verbose_name_plural = _("seizures")
        constraints = [models.CheckConstraint(condition=Q(quantity__gte=1), name="seizure_quantity_positive")]

    def __str__(self) -> str:
        return f"{self.holder}: {self.batch} × {self.quantity} seized"

    def audit_organisation(self):
        return self.holder


class StockCount(models.Model):
    """A physical count (账物相符); a difference becomes an adjustment movement."""

    holder = models.ForeignKey(Organisation, verbose_name=_("holder"), on_delete=models.PROTECT, related_name="+")
    batch = models.ForeignKey(Batch, verbose_name=_("batch"), on_delete=models.PROTECT, related_name="+")
    counted = models.PositiveIntegerField(_("counted"))
    book_quantity = models.IntegerField(_("on the books"))
    note = models.CharField(_("note"), max_length=300, blank=True)
    occurred_at = models.DateTimeField(_("counted at"))
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("recorded by"),
                                    on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(_("recorded at"), auto_now_add=True)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        verbose_name = _("stock count")
        verbose_name_plural = _("stock counts")

    def __str__(self) -> str:
        return f"{self.holder}: {self.batch} counted {self.counted}"

    def audit_organisation(self):
        return self.holder


# --- the ledger -----------------------------------------------------------------------------


class StockMovement(models.Model):
    """One signed change of quantity. Append-only: never updated, never deleted (a trigger
    refuses both on PostgreSQL); a mistake is corrected by a compensating row."""

    class Kind(models.TextChoices):
        INTAKE = "intake", _("intake from manufacturer")
        DISPATCH = "dispatch", _("dispatch (into transit)")
        RECEIPT = "receipt", _("receipt (out of transit)")
        REJECTION = "rejection", _("rejected shipment returned")
        DISPENSE = "dispense", _("dispense")
        DISPOSAL = "disposal", _("disposal")
        SEIZURE = "seizure", _("seizure")
        ADJUSTMENT = "adjustment", _("count adjustment")
        CORRECTION = "correction", _("correction")

    holder = models.ForeignKey(Organisation, verbose_name=_("holder"), on_delete=models.PROTECT, related_name="+")
    batch = models.ForeignKey(Batch, verbose_name=_("batch"), on_delete=models.PROTECT, related_name="movements")
    in_transit = models.BooleanField(_("in transit"), default=False)
    quantity = models.IntegerField(_("quantity (signed)"))
    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices)
    occurred_at = models.DateTimeField(_("occurred at"))
    recorded_at = models.DateTimeField(_("recorded at"), auto_now_add=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("actor"), null=True,
                              on_delete=models.PROTECT, related_name="+")
    idempotency_key = models.CharField(_("idempotency key"), max_length=300, null=True, blank=True, unique=True)
    corrects = models.OneToOneField("self", verbose_name=_("corrects"), null=True, blank=True,
                                    on_delete=models.PROTECT, related_name="corrected_by")
    note = models.CharField(_("note"), max_length=300, blank=True)
    # The document that caused the movement (at most one is set; corrections point at the
    # movement they correct instead).
    intake = models.ForeignKey(Intake, null=True, blank=True, on_delete=models.PROTECT, related_name="movements")
    shipment_line = models.ForeignKey(ShipmentLine, null=True, blank=True, on_delete=models.PROTECT,
                                      related_name="movements")
    dispense = models.ForeignKey(Dispense, null=True, blank=True, on_delete=models.PROTECT,
                                 related_name="movements")
    disposal = models.ForeignKey(Disposal, null=True, blank=True, on_delete=models.PROTECT,
                                 related_name="movements")
    seizure = models.ForeignKey(Seizure, null=True, blank=True, on_delete=models.PROTECT, related_name="movements")
    stock_count = models.ForeignKey(StockCount, null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="movements")

    DOCUMENT_FIELDS = ("intake", "shipment_line", "dispense", "disposal", "seizure", "stock_count", "corrects")

    class Meta:
        ordering = ["occurred_at", "id"]
        verbose_name = _("stock movement")
        verbose_name_plural = _("stock movements")
        constraints = [
            models.CheckConstraint(condition=~Q(quantity=0), name="stockmovement_quantity_nonzero"),
            models.CheckConstraint(
                condition=Q(intake__isnull=False) | Q(shipment_line__isnull=False) | Q(dispense__isnull=False)
                | Q(disposal__isnull=False) | Q(seizure__isnull=False) | Q(stock_count__isnull=False)
                | Q(corrects__isnull=False),
                name="stockmovement_has_document",
            ),
        ]
        indexes = [
            models.Index(fields=["holder", "batch", "occurred_at"], name="movement_card_idx"),
            models.Index(fields=["kind", "occurred_at"], name="movement_kind_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.quantity:+d} {self.batch} @ {self.holder}"

    def audit_organisation(self):
        return self.holder


class StockPosition(models.Model):
    """Cached balance of one holder + batch + bucket; equals the ledger sum (checked by
    `inventory.selectors.ledger_mismatches`). The constraint makes a negative balance
    impossible whatever the application does."""

    holder = models.ForeignKey(Organisation, verbose_name=_("holder"), on_delete=models.PROTECT,
                               related_name="stock_positions")
    batch = models.ForeignKey(Batch, verbose_name=_("batch"), on_delete=models.PROTECT, related_name="positions")
    in_transit = models.BooleanField(_("in transit"), default=False)
    quantity = models.IntegerField(_("quantity"), default=0)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        ordering = ["holder_id", "batch_id", "in_transit"]
        verbose_name = _("stock position")
        verbose_name_plural = _("stock positions")
        constraints = [
            models.UniqueConstraint(fields=["holder", "batch", "in_transit"], name="stockposition_unique_key"),
            models.CheckConstraint(condition=Q(quantity__gte=0), name="stockposition_quantity_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.holder} {self.batch}: {self.quantity}{' (in transit)' if self.in_transit else ''}"

    def audit_organisation(self):
        return self.holder
