"""The device registry: ultrasound (B超) and chromosome-testing devices, their lifecycle and
the exam register (孕妇超声波诊断检查登记表).

- `Device` is a filing. Its current state (status, holder, custodian, operators, lateness
  of the current holder's filing) is derived from its `DeviceEvent`s; the columns on
  `Device` are a cache written in the same transaction as each event, and
  `selectors.device_state()` replays the events to prove it (see the tests).
- `DeviceEvent` and `DeviceExam` are append-only (a PostgreSQL trigger refuses UPDATE and
  DELETE; see migration 0002).
- `DeviceRefusal` keeps refused filings, transfers and exams (a second filing of a known
  brand + model + serial may be a duplicated nameplate; an exam on a sealed device or by an
  unlicensed operator is a lead) so that inspectors can search them.
"""

from __future__ import annotations

import hashlib
import re

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from backend.models import Organisation, Person, mask_resident_id

FILING_DEADLINE_DAYS = 7


class DeviceKind(models.TextChoices):
    ULTRASOUND = "ultrasound", _("ultrasound diagnostic device (B超)")
    CHROMOSOME_TESTING = "chromosome_testing", _("chromosome-testing device")


class Capability(models.TextChoices):
    B_MODE = "b_mode", _("B-mode (grey scale)")
    COLOUR_DOPPLER = "colour_doppler", _("colour Doppler")
    THREE_D = "3d", _("3D")
    FOUR_D = "4d", _("4D")
    PORTABLE = "portable", _("portable / handheld")
    TRANSVAGINAL = "transvaginal", _("transvaginal probe")
    KARYOTYPING = "karyotyping", _("karyotyping")
    NIPT = "nipt", _("non-invasive prenatal testing (NIPT)")
    PCR = "pcr", _("PCR")
    SEQUENCING = "sequencing", _("gene sequencing")
    OTHER = "other", _("other")


class DeviceStatus(models.TextChoices):
    ACTIVE = "active", _("active")
    SEALED = "sealed", _("sealed (查封)")
    SCRAPPED = "scrapped", _("scrapped")


def nameplate_text(value: str) -> str:
    """A nameplate's text without case, spaces or punctuation ("sn-001 " -> "SN001")."""
    return re.sub(r"[\W_]+", "", value or "").upper()


def identity_key(brand: str, model: str, serial: str) -> str:
    """Brand + model + factory serial, compared without case, spaces or punctuation, so that
    "GE Voluson E8 / SN-001" and "ge voluson-e8 / sn 001" are the same nameplate."""
    norm = nameplate_text
    key = f"{norm(brand)}|{norm(model)}|{norm(serial)}"
    if len(key) > IDENTITY_MAX:  # upper-casing lengthens some letters ("ﬃ" -> "FFI"): fit the column
        key = key[:IDENTITY_MAX - 65] + "#" + hashlib.sha256(key.encode()).hexdigest()
    return key


IDENTITY_MAX = 310  # Device.identity and DeviceRefusal.identity


class Device(models.Model):
    kind = models.CharField(_("kind"), max_length=20, choices=DeviceKind.choices, db_index=True)
    brand = models.CharField(_("brand"), max_length=100)
    model = models.CharField(_("model"), max_length=100)
    capabilities = models.JSONField(_("functions / capabilities"), default=list, blank=True)
    place_of_origin = models.CharField(_("place of origin"), max_length=100)
    manufactured_on = models.DateField(_("manufacture date"))
    purchased_on = models.DateField(_("purchase date"))
    serial_number = models.CharField(_("factory serial number"), max_length=100, db_index=True)
    identity = models.CharField(_("brand + model + serial (normalised)"), max_length=IDENTITY_MAX, unique=True)
    main_use = models.CharField(_("main use"), max_length=300)
    asset_tag = models.CharField(_("asset tag"), max_length=32, unique=True, null=True, blank=True)
    seal_image = models.CharField(_("the institution's seal (公章) image"), max_length=200)

    # Cached from the events (written in the same transaction as each event).
    status = models.CharField(_("status"), max_length=10, choices=DeviceStatus.choices,
                              default=DeviceStatus.ACTIVE, db_index=True)
    holder = models.ForeignKey(Organisation, verbose_name=_("holding institution"), on_delete=models.PROTECT,
                               related_name="devices")
    custodian = models.ForeignKey(Person, verbose_name=_("custodian"), on_delete=models.PROTECT,
                                  related_name="devices_kept")
    operators = models.ManyToManyField(Person, verbose_name=_("operators"), related_name="devices_operated",
                                       blank=True)
    duty_started_on = models.DateField(_("filing due from (purchase or transfer date)"))
    filed_at = models.DateTimeField(_("filed at"))
    filed_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("filed by"), null=True, blank=True,
                                 on_delete=models.PROTECT, related_name="+")
    days_late = models.PositiveIntegerField(_("days late"), default=0)
    created_at = models.DateTimeField(_("first filed at"), auto_now_add=True)

    class Meta:
        ordering = ["-filed_at", "-id"]
        verbose_name = _("device")
        verbose_name_plural = _("devices")
        constraints = [
            models.CheckConstraint(condition=Q(manufactured_on__lte=models.F("purchased_on")),
                                   name="device_made_before_purchase"),
            models.CheckConstraint(condition=Q(status__in=DeviceStatus.values), name="device_status_known"),
            models.CheckConstraint(condition=Q(kind__in=DeviceKind.values), name="device_kind_known"),
            models.CheckConstraint(condition=~Q(identity=""), name="device_identity_present"),
        ]
        indexes = [models.Index(fields=["holder", "status"])]

    def __str__(self) -> str:
        return f"{self.brand} {self.model} ({self.serial_number})"

    @property
    def late(self) -> bool:
        return self.days_late > 0

    def audit_organisation(self):
        return self.holder


