from rest_framework import serializers

from audits.models import AuditEntry


class AuditEntrySerializer(serializers.ModelSerializer):
    before = serializers.JSONField(read_only=True)
    after = serializers.JSONField(read_only=True)

    class Meta:
        model = AuditEntry
        fields = ["id", "seq", "created_at", "actor_id", "actor_username", "organisation_id",
                  "subject_organisation_id", "jurisdiction_code", "ip", "action", "transition",
                  "object_type", "object_id", "before", "after", "prev_hash", "hash"]
        read_only_fields = fields
