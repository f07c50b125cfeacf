"""Joint enforcement sweeps (联合执法检查 / 专项行动): the plan, the visits and what they found.

- `Sweep`: planned by the governance office for a period, a jurisdiction and departments;
  `Team`s of inspectors (at least two departments each) and `Target`s (sites generated from
  the registers, plus ad-hoc sites) assigned to teams.
- `Visit`: an inspector's visit to a target. What the visit records (checklist answers,
  scan ticks, findings, evidence photos) carries a client-generated `client_id` (UUID),
  unique per visit in the database, so a phone may queue them offline and upload them in
  any order, more than once, and each lands exactly once.
- `Finding`: a rule broken, with severity and evidence; its `FindingAction`s (device
  sealed, stock seized, rectification ordered) call the registry's and the ledger's own
  services; a `Case` (两非案件) is opened from a finding and followed up through `CaseEvent`s.

Append-only (a PostgreSQL trigger refuses UPDATE and DELETE, migrations 0002 and 0004): checklist
answers, ticks (and the scans folded into them), photos, findings, finding actions and case events. A later answer to the
same checklist item supersedes the earlier one (the latest wins; both stay).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from audits.sweeps.checklist import CHECKLIST, RULES
from inventory.devices.models import nameplate_text


class Sweep(models.Model):
    class Status(models.TextChoices):
        PLANNED = "planned", _("planned")
        ACTIVE = "active", _("under way")
        FINISHED = "finished", _("finished")

    name = models.CharField(_("name"), max_length=200)
    office = models.ForeignKey("backend.Organisation", verbose_name=_("governance office"),
                               on_delete=models.PROTECT, related_name="sweeps")
    jurisdiction = models.ForeignKey("backend.Jurisdiction", verbose_name=_("jurisdiction swept"),
                                     on_delete=models.PROTECT, related_name="sweeps")
    period_start = models.DateField(_("from"))
    period_end = models.DateField(_("until"))
    departments = models.JSONField(_("departments taking part"), default=list)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.PLANNED,
                              db_index=True)
    note = models.CharField(_("note"), max_length=500, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("planned by"), null=True,
                                   on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(_("planned at"))
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        ordering = ["-period_start", "-id"]
        verbose_name = _("sweep")
        verbose_name_plural = _("sweeps")
        constraints = [
            models.CheckConstraint(condition=Q(period_end__gte=models.F("period_start")),
                                   name="sweep_period_ordered"),
        ]

    def __str__(self) -> str:
        return self.name

    def audit_organisation(self):
        return self.office


class Team(models.Model):
    sweep = models.ForeignKey(Sweep, verbose_name=_("sweep"), on_delete=models.PROTECT, related_name="teams")
    name = models.CharField(_("name"), max_length=100)
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, verbose_name=_("inspectors"), related_name="+")
    leader = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("team leader"), null=True, blank=True,
                               on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["sweep_id", "id"]
        verbose_name = _("team")
        verbose_name_plural = _("teams")
        constraints = [models.UniqueConstraint(fields=["sweep", "name"], name="sweep_team_unique_name")]

    def __str__(self) -> str:
        return f"{self.sweep_id}: {self.name}"

    def audit_organisation(self):
        return self.sweep.office


class Target(models.Model):
    """A site the sweep visits: a registered organisation (from the registers) or an
    ad-hoc site (a tip-off, an unlicensed clinic) named by address."""

    class Source(models.TextChoices):
        DEVICE_HOLDER = "device_holder", _("device holder")
        APPROVED_INSTITUTION = "approved_institution", _("institution approved for termination surgery")
        # 拉网式检查: every other medical institution (no device, no valid approval) too
        MEDICAL_INSTITUTION = "medical_institution", _("other medical institution")
        WHOLESALER = "wholesaler", _("drug wholesaler")
        RETAIL_PHARMACY = "retail_pharmacy", _("retail pharmacy")
        INDIVIDUAL_CLINIC = "individual_clinic", _("individual clinic")
        AD_HOC = "ad_hoc", _("ad-hoc site")

    sweep = models.ForeignKey(Sweep, verbose_name=_("sweep"), on_delete=models.PROTECT, related_name="targets")
    organisation = models.ForeignKey("backend.Organisation", verbose_name=_("organisation"), null=True, blank=True,
                                     on_delete=models.PROTECT, related_name="sweep_targets")
    site_name = models.CharField(_("site name"), max_length=200)
    site_address = models.CharField(_("address"), max_length=300, blank=True)
    jurisdiction = models.ForeignKey("backend.Jurisdiction", verbose_name=_("jurisdiction"),
                                     on_delete=models.PROTECT, related_name="+")
    sources = models.JSONField(_("why it is on the list"), default=list)
    team = models.ForeignKey(Team, verbose_name=_("assigned team"), null=True, blank=True,
                             on_delete=models.PROTECT, related_name="targets")
    created_at = models.DateTimeField(_("added at"), auto_now_add=True)

    class Meta:
        ordering = ["sweep_id", "jurisdiction_id", "site_name", "id"]
        verbose_name = _("sweep target")
        verbose_name_plural = _("sweep targets")
        constraints = [
            models.UniqueConstraint(fields=["sweep", "organisation"], condition=Q(organisation__isnull=False),
                                    name="sweep_target_unique_organisation"),
        ]

    def __str__(self) -> str:
        return self.site_name

    def audit_organisation(self):
        return self.organisation or self.sweep.office


class Visit(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", pgettext_lazy("visit status", "open")
        CLOSED = "closed", _("closed")

    sweep = models.ForeignKey(Sweep, verbose_name=_("sweep"), on_delete=models.PROTECT, related_name="visits")
    target = models.OneToOneField(Target, verbose_name=_("target"), on_delete=models.PROTECT, related_name="visit")
    organisation = models.ForeignKey("backend.Organisation", verbose_name=_("inspected organisation"), null=True,
                                     blank=True, on_delete=models.PROTECT, related_name="visits")
    jurisdiction = models.ForeignKey("backend.Jurisdiction", verbose_name=_("jurisdiction"),
                                     on_delete=models.PROTECT, related_name="+")
    team = models.ForeignKey(Team, verbose_name=_("team"), null=True, blank=True, on_delete=models.PROTECT,
                             related_name="visits")
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.OPEN,
                              db_index=True)
    opened_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("opened by"), null=True,
                                  on_delete=models.PROTECT, related_name="+")
    opened_at = models.DateTimeField(_("opened at"))
    closed_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("closed by"), null=True, blank=True,
                                  on_delete=models.PROTECT, related_name="+")
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    count_session = models.ForeignKey("audits.CountSession", verbose_name=_("count (book vs shelf)"), null=True,
                                      blank=True, on_delete=models.PROTECT, related_name="+")
    note = models.CharField(_("note"), max_length=500, blank=True)

    class Meta:
        ordering = ["-opened_at", "-id"]
        verbose_name = _("visit")
        verbose_name_plural = _("visits")
        constraints = [
            models.CheckConstraint(condition=Q(status="open") | Q(closed_at__isnull=False),
                                   name="visit_closed_has_time"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.target}"

    def audit_organisation(self):
        return self.organisation


class VisitItem(models.Model):
    """What a phone may queue offline: `client_id` is the phone's UUID for the item."""

    # Each kind declares its own `visit` (related names answers, ticks, findings, photos).
    client_id = models.UUIDField(_("client id"))
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("recorded by"), null=True,
                                    on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(_("recorded at (server)"), auto_now_add=True)

    class Meta:
        abstract = True
        # A re-sent item is the same item: one row per phone UUID and visit.
        constraints = [models.UniqueConstraint(fields=["visit", "client_id"], name="%(class)s_unique_client")]

    def audit_organisation(self):
        return self.visit.organisation