class DeviceImage(models.Model):
    """A stored photo (through backend.uploads): the device, or an operator's photo."""

    class Role(models.TextChoices):
        DEVICE = "device", _("device photo")
        OPERATOR = "operator", _("operator photo")

    device = models.ForeignKey(Device, on_delete=models.PROTECT, related_name="images")
    role = models.CharField(pgettext_lazy("device image", "role"), max_length=10, choices=Role.choices,
                            default=Role.DEVICE)
    person = models.ForeignKey(Person, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    path = models.CharField(_("stored file"), max_length=200)
    thumbnail_path = models.CharField(_("thumbnail"), max_length=200)
    sha256 = models.CharField(max_length=64)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    content_type = models.CharField(max_length=20)
    size = models.PositiveIntegerField()
    uploaded_at = models.DateTimeField(auto_now_add=True)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="+")

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=Q(role="operator", person__isnull=False) | Q(role="device"),
                                   name="device_image_operator_has_person"),
        ]

    def __str__(self) -> str:
        return self.path

    def audit_organisation(self):
        return self.device.holder


class DeviceEvent(models.Model):
    """One immutable step in a device's life, with who did it and why."""

    class Kind(models.TextChoices):
        FILED = "filed", _("filed")
        TRANSFERRED = "transferred", _("transferred")
        SEALED = "sealed", _("sealed")
        UNSEALED = "unsealed", _("unsealed")
        SCRAPPED = "scrapped", _("scrapped")
        OPERATOR_ADDED = "operator_added", _("operator added")
        OPERATOR_REMOVED = "operator_removed", _("operator removed")

    device = models.ForeignKey(Device, on_delete=models.PROTECT, related_name="events")
    kind = models.CharField(_("event"), max_length=20, choices=Kind.choices)
    occurred_at = models.DateTimeField(_("time"), db_index=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("actor"), null=True, blank=True,
                              on_delete=models.PROTECT, related_name="+")
    reason = models.TextField(_("reason"), blank=True)
    # filed / transferred: the holder, custodian and operators from then on
    holder = models.ForeignKey(Organisation, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    custodian = models.ForeignKey(Person, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    operators = models.JSONField(_("operator ids"), default=list, blank=True)
    duty_started_on = models.DateField(_("filing due from"), null=True, blank=True)
    days_late = models.PositiveIntegerField(_("days late"), null=True, blank=True)
    # operator_added / operator_removed
    person = models.ForeignKey(Person, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    # sealed / unsealed: the finding or case reference; scrapped: the witness
    reference = models.CharField(_("finding or case reference"), max_length=100, blank=True)
    witness = models.CharField(_("witness"), max_length=100, blank=True)

    class Meta:
        ordering = ["occurred_at", "id"]
        verbose_name = _("device event")
        verbose_name_plural = _("device events")
        constraints = [
            models.CheckConstraint(
                condition=~Q(kind__in=["filed", "transferred"])
                | Q(holder__isnull=False, custodian__isnull=False, duty_started_on__isnull=False,
                    days_late__isnull=False),
                name="device_event_filing_complete",
            ),
            models.CheckConstraint(condition=~Q(kind__in=["operator_added", "operator_removed"])
                                   | Q(person__isnull=False), name="device_event_operator_person"),
            models.CheckConstraint(condition=~Q(kind__in=["sealed", "unsealed"]) | ~Q(reference=""),
                                   name="device_event_seal_reference"),
            models.CheckConstraint(condition=~Q(kind="scrapped") | ~Q(witness=""),
                                   name="device_event_scrap_witness"),
        ]

    def __str__(self) -> str:
        return f"{self.device_id} {self.kind} {self.occurred_at:%Y-%m-%d}"

    def audit_organisation(self):
        return self.device.holder


class DeviceRefusal(models.Model):
    """A refused filing, transfer or exam, kept so inspectors can search it: a second filing
    of a known nameplate may be a copied plate; an exam on a sealed device or by an
    unlicensed operator is a lead. Patient data is not copied here."""

    class Act(models.TextChoices):
        FILING = "filing", _("filing")
        TRANSFER = "transfer", _("transfer")
        EXAM = "exam", _("exam")
        SCRAP = "scrap", _("scrapping")
        OPERATOR = "operator", pgettext_lazy("refused act", "operator added")

    attempted_at = models.DateTimeField(auto_now_add=True, db_index=True)
    act = models.CharField(_("refused act"), max_length=10, choices=Act.choices, default=Act.FILING)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                              related_name="+")
    holder = models.ForeignKey(Organisation, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    code = models.CharField(_("refusal code"), max_length=60, db_index=True)
    message = models.TextField(_("message"))
    kind = models.CharField(max_length=20, blank=True)
    brand = models.CharField(max_length=100, blank=True)
    model = models.CharField(max_length=100, blank=True)
    serial_number = models.CharField(max_length=100, blank=True, db_index=True)
    identity = models.CharField(max_length=IDENTITY_MAX, blank=True, db_index=True)
    device = models.ForeignKey(Device, null=True, blank=True, on_delete=models.PROTECT, related_name="refusals",
                               help_text=_("the device already filed (duplicate), transferred or examined on"))
    to_holder = models.ForeignKey(Organisation, null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                                  help_text=_("a refused transfer: the organisation the device was to go to "
                                              "(its inspectors see the attempt too)"))
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-attempted_at", "-id"]
        verbose_name = _("refused device act")
        verbose_name_plural = _("refused device acts")

    def __str__(self) -> str:
        return f"{self.code} {self.brand} {self.model} {self.serial_number}"

    def audit_organisation(self):
        return self.holder


class DeviceExam(models.Model):
    """One line of the exam register (孕妇超声波诊断检查登记表). There is deliberately no field
    for the fetal sex."""

    device = models.ForeignKey(Device, on_delete=models.PROTECT, related_name="exams")
    performed_at = models.DateTimeField(_("time of exam"), db_index=True)
    patient_name = models.CharField(_("patient name"), max_length=100)
    patient_resident_id = models.CharField(_("patient resident ID number"), max_length=18)
    gestational_weeks = models.PositiveSmallIntegerField(_("gestational weeks"))
    indication = models.CharField(_("indication"), max_length=300)
    operator = models.ForeignKey(Person, verbose_name=_("operator"), on_delete=models.PROTECT, related_name="+")
    second_operator = models.ForeignKey(Person, verbose_name=_("second operator (双人执机签字)"), null=True,
                                        blank=True, on_delete=models.PROTECT, related_name="+")
    result_summary = models.TextField(_("result summary"))
    recorded_at = models.DateTimeField(_("recorded at"), auto_now_add=True)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="+")
    holder = models.ForeignKey(Organisation, verbose_name=_("institution"), on_delete=models.PROTECT,
                               related_name="+")

    AUDIT_MASKED_FIELDS = ("patient_name", "patient_resident_id")

    class Meta:
        ordering = ["-performed_at", "-id"]
        verbose_name = _("ultrasound exam of a pregnant woman")
        verbose_name_plural = _("exam register (孕妇超声波诊断检查登记表)")
        constraints = [
            models.CheckConstraint(condition=Q(gestational_weeks__lte=45), name="device_exam_weeks_plausible"),
            models.CheckConstraint(condition=Q(second_operator__isnull=True) | ~Q(second_operator=models.F("operator")),
                                   name="device_exam_two_different_operators"),
        ]

    def __str__(self) -> str:
        return f"{self.device_id} {self.performed_at:%Y-%m-%d %H:%M}"

    @property
    def patient_resident_id_masked(self) -> str:
        return mask_resident_id(self.patient_resident_id)

    @property
    def patient_name_masked(self) -> str:
        if not self.patient_name:
            return ""
        return self.patient_name[0] + "*" * max(1, len(self.patient_name) - 1)

    def audit_organisation(self):
        return self.holder
