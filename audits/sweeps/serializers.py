"""Shapes of the sweep API. Serializers validate shape; the services enforce the rules."""

from __future__ import annotations

import datetime as dt
import uuid

from django.core.files.storage import default_storage
from django.utils import timezone
from rest_framework import serializers

from audits.api.serializers import CountSessionSerializer
from audits.sweeps import checklist, selectors
from audits.sweeps.models import (
    Case,
    CaseEvent,
    ChecklistAnswer,
    EvidencePhoto,
    Finding,
    FindingAction,
    Sweep,
    Target,
    Team,
    Tick,
    Visit,
)
from backend.api.filters import BIGINT_MAX
from backend.models import User
from backend.uploads import ImageUploadField
from inventory.models import MAX_QUANTITY

# --- output -------------------------------------------------------------------------------


class TeamSerializer(serializers.ModelSerializer):
    members = serializers.SerializerMethodField()
    departments = serializers.SerializerMethodField()

    class Meta:
        model = Team
        fields = ["id", "sweep", "name", "leader", "members", "departments"]
        read_only_fields = fields

    def get_members(self, team) -> list[dict]:
        return [{"id": u.pk, "username": u.username, "department": u.department} for u in team.members.all()]

    def get_departments(self, team) -> list[str]:
        return sorted({u.department for u in team.members.all()})


class TargetSerializer(serializers.ModelSerializer):
    organisation_kind = serializers.CharField(source="organisation.kind", read_only=True, default=None)
    jurisdiction_code = serializers.CharField(source="jurisdiction.code", read_only=True)
    visit = serializers.SerializerMethodField()

    class Meta:
        model = Target
        fields = ["id", "sweep", "organisation", "organisation_kind", "site_name", "site_address", "jurisdiction",
                  "jurisdiction_code", "sources", "team", "visit"]
        read_only_fields = fields

    def get_visit(self, target) -> int | None:
        visit = getattr(target, "visit", None)  # a reverse one-to-one: None when there is none
        return visit.pk if visit is not None else None


class SweepSerializer(serializers.ModelSerializer):
    jurisdiction_code = serializers.CharField(source="jurisdiction.code", read_only=True)
    office_name = serializers.CharField(source="office.name", read_only=True)
    teams = TeamSerializer(many=True, read_only=True)
    targets = TargetSerializer(many=True, read_only=True)

    class Meta:
        model = Sweep
        fields = ["id", "name", "office", "office_name", "jurisdiction", "jurisdiction_code", "period_start",
                  "period_end", "departments", "status", "note", "created_by", "created_at", "finished_at", "teams",
                  "targets"]
        read_only_fields = fields


class AnswerSerializer(serializers.ModelSerializer):
    class Meta:
        model = ChecklistAnswer
        fields = ["id", "client_id", "item", "answer", "note", "answered_at", "recorded_by", "recorded_at"]
        read_only_fields = fields


class TickSerializer(serializers.ModelSerializer):
    device_label = serializers.SerializerMethodField()
    registered_holder_name = serializers.CharField(source="registered_holder.name", read_only=True, default=None)
    product_name = serializers.SerializerMethodField()
    lot_number = serializers.CharField(source="batch.lot_number", read_only=True, default=None)

    class Meta:
        model = Tick
        fields = ["id", "visit", "client_id", "kind", "code", "device", "device_label", "registered_holder",
                  "registered_holder_name", "product", "product_name", "batch", "lot_number", "pack_code",
                  "book_quantity", "flags", "scanned_at", "recorded_by", "recorded_at"]
        read_only_fields = fields

    def get_device_label(self, tick) -> str | None:
        return str(tick.device) if tick.device_id else None

    def get_product_name(self, tick) -> str | None:
        return str(tick.product) if tick.product_id else None


class PhotoSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()
    thumbnail_url = serializers.SerializerMethodField()

    class Meta:
        model = EvidencePhoto
        fields = ["id", "client_id", "finding_client_id", "caption", "taken_at", "url", "thumbnail_url", "sha256",
                  "width", "height", "content_type", "size", "recorded_by", "recorded_at"]
        read_only_fields = fields

    def get_url(self, photo) -> str:
        return default_storage.url(photo.path)

    def get_thumbnail_url(self, photo) -> str:
        return default_storage.url(photo.thumbnail_path)


