"""The "who" registry: jurisdictions, organisations, people, licences, users and roles.

Every later capability asks whether an organisation or person may do something on a date;
the answer is computed by `backend.policies` from the rows here.
"""

from __future__ import annotations

import datetime as dt

from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy
from stdnum.cn import ric, uscc


class TimeStamped(models.Model):
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        abstract = True


# --- identifiers ----------------------------------------------------------------------


def validate_uscc(value: str) -> None:
    """统一社会信用代码: 18 characters with a check character (GB 32100)."""
    try:
        uscc.validate(value)
    except Exception as exc:  # stdnum raises subclasses of ValidationError of its own
        raise ValidationError(
            _("%(value)s is not a valid unified social credit code: %(why)s"),
            code="invalid_uscc",
            params={"value": value, "why": getattr(exc, "message", str(exc))},
        ) from None


def validate_resident_id(value: str) -> None:
    """居民身份证号: 18 characters, birth date and check digit (GB 11643)."""
    try:
        ric.validate(value)
    except Exception as exc:
        raise ValidationError(
            _("%(value)s is not a valid resident ID number: %(why)s"),
            code="invalid_resident_id",
            params={"value": mask_resident_id(value), "why": getattr(exc, "message", str(exc))},
        ) from None


def mask_resident_id(value: str | None) -> str:
    """Show the region and the last four characters only: 430421********123X."""
    if not value:
        return ""
    if len(value) <= 10:
        return "*" * len(value)
    return value[:6] + "*" * (len(value) - 10) + value[-4:]


def normalise_resident_id(value: str) -> str:
    return ric.compact(value) if value else value


def normalise_uscc(value: str) -> str:
    return uscc.compact(value) if value else value


# --- jurisdictions --------------------------------------------------------------------


