from functools import cache

from django.apps import apps
from rest_framework import serializers

from audits.models import AuditEntry


@cache
def _masked_fields(object_type: str) -> frozenset[str]:
    """The fields the model of `object_type` ("app.model") keeps masked in the trail."""
    try:
        model = apps.get_model(object_type)
    except (LookupError, ValueError):
        return frozenset()
    return frozenset(getattr(model, "AUDIT_MASKED_FIELDS", ()))


def masked_document(object_type: str, document):
    """`document` (an entry's before or after) with the model's masked fields masked, in case
    an entry holds one in clear: written before the field was on the model's list, or by a
    caller that passed its own `after`. Entries masked when written are returned unchanged."""
    from audits.services import masked, masked_text

    fields = _masked_fields(object_type)
    if not fields or not isinstance(document, dict):
        return document
    out = dict(document)
    for name in fields.intersection(out):
        value = out[name]
        if isinstance(value, dict) and isinstance(value.get("masked"), str):
            # masked by an older rule, which kept the ends of any long text
            out[name] = {**value, "masked": masked_text(name, value["masked"])}
        elif value not in (None, ""):
            out[name] = masked(name, str(value))
    return out


class AuditEntrySerializer(serializers.ModelSerializer):
    before = serializers.SerializerMethodField()
    after = serializers.SerializerMethodField()

    class Meta:
        model = AuditEntry
        fields = ["id", "seq", "created_at", "actor_id", "actor_username", "organisation_id",
                  "subject_organisation_id", "jurisdiction_code", "ip", "action", "transition",
                  "object_type", "object_id", "before", "after", "prev_hash", "hash"]
        read_only_fields = fields

    def get_before(self, entry) -> dict | None:
        return masked_document(entry.object_type, entry.before)

    def get_after(self, entry) -> dict | None:
        return masked_document(entry.object_type, entry.after)