class FindingActionSerializer(serializers.ModelSerializer):
    seizure_quantity = serializers.IntegerField(source="seizure.quantity", read_only=True, default=None)
    seizure_batch = serializers.IntegerField(source="seizure.batch_id", read_only=True, default=None)
    overdue = serializers.SerializerMethodField()
    verified_at = serializers.SerializerMethodField()

    class Meta:
        model = FindingAction
        fields = ["id", "kind", "device", "seizure", "seizure_batch", "seizure_quantity", "requirement", "deadline",
                  "overdue", "verified_at", "rectifies", "note", "actor", "occurred_at"]
        read_only_fields = fields

    @staticmethod
    def _verification(action):
        if action.kind != FindingAction.Kind.ORDER_RECTIFICATION:
            return None
        try:
            return action.verification
        except FindingAction.DoesNotExist:
            return None

    def get_overdue(self, action) -> bool | None:
        """An order past its deadline that no re-inspection has verified."""
        if action.kind != FindingAction.Kind.ORDER_RECTIFICATION:
            return None
        return self._verification(action) is None and action.deadline < timezone.localdate()

    def get_verified_at(self, action) -> dt.datetime | None:
        verification = self._verification(action)
        return serializers.DateTimeField().to_representation(verification.occurred_at) if verification else None


class FindingSerializer(serializers.ModelSerializer):
    rule_title = serializers.SerializerMethodField()
    site_name = serializers.CharField(source="visit.target.site_name", read_only=True)
    sweep = serializers.IntegerField(source="visit.sweep_id", read_only=True)
    actions = FindingActionSerializer(many=True, read_only=True)
    evidence = serializers.SerializerMethodField()
    case = serializers.SerializerMethodField()

    class Meta:
        model = Finding
        fields = ["id", "visit", "sweep", "client_id", "organisation", "site_name", "jurisdiction", "rule",
                  "rule_title", "severity", "description", "evidence", "found_at", "recorded_by", "recorded_at",
                  "actions", "case"]
        read_only_fields = fields

    def get_rule_title(self, finding) -> str:
        return checklist.rule_title(finding.rule)

    def get_evidence(self, finding) -> list[dict]:
        return selectors.resolve_evidence(finding)

    def get_case(self, finding) -> int | None:
        if self.context.get("member"):
            return None  # a case is the authorities' business
        case = getattr(finding, "case", None)
        return case.pk if case is not None else None


class VisitSerializer(serializers.ModelSerializer):
    site_name = serializers.CharField(source="target.site_name", read_only=True)

    class Meta:
        model = Visit
        fields = ["id", "sweep", "target", "site_name", "organisation", "jurisdiction", "team", "status",
                  "opened_by", "opened_at", "closed_by", "closed_at", "count_session", "note"]
        read_only_fields = fields


class VisitDetailSerializer(VisitSerializer):
    checklist = serializers.SerializerMethodField()
    answers = AnswerSerializer(many=True, read_only=True)
    ticks = TickSerializer(many=True, read_only=True)
    findings = FindingSerializer(many=True, read_only=True)
    photos = PhotoSerializer(many=True, read_only=True)
    count = serializers.SerializerMethodField()

    class Meta(VisitSerializer.Meta):
        fields = [*VisitSerializer.Meta.fields, "checklist", "answers", "ticks", "findings", "photos", "count"]
        read_only_fields = fields

    def get_checklist(self, visit) -> list[dict]:
        return selectors.checklist_state(visit)

    def get_count(self, visit) -> dict | None:
        return CountSessionSerializer(visit.count_session).data if visit.count_session_id else None


class CaseEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = CaseEvent
        fields = ["id", "status", "note", "outcome", "fine_yuan", "actor", "occurred_at"]
        read_only_fields = fields


class CaseSerializer(serializers.ModelSerializer):
    events = CaseEventSerializer(many=True, read_only=True)
    visit = serializers.IntegerField(source="finding.visit_id", read_only=True)

    class Meta:
        model = Case
        fields = ["id", "number", "finding", "visit", "title", "summary", "organisation", "jurisdiction", "status",
                  "outcome", "fine_yuan", "opened_by", "opened_at", "closed_at", "events"]
        read_only_fields = fields


# --- input --------------------------------------------------------------------------------


class SweepPlanSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    jurisdiction = serializers.IntegerField(help_text="jurisdiction id")
    period_start = serializers.DateField()
    period_end = serializers.DateField()
    departments = serializers.ListField(child=serializers.ChoiceField(choices=User.Department.choices),
                                        min_length=1)
    note = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class TeamCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    members = serializers.ListField(child=serializers.IntegerField(min_value=1, max_value=BIGINT_MAX), min_length=1,
                                    max_length=50, help_text="user ids")
    leader = serializers.IntegerField(required=False, allow_null=True, default=None, min_value=1,
                                      max_value=BIGINT_MAX)