class Jurisdiction(TimeStamped):
    """An administrative division (GB/T 2260; townships use the 9-digit GB/T 10114 code)."""

    class Level(models.TextChoices):
        PROVINCE = "province", _("province")
        CITY = "city", _("city")
        COUNTY = "county", _("county")
        TOWNSHIP = "township", _("township")

    code = models.CharField(_("division code"), max_length=9, unique=True)
    name = models.CharField(_("name"), max_length=100)
    level = models.CharField(_("level"), max_length=10, choices=Level.choices)
    parent = models.ForeignKey(
        "self", verbose_name=_("parent"), null=True, blank=True, on_delete=models.PROTECT,
        related_name="children",
    )
    # Per-jurisdiction settings used by later work; inherited from the nearest ancestor that
    # sets them (None = inherit).
    dual_signoff_required = models.BooleanField(
        _("two operators sign each ultrasound exam (双人执机签字)"), null=True, blank=True
    )
    # A day every month has: 1..28, checked on the field (API, admin, full_clean) and backed
    # by the check constraint below.
    monthly_filing_due_day = models.PositiveSmallIntegerField(
        _("monthly filings due by this day of the next month"), null=True, blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(28)],
    )

    class Meta:
        ordering = ["code"]
        verbose_name = _("jurisdiction")
        verbose_name_plural = _("jurisdictions")
        constraints = [
            models.CheckConstraint(
                condition=Q(monthly_filing_due_day__isnull=True)
                | Q(monthly_filing_due_day__gte=1, monthly_filing_due_day__lte=28),
                name="jurisdiction_due_day_1_28",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"

    @property
    def prefix(self) -> str:
        """The code prefix shared by this division and everything below it."""
        return jurisdiction_prefix(self.code, self.level)

    def clean(self) -> None:
        errors = jurisdiction_code_errors(self.code, self.level)
        if self.parent_id and not errors:
            parent = self.parent
            if LEVEL_ORDER.index(parent.level) >= LEVEL_ORDER.index(self.level):
                errors.append(_("a %(level)s cannot sit under a %(parent)s")
                              % {"level": self.get_level_display(), "parent": parent.get_level_display()})
            elif not self.code.startswith(parent.prefix):
                errors.append(_("code %(code)s is not within parent %(parent)s")
                              % {"code": self.code, "parent": parent.code})
        if errors:
            raise ValidationError({"code": errors})

    def setting(self, name: str, default):
        node = self
        while node is not None:
            value = getattr(node, name)
            if value is not None:
                return value
            node = node.parent
        return default

    def ancestors_and_self(self) -> list[Jurisdiction]:
        chain, node = [], self
        while node is not None:
            chain.append(node)
            node = node.parent
        return chain


LEVEL_ORDER = ["province", "city", "county", "township"]


def jurisdiction_prefix(code: str, level: str) -> str:
    return {"province": code[:2], "city": code[:4], "county": code[:6]}.get(level, code)


def jurisdiction_code_errors(code: str, level: str) -> list[str]:
    """Structural checks of a GB/T 2260 code against its level."""
    if not code or not code.isdigit():
        return [_("the division code must be digits only")]
    if level == "township":
        if len(code) != 9:
            return [_("a township code has 9 digits (6-digit county code + 3)")]
        return []
    if len(code) != 6:
        return [_("a division code has 6 digits (GB/T 2260)")]
    if code[:2] == "00":
        return [_("%(code)s names no province") % {"code": code}]
    if level == "province" and code[2:] != "0000":
        return [_("a province code ends in 0000")]
    if level == "city" and (code[2:4] == "00" or code[4:] != "00"):
        return [_("a city code ends in 00 and does not end in 0000")]
    if level == "county" and code[4:] == "00":
        return [_("a county code does not end in 00")]
    return []


# --- organisations and people ---------------------------------------------------------


class Organisation(TimeStamped):
    class Kind(models.TextChoices):
        MANUFACTURER = "manufacturer", _("manufacturer")
        WHOLESALER = "wholesaler", _("drug wholesaler")
        RETAIL_PHARMACY = "retail_pharmacy", _("retail pharmacy")
        HOSPITAL = "hospital", _("hospital")
        TOWNSHIP_HEALTH_CENTRE = "township_health_centre", _("township health centre")
        FAMILY_PLANNING = "family_planning", _("family-planning service institution")
        PRIVATE_CLINIC = "private_clinic", _("private clinic")
        INDIVIDUAL_CLINIC = "individual_clinic", _("individual clinic")
        AUTHORITY = "authority", _("governance office / authority")

    name = models.CharField(_("name"), max_length=200)
    kind = models.CharField(_("kind"), max_length=30, choices=Kind.choices, db_index=True)
    credit_code = models.CharField(
        _("unified social credit code"), max_length=18, unique=True, validators=[validate_uscc]
    )
    jurisdiction = models.ForeignKey(
        Jurisdiction, verbose_name=_("jurisdiction"), on_delete=models.PROTECT, related_name="organisations"
    )
    address = models.CharField(_("address"), max_length=300, blank=True)
    contact_name = models.CharField(_("contact person"), max_length=100, blank=True)
    contact_phone = models.CharField(_("contact phone"), max_length=40, blank=True)

    class Meta:
        ordering = ["name", "id"]
        verbose_name = _("organisation")
        verbose_name_plural = _("organisations")

    def __str__(self) -> str:
        return self.name

    MEDICAL_KINDS = frozenset({
        Kind.HOSPITAL, Kind.TOWNSHIP_HEALTH_CENTRE, Kind.FAMILY_PLANNING,
        Kind.PRIVATE_CLINIC, Kind.INDIVIDUAL_CLINIC,
    })

    @property
    def is_medical(self) -> bool:
        return self.kind in self.MEDICAL_KINDS


class Person(TimeStamped):
    class Position(models.TextChoices):
        PHYSICIAN = "physician", _("physician")
        PHARMACIST = "pharmacist", _("pharmacist")
        SONOGRAPHER = "sonographer", _("ultrasound operator")
        LAB_TECHNICIAN = "lab_technician", _("laboratory technician")
        NURSE = "nurse", _("nurse")
        MANAGER = "manager", _("manager")
        CLERK = "clerk", _("clerk")
        INSPECTOR = "inspector", _("inspector")
        OTHER = "other", _("other")

    name = models.CharField(_("name"), max_length=100)
    resident_id = models.CharField(
        _("resident ID number"), max_length=18, unique=True, validators=[validate_resident_id]
    )
    # Stored by backend.uploads (bytes checked, upright, no GPS, by content hash): paths under MEDIA_ROOT.
    photo = models.CharField(_("photo"), max_length=200, blank=True, editable=False)
    photo_thumbnail = models.CharField(_("photo thumbnail"), max_length=200, blank=True, editable=False)
    organisation = models.ForeignKey(
        Organisation, verbose_name=_("organisation"), null=True, blank=True,
        on_delete=models.PROTECT, related_name="people",
    )
    position = models.CharField(_("position"), max_length=20, choices=Position.choices, default=Position.OTHER)
    phone = models.CharField(_("phone"), max_length=40, blank=True)

    class Meta:
        ordering = ["name", "id"]
        verbose_name = _("person")
        verbose_name_plural = _("people")

    def __str__(self) -> str:
        return self.name

    AUDIT_MASKED_FIELDS = ("resident_id",)

    @property
    def resident_id_masked(self) -> str:
        return mask_resident_id(self.resident_id)

    def audit_organisation(self):
        return self.organisation


class Licence(TimeStamped):
    """A licence, certificate or approval held by an organisation or a person.

    A renewal is a new row; the old one stays as history. Validity on a date is answered by
    `backend.policies`, never by ad-hoc checks elsewhere.
    """

    class Kind(models.TextChoices):
        MEDICAL_PRACTICE = "medical_practice", _("medical institution practice licence")
        FAMILY_PLANNING_SERVICE = "family_planning_service", _("family-planning technical service licence")
        TERMINATION_APPROVAL = "termination_approval", _("termination-surgery approval")
        DRUG_WHOLESALE = "drug_wholesale", _("drug business licence (wholesale)")
        DRUG_RETAIL = "drug_retail", _("drug business licence (retail)")
        PHYSICIAN = "physician", _("physician practice certificate")
        PHARMACIST = "pharmacist", _("pharmacist qualification")
        MATERNAL_INFANT = "maternal_infant", _("maternal and infant health technical certificate (母婴保健技术考核合格证书)")
        OTHER = "other", _("other")

    class Scope(models.TextChoices):
        ULTRASOUND = "ultrasound", _("ultrasound")
        CHROMOSOME_TESTING = "chromosome_testing", _("chromosome testing")
        PRENATAL_DIAGNOSIS = "prenatal_diagnosis", _("prenatal diagnosis")
        TERMINATION_SURGERY = "termination_surgery", _("termination of pregnancy")
        OBSTETRICS = "obstetrics", _("obstetrics and gynaecology")

    ORGANISATION_KINDS = frozenset({
        Kind.MEDICAL_PRACTICE, Kind.FAMILY_PLANNING_SERVICE, Kind.TERMINATION_APPROVAL,
        Kind.DRUG_WHOLESALE, Kind.DRUG_RETAIL, Kind.OTHER,
    })
    PERSON_KINDS = frozenset({Kind.PHYSICIAN, Kind.PHARMACIST, Kind.MATERNAL_INFANT, Kind.OTHER})

    holder_organisation = models.ForeignKey(
        Organisation, verbose_name=_("holder (organisation)"), null=True, blank=True,
        on_delete=models.PROTECT, related_name="licences",
    )
    holder_person = models.ForeignKey(
        Person, verbose_name=_("holder (person)"), null=True, blank=True,
        on_delete=models.PROTECT, related_name="licences",
    )
    kind = models.CharField(_("kind"), max_length=30, choices=Kind.choices, db_index=True)
    number = models.CharField(_("number"), max_length=100)
    issuing_authority = models.CharField(_("issuing authority"), max_length=200)
    valid_from = models.DateField(_("valid from"))
    valid_until = models.DateField(_("valid until"), null=True, blank=True)
    scope = models.JSONField(_("scope"), default=list, blank=True)
    scope_text = models.CharField(_("scope as printed"), max_length=500, blank=True)
    revoked_at = models.DateField(_("revoked on"), null=True, blank=True)
    revoked_reason = models.CharField(_("reason for revocation"), max_length=300, blank=True)
    # Stored by backend.uploads, like Person.photo.
    scan = models.CharField(_("scan"), max_length=200, blank=True, editable=False)
    scan_thumbnail = models.CharField(_("scan thumbnail"), max_length=200, blank=True, editable=False)

    class Meta:
        ordering = ["-valid_from", "id"]
        verbose_name = _("licence")
        verbose_name_plural = _("licences")
        constraints = [
            models.CheckConstraint(
                condition=(Q(holder_organisation__isnull=False) & Q(holder_person__isnull=True))
                | (Q(holder_organisation__isnull=True) & Q(holder_person__isnull=False)),
                name="licence_exactly_one_holder",
            ),
            models.CheckConstraint(
                condition=Q(valid_until__isnull=True) | Q(valid_until__gte=models.F("valid_from")),
                name="licence_valid_until_after_from",
            ),
            models.CheckConstraint(
                condition=Q(revoked_at__isnull=True) | ~Q(revoked_reason=""),
                name="licence_revocation_has_reason",
            ),
            models.UniqueConstraint(fields=["kind", "number", "issuing_authority"], name="licence_unique_number"),
        ]
        indexes = [models.Index(fields=["valid_until"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.number}"

    def audit_organisation(self):
        if self.holder_organisation_id:
            return self.holder_organisation
        return self.holder_person.organisation if self.holder_person_id else None

    @property
    def holder(self) -> Organisation | Person | None:
        return self.holder_organisation or self.holder_person

    def is_valid_on(self, on: dt.date) -> bool:
        if self.valid_from > on:
            return False
        if self.valid_until is not None and self.valid_until < on:
            return False
        return not (self.revoked_at is not None and self.revoked_at <= on)

    def clean(self) -> None:
        errors = {}
        if bool(self.holder_organisation_id) == bool(self.holder_person_id):
            errors["holder_organisation"] = _("a licence has exactly one holder: an organisation or a person")
        elif self.holder_person_id and self.kind not in self.PERSON_KINDS:
            errors["kind"] = _("%(kind)s is held by an organisation, not a person") % {"kind": self.get_kind_display()}
        elif self.holder_organisation_id and self.kind not in self.ORGANISATION_KINDS:
            errors["kind"] = _("%(kind)s is held by a person, not an organisation") % {"kind": self.get_kind_display()}
        if self.valid_from and self.valid_until and self.valid_until < self.valid_from:
            errors["valid_until"] = _("valid until is before valid from")
        if self.revoked_at and not self.revoked_reason:
            errors["revoked_reason"] = _("a revocation needs a reason")
        bad_scope = [s for s in (self.scope or []) if s not in self.Scope.values]
        if not isinstance(self.scope, list) or bad_scope:
            errors["scope"] = _("unknown scope items: %(items)s") % {"items": ", ".join(map(str, bad_scope))}
        if errors:
            raise ValidationError(errors)


# --- users and roles ------------------------------------------------------------------


class User(AbstractUser):
    """A login that acts for one organisation in one role."""

    class Role(models.TextChoices):
        PHARMACIST = "pharmacist", _("pharmacist")
        PHYSICIAN = "physician", _("physician")
        WHOLESALER_CLERK = "wholesaler_clerk", _("wholesaler clerk")
        INSPECTOR = "inspector", _("inspector")
        OFFICE_ADMIN = "office_admin", _("office administrator")

    class Department(models.TextChoices):
        HEALTH = "health", _("health")
        FAMILY_PLANNING = "family_planning", _("family planning")
        DRUG_ADMINISTRATION = "drug_administration", _("drug administration")
        POLICE = "police", _("public security")

    organisation = models.ForeignKey(
        Organisation, verbose_name=_("organisation"), null=True, blank=True,
        on_delete=models.PROTECT, related_name="users",
    )
    role = models.CharField(pgettext_lazy("user", "role"), max_length=20, choices=Role.choices, blank=True)
    department = models.CharField(_("department"), max_length=20, choices=Department.choices, blank=True)
    person = models.OneToOneField(
        Person, verbose_name=_("person"), null=True, blank=True, on_delete=models.PROTECT, related_name="user",
    )

    class Meta(AbstractUser.Meta):
        constraints = [
            models.CheckConstraint(
                condition=~Q(role="inspector") | ~Q(department=""), name="user_inspector_has_department",
            ),
            models.CheckConstraint(
                condition=Q(role="") | Q(organisation__isnull=False), name="user_role_needs_organisation",
            ),
        ]

    AUTHORITY_ROLES = frozenset({Role.INSPECTOR, Role.OFFICE_ADMIN})

    @property
    def is_authority(self) -> bool:
        return self.role in self.AUTHORITY_ROLES and self.organisation_id is not None

    @property
    def jurisdiction_prefix(self) -> str | None:
        if self.organisation_id is None:
            return None
        return self.organisation.jurisdiction.prefix

    def clean(self) -> None:
        super().clean()
        errors = {}
        if self.role == self.Role.INSPECTOR and not self.department:
            errors["department"] = _("an inspector belongs to a department")
        if self.role and not self.organisation_id:
            errors["organisation"] = _("a user with a role acts for an organisation")
        if self.role in self.AUTHORITY_ROLES and self.organisation_id and (
            self.organisation.kind != Organisation.Kind.AUTHORITY
        ):
            errors["role"] = _("inspectors and office administrators act for an authority")
        if errors:
            raise ValidationError(errors)


from backend.idempotency import IdempotencyKey  # noqa: E402,F401