class ChecklistAnswer(VisitItem):
    class Answer(models.TextChoices):
        YES = "yes", _("yes, complies")
        NO = "no", _("no, does not comply")
        NOT_APPLICABLE = "na", _("not applicable")

    visit = models.ForeignKey(Visit, verbose_name=_("visit"), on_delete=models.PROTECT, related_name="answers")
    item = models.CharField(_("checklist item"), max_length=40, choices=[(i.code, i.label) for i in CHECKLIST])
    answer = models.CharField(_("answer"), max_length=3, choices=Answer.choices)
    note = models.CharField(_("note"), max_length=500, blank=True)
    answered_at = models.DateTimeField(_("answered at (on the phone)"))

    class Meta(VisitItem.Meta):
        ordering = ["visit_id", "answered_at", "id"]
        verbose_name = _("checklist answer")
        verbose_name_plural = _("checklist answers")

    def __str__(self) -> str:
        return f"{self.item}: {self.answer}"


CODE_KEY_MAX = 220  # Tick.code_key: a code of 200 characters, upper-cased


def unregistered_key(code: str) -> str:
    """What an unregistered device's code is compared by ("sn-7788 " and "SN 7788" are one)."""
    return (nameplate_text(code) or code)[:CODE_KEY_MAX]


class Tick(VisitItem):
    """One register tick of a visit: a device or stock scanned at the site (or, at the
    close, a registered device nobody scanned)."""

    class Kind(models.TextChoices):
        DEVICE_FOUND = "device_found", _("device found (registered here)")
        DEVICE_WRONG_HOLDER = "device_wrong_holder", _("device registered to another holder")
        DEVICE_UNREGISTERED = "device_unregistered", _("device not in the register")
        DEVICE_MISSING = "device_missing", _("registered device not found")
        STOCK_ON_BOOKS = "stock_on_books", _("stock found on the books")
        STOCK_OFF_BOOKS = "stock_off_books", _("stock found off the books")

    visit = models.ForeignKey(Visit, verbose_name=_("visit"), on_delete=models.PROTECT, related_name="ticks")
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices, db_index=True)
    code = models.CharField(_("code scanned"), max_length=200, blank=True)
    # An unregistered device's code without case, spaces or punctuation (as a device's
    # identity): the same nameplate typed twice is one device. Empty on other kinds, and on
    # the unregistered ticks recorded before it existed (migration 0005).
    code_key = models.CharField(_("code compared"), max_length=CODE_KEY_MAX, blank=True, default="")
    device = models.ForeignKey("devices.Device", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    registered_holder = models.ForeignKey("backend.Organisation", verbose_name=_("registered holder"), null=True,
                                          blank=True, on_delete=models.PROTECT, related_name="+")
    product = models.ForeignKey("inventory.DrugProduct", null=True, blank=True, on_delete=models.PROTECT,
                                related_name="+")
    batch = models.ForeignKey("inventory.Batch", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    pack_code = models.ForeignKey("inventory.PackCode", null=True, blank=True, on_delete=models.PROTECT,
                                  related_name="+")
    book_quantity = models.IntegerField(_("on the site's books"), null=True, blank=True)
    flags = models.JSONField(_("flags (sealed, scrapped, prohibited holder...)"), default=list, blank=True)
    scanned_at = models.DateTimeField(_("scanned at (on the phone)"))

    class Meta(VisitItem.Meta):
        ordering = ["visit_id", "scanned_at", "id"]
        verbose_name = _("register tick")
        verbose_name_plural = _("register ticks")
        constraints = [
            *VisitItem.Meta.constraints,
            # A device is ticked once per visit (found, elsewhere or missing), a pack once,
            # an unknown code once.
            models.UniqueConstraint(fields=["visit", "device"], condition=Q(device__isnull=False),
                                    name="tick_unique_device"),
            models.UniqueConstraint(fields=["visit", "pack_code"], condition=Q(pack_code__isnull=False),
                                    name="tick_unique_pack"),
            models.UniqueConstraint(fields=["visit", "code"], condition=Q(kind="device_unregistered"),
                                    name="tick_unique_unregistered_code"),
            models.UniqueConstraint(fields=["visit", "code_key"], condition=Q(kind="device_unregistered")
                                    & ~Q(code_key=""), name="tick_unique_unregistered_key"),
            models.CheckConstraint(
                condition=~Q(kind__in=["device_found", "device_wrong_holder", "device_missing"])
                | Q(device__isnull=False), name="tick_device_kinds_name_device"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.code}"


class TickAlias(VisitItem):
    """A scan folded into an earlier tick of the same device, pack or unregistered code (a
    second phone, the serial plate after the asset tag): its client id stays an alias of the
    tick it was folded into, so a finding citing that scan as evidence resolves to the tick,
    and the id is not free for another item of the visit."""

    visit = models.ForeignKey(Visit, verbose_name=_("visit"), on_delete=models.PROTECT, related_name="tick_aliases")
    tick = models.ForeignKey(Tick, verbose_name=_("register tick"), on_delete=models.PROTECT, related_name="aliases")
    code = models.CharField(_("code scanned"), max_length=200, blank=True)

    class Meta(VisitItem.Meta):
        ordering = ["visit_id", "id"]
        verbose_name = _("folded scan")
        verbose_name_plural = _("folded scans")

    def __str__(self) -> str:
        return f"{self.client_id} -> {self.tick_id}"


class Finding(VisitItem):
    class Severity(models.TextChoices):
        LOW = "low", pgettext_lazy("finding severity", "low")
        MEDIUM = "medium", pgettext_lazy("finding severity", "medium")
        HIGH = "high", pgettext_lazy("finding severity", "high")
        CRITICAL = "critical", _("critical")

    visit = models.ForeignKey(Visit, verbose_name=_("visit"), on_delete=models.PROTECT, related_name="findings")
    organisation = models.ForeignKey("backend.Organisation", verbose_name=_("inspected organisation"), null=True,
                                     blank=True, on_delete=models.PROTECT, related_name="findings")
    jurisdiction = models.ForeignKey("backend.Jurisdiction", verbose_name=_("jurisdiction"),
                                     on_delete=models.PROTECT, related_name="+")
    rule = models.CharField(_("rule broken"), max_length=40, choices=[(code, label) for code, (_t, label)
                                                                        in RULES.items()])
    severity = models.CharField(_("severity"), max_length=10, choices=Severity.choices)
    description = models.TextField(_("what was found"))
    # [{"type": "tick" | "answer" | "photo", "client_id": "<uuid>"}]: resolved when read, so
    # the evidence may upload before or after the finding.
    evidence = models.JSONField(_("evidence"), default=list, blank=True)
    found_at = models.DateTimeField(_("found at (on the phone)"))

    class Meta(VisitItem.Meta):
        ordering = ["-found_at", "-id"]
        verbose_name = _("finding")
        verbose_name_plural = _("findings")

    def __str__(self) -> str:
        return f"#{self.pk} {self.rule} ({self.severity})"

    @property
    def reference(self) -> str:
        """Cited by seals and seizures."""
        return f"检查发现 SW{self.visit.sweep_id}-V{self.visit_id}-F{self.pk}"


class EvidencePhoto(VisitItem):
    """A photo taken on the visit (stored through backend.uploads), optionally for a finding
    named by its client id (which may arrive later)."""

    visit = models.ForeignKey(Visit, verbose_name=_("visit"), on_delete=models.PROTECT, related_name="photos")
    finding_client_id = models.UUIDField(_("finding (client id)"), null=True, blank=True, db_index=True)
    caption = models.CharField(_("caption"), max_length=300, blank=True)
    taken_at = models.DateTimeField(_("taken at (on the phone)"))
    path = models.CharField(_("stored file"), max_length=200)
    thumbnail_path = models.CharField(_("thumbnail"), max_length=200)
    sha256 = models.CharField(max_length=64)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    content_type = models.CharField(max_length=20)
    size = models.PositiveIntegerField()

    class Meta(VisitItem.Meta):
        ordering = ["visit_id", "taken_at", "id"]
        verbose_name = _("evidence photo")
        verbose_name_plural = _("evidence photos")

    def __str__(self) -> str:
        return self.path


class FindingAction(models.Model):
    """What the inspectors did about a finding. Seals and seizures are done by the registry's
    and the ledger's own services; this row points at what they wrote."""

    class Kind(models.TextChoices):
        SEAL_DEVICE = "seal_device", _("device sealed (查封)")
        SEIZE_STOCK = "seize_stock", _("stock seized")
        ORDER_RECTIFICATION = "order_rectification", _("rectification ordered")
        RECTIFICATION_VERIFIED = "rectification_verified", _("rectification verified (整改复查)")

    finding = models.ForeignKey(Finding, verbose_name=_("finding"), on_delete=models.PROTECT, related_name="actions")
    kind = models.CharField(_("kind"), max_length=24, choices=Kind.choices)
    device = models.ForeignKey("devices.Device", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    seizure = models.OneToOneField("inventory.Seizure", null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+")
    requirement = models.TextField(_("what must be rectified"), blank=True)
    deadline = models.DateField(_("rectify by"), null=True, blank=True)
    rectifies = models.OneToOneField("self", verbose_name=_("rectification order verified"), null=True, blank=True,
                                     on_delete=models.PROTECT, related_name="verification")
    note = models.CharField(_("note"), max_length=500, blank=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("inspector"), null=True,
                              on_delete=models.PROTECT, related_name="+")
    occurred_at = models.DateTimeField(_("at"))

    class Meta:
        ordering = ["finding_id", "occurred_at", "id"]
        verbose_name = _("finding action")
        verbose_name_plural = _("finding actions")
        constraints = [
            models.CheckConstraint(condition=~Q(kind="seal_device") | Q(device__isnull=False),
                                   name="findingaction_seal_names_device"),
            models.CheckConstraint(condition=~Q(kind="seize_stock") | Q(seizure__isnull=False),
                                   name="findingaction_seizure_names_seizure"),
            models.CheckConstraint(condition=~Q(kind="order_rectification")
                                   | (Q(deadline__isnull=False) & ~Q(requirement="")),
                                   name="findingaction_rectification_complete"),
            # A verification names the order it closes, and says what the re-inspection saw.
            models.CheckConstraint(condition=~Q(kind="rectification_verified")
                                   | (Q(rectifies__isnull=False) & ~Q(note="")),
                                   name="findingaction_verification_names_order"),
        ]

    def __str__(self) -> str:
        return f"{self.finding_id} {self.kind}"

    def audit_organisation(self):
        return self.finding.organisation


class Case(models.Model):
    """两非案件: opened from a finding; its status is a cache of its events."""

    class Status(models.TextChoices):
        OPEN = "open", _("open (立案)")
        INVESTIGATING = "investigating", _("under investigation")
        PENALISED = "penalised", _("penalty decided")
        TRANSFERRED = "transferred", _("transferred (to public security)")
        CLOSED = "closed", _("closed (结案)")

    finding = models.OneToOneField(Finding, verbose_name=_("finding"), on_delete=models.PROTECT, related_name="case")
    number = models.CharField(_("case number"), max_length=60, unique=True)
    title = models.CharField(_("title"), max_length=200)
    summary = models.TextField(pgettext_lazy("case", "summary"), blank=True)
    organisation = models.ForeignKey("backend.Organisation", verbose_name=_("party"), null=True, blank=True,
                                     on_delete=models.PROTECT, related_name="+")
    jurisdiction = models.ForeignKey("backend.Jurisdiction", verbose_name=_("jurisdiction"),
                                     on_delete=models.PROTECT, related_name="+")
    status = models.CharField(_("status"), max_length=15, choices=Status.choices, default=Status.OPEN,
                              db_index=True)
    outcome = models.TextField(_("outcome"), blank=True)
    fine_yuan = models.PositiveIntegerField(_("fine (yuan)"), null=True, blank=True)
    opened_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("opened by"), null=True,
                                  on_delete=models.PROTECT, related_name="+")
    opened_at = models.DateTimeField(_("opened at"))
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)

    class Meta:
        ordering = ["-opened_at", "-id"]
        verbose_name = _("case (两非案件)")
        verbose_name_plural = _("cases (两非案件)")
        constraints = [
            models.CheckConstraint(condition=Q(fine_yuan__isnull=True) | Q(fine_yuan__gte=1000, fine_yuan__lte=30000),
                                   name="case_fine_within_range"),
            models.CheckConstraint(condition=~Q(status="closed") | (Q(closed_at__isnull=False) & ~Q(outcome="")),
                                   name="case_closed_has_outcome"),
        ]

    def __str__(self) -> str:
        return self.number

    def audit_organisation(self):
        return self.organisation


class CaseEvent(models.Model):
    """One step of a case's follow-up (who, when, what), append-only."""

    case = models.ForeignKey(Case, verbose_name=_("case"), on_delete=models.PROTECT, related_name="events")
    status = models.CharField(_("status from then on"), max_length=15, choices=Case.Status.choices)
    note = models.TextField(_("note"), blank=True)
    outcome = models.TextField(_("outcome"), blank=True)
    fine_yuan = models.PositiveIntegerField(_("fine (yuan)"), null=True, blank=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("by"), null=True, on_delete=models.PROTECT,
                              related_name="+")
    occurred_at = models.DateTimeField(_("at"))

    class Meta:
        ordering = ["case_id", "occurred_at", "id"]
        verbose_name = _("case event")
        verbose_name_plural = _("case events")

    def __str__(self) -> str:
        return f"{self.case_id} → {self.status}"

    def audit_organisation(self):
        return self.case.organisation
