"""Shapes of the alerts API. Serializers validate shape; the services enforce the rules."""

from __future__ import annotations

from rest_framework import serializers

from audits.alerts.models import Alert
from backend import visibility


class EvidenceSerializer(serializers.Serializer):
    type = serializers.CharField(help_text="app.model, e.g. inventory.shipment")
    id = serializers.JSONField()


OWN_OFFICE_ONLY = ("acknowledgement_note", "resolution_note", "raised_by", "acknowledged_by", "resolved_by")


class AlertSerializer(serializers.ModelSerializer):
    type_display = serializers.CharField(source="get_type_display", read_only=True)
    severity_display = serializers.CharField(source="get_severity_display", read_only=True)
    status_display = serializers.CharField(source="get_status_display", read_only=True)
    subject = serializers.SerializerMethodField()
    organisation_name = serializers.CharField(source="organisation.name", read_only=True, default=None)
    evidence = EvidenceSerializer(many=True, read_only=True)
    raised_by = serializers.CharField(source="raised_by.username", read_only=True, default=None)
    acknowledged_by = serializers.CharField(source="acknowledged_by.username", read_only=True, default=None)
    resolved_by = serializers.CharField(source="resolved_by.username", read_only=True, default=None)

    class Meta:
        model = Alert
        fields = ["id", "type", "type_display", "severity", "severity_display", "status", "status_display",
                  "subject", "occurrence", "organisation", "organisation_name", "jurisdiction_code",
                  "other_jurisdiction_code", "summary",
                  "evidence", "figures", "raised_at", "raised_by", "acknowledged_at", "acknowledged_by",
                  "acknowledgement_note", "resolved_at", "resolved_by", "resolution_note"]
        read_only_fields = fields

    def get_subject(self, alert) -> dict:
        return {"type": alert.subject_type, "id": alert.subject_id}

    def to_representation(self, alert):
        data = super().to_representation(alert)
        request = self.context.get("request")
        user = getattr(request, "user", None)
        if user is not None and not visibility.in_jurisdiction_code(user, alert.jurisdiction_code):
            # The other party's county (other_jurisdiction_code) reads the finding, not the
            # acting office's notes or who in it did what.
            for name in OWN_OFFICE_ONLY:
                data[name] = "" if name.endswith("_note") else None
        return data


class AlertAcknowledgeSerializer(serializers.Serializer):
    note = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class AlertResolveSerializer(serializers.Serializer):
    note = serializers.CharField(max_length=500, required=False, allow_blank=True, default="",
                                 help_text="what was done (required)")