class TargetAddSerializer(serializers.Serializer):
    organisation = serializers.IntegerField(required=False, allow_null=True, default=None)
    site_name = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    site_address = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")
    jurisdiction = serializers.IntegerField(required=False, allow_null=True, default=None)
    team = serializers.IntegerField(required=False, allow_null=True, default=None)


class GenerateTargetsSerializer(serializers.Serializer):
    sources = serializers.ListField(child=serializers.CharField(max_length=30), required=False, default=list,
                                    help_text="device_holder, approved_institution, medical_institution, wholesaler, "
                                              "retail_pharmacy, "
                                              "individual_clinic (default: all)")


class AssignSerializer(serializers.Serializer):
    target = serializers.IntegerField()
    team = serializers.IntegerField(allow_null=True)


class VisitOpenSerializer(serializers.Serializer):
    target = serializers.IntegerField()
    note = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class VisitCloseSerializer(serializers.Serializer):
    note = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class _Item(serializers.Serializer):
    client_id = serializers.UUIDField()


class AnswerItemSerializer(_Item):
    item = serializers.CharField(max_length=40)
    answer = serializers.CharField(max_length=3)
    note = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")
    answered_at = serializers.DateTimeField(required=False, allow_null=True, default=None)


class ScanItemSerializer(_Item):
    code = serializers.CharField(max_length=2000, trim_whitespace=False)
    scanned_at = serializers.DateTimeField(required=False, allow_null=True, default=None)


class EvidenceRefSerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=["tick", "answer", "photo"])
    client_id = serializers.UUIDField()

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        return {"type": value["type"], "client_id": str(value["client_id"])}


class FindingItemSerializer(_Item):
    rule = serializers.ChoiceField(choices=sorted(checklist.RULES))
    severity = serializers.ChoiceField(choices=Finding.Severity.choices)
    description = serializers.CharField(max_length=5000)
    evidence = EvidenceRefSerializer(many=True, required=False, default=list)
    found_at = serializers.DateTimeField(required=False, allow_null=True, default=None)


class PhotoItemSerializer(_Item):
    image = ImageUploadField(help_text="a JPEG, PNG or WebP (base64 data URI in JSON)")
    caption = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")
    finding_client_id = serializers.UUIDField(required=False, allow_null=True, default=None)
    taken_at = serializers.DateTimeField(required=False, allow_null=True, default=None)


ITEM_SERIALIZERS = {
    "answer": AnswerItemSerializer,
    "scan": ScanItemSerializer,
    "finding": FindingItemSerializer,
    "photo": PhotoItemSerializer,
}
MAX_SYNC_ITEMS = 200


class SyncSerializer(serializers.Serializer):
    """`{"items": [{"type": "answer" | "scan" | "finding" | "photo", "client_id": "<uuid>", ...}]}`;
    each item is validated on its own (one bad item does not refuse the batch)."""

    items = serializers.ListField(child=serializers.JSONField(), min_length=1, max_length=MAX_SYNC_ITEMS)


class FindingCreateSerializer(FindingItemSerializer):
    visit = serializers.IntegerField()
    client_id = serializers.UUIDField(required=False, default=uuid.uuid4)


class SealSerializer(serializers.Serializer):
    device = serializers.IntegerField()
    reason = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")


class SeizeSerializer(serializers.Serializer):
    batch = serializers.IntegerField(min_value=1, max_value=BIGINT_MAX)
    quantity = serializers.IntegerField(min_value=1, max_value=MAX_QUANTITY)
    note = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")
    off_books = serializers.BooleanField(required=False, default=False,
                                         help_text="found where the site's books show none (e.g. a retail pharmacy)")


class RectificationSerializer(serializers.Serializer):
    requirement = serializers.CharField(max_length=2000)
    deadline = serializers.DateField()


class VerifyRectificationSerializer(serializers.Serializer):
    order = serializers.IntegerField(help_text="the rectification order (a finding action) re-inspected")
    note = serializers.CharField(max_length=500, help_text="what the re-inspection found")


class CaseOpenSerializer(serializers.Serializer):
    finding = serializers.IntegerField()
    title = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    summary = serializers.CharField(max_length=5000, required=False, allow_blank=True, default="")


class FollowUpSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=Case.Status.choices)
    note = serializers.CharField(max_length=5000, required=False, allow_blank=True, default="")
    outcome = serializers.CharField(max_length=5000, required=False, allow_blank=True, default="")
    fine_yuan = serializers.IntegerField(required=False, allow_null=True, default=None, min_value=0)
