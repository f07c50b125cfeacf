from __future__ import annotations

from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from backend.models import Jurisdiction, Licence, Organisation, Person, User
from backend.uploads import ImageUploadField


class JurisdictionSerializer(serializers.ModelSerializer):
    prefix = serializers.CharField(read_only=True)

    class Meta:
        model = Jurisdiction
        fields = ["id", "code", "name", "level", "parent", "prefix", "dual_signoff_required",
                  "monthly_filing_due_day", "created_at", "updated_at"]
        read_only_fields = ["created_at", "updated_at"]
        # Uniqueness is checked by the service (full_clean) inside the transaction.
        extra_kwargs = {"code": {"validators": []}}


class OrganisationSerializer(serializers.ModelSerializer):
    jurisdiction_code = serializers.CharField(source="jurisdiction.code", read_only=True)

    class Meta:
        model = Organisation
        fields = ["id", "name", "kind", "credit_code", "jurisdiction", "jurisdiction_code", "address",
                  "contact_name", "contact_phone", "created_at", "updated_at"]
        read_only_fields = ["created_at", "updated_at"]
        # Uniqueness is checked by the service; the length after removing separators by
        # validate_credit_code (a pasted "91430421 MA4L..." is longer than 18 before that).
        extra_kwargs = {"credit_code": {"validators": [], "max_length": 40}}

    def validate_credit_code(self, value: str) -> str:
        from backend.models import normalise_uscc, validate_uscc

        value = normalise_uscc(value)
        validate_uscc(value)
        return value


class PersonListSerializer(serializers.ModelSerializer):
    """Lists never carry the full resident ID."""

    resident_id_masked = serializers.CharField(read_only=True)
    organisation_name = serializers.CharField(source="organisation.name", read_only=True, default=None)
    photo = ImageUploadField(read_only=True)  # URLs of the stored photo and its thumbnail
    photo_thumbnail = ImageUploadField(read_only=True)

    class Meta:
        model = Person
        fields = ["id", "name", "resident_id_masked", "photo", "photo_thumbnail", "organisation",
                  "organisation_name", "position", "phone", "created_at", "updated_at"]
        read_only_fields = fields


class PersonDetailSerializer(PersonListSerializer):
    """The full resident ID, for roles that need it (each read is audited)."""

    class Meta(PersonListSerializer.Meta):
        fields = [*PersonListSerializer.Meta.fields, "resident_id"]
        read_only_fields = fields


class PersonWriteSerializer(serializers.ModelSerializer):
    # Through the upload pipeline (backend.uploads): a PreparedImage, stored by the service.
    photo = ImageUploadField(required=False)

    class Meta:
        model = Person
        fields = ["name", "resident_id", "photo", "organisation", "position", "phone"]
        extra_kwargs = {"resident_id": {"validators": []}}

    def validate_resident_id(self, value: str) -> str:
        from backend.models import normalise_resident_id, validate_resident_id

        value = normalise_resident_id(value)
        validate_resident_id(value)
        return value


class LicenceSerializer(serializers.ModelSerializer):
    status = serializers.SerializerMethodField()
    scope = serializers.ListField(child=serializers.ChoiceField(choices=Licence.Scope.choices), required=False)
    scan = ImageUploadField(required=False)  # in: a file or data URI; out: the stored scan's URL
    scan_thumbnail = ImageUploadField(read_only=True)

    class Meta:
        model = Licence
        fields = ["id", "holder_organisation", "holder_person", "kind", "number", "issuing_authority",
                  "valid_from", "valid_until", "scope", "scope_text", "revoked_at", "revoked_reason",
                  "scan", "scan_thumbnail", "status", "created_at", "updated_at"]
        read_only_fields = ["revoked_at", "revoked_reason", "created_at", "updated_at"]
        validators = []  # the unique number is checked by the service (full_clean)

    @extend_schema_field(serializers.ChoiceField(choices=["valid", "expired", "revoked", "not_yet_valid"]))
    def get_status(self, licence: Licence) -> str:
        today = timezone.localdate()
        if licence.revoked_at is not None and licence.revoked_at <= today:
            return "revoked"
        if licence.valid_from > today:
            return "not_yet_valid"
        if licence.valid_until is not None and licence.valid_until < today:
            return "expired"
        return "valid"

    def validate(self, attrs):
        start = attrs.get("valid_from", getattr(self.instance, "valid_from", None))
        end = attrs.get("valid_until", getattr(self.instance, "valid_until", None))
        if start and end and end < start:
            raise serializers.ValidationError({"valid_until": _("valid until is before valid from")},
                                              code="date_order")
        return attrs


class LicenceScanSerializer(serializers.ModelSerializer):
    """What an organisation's own staff may change on its licences: the scan."""

    scan = ImageUploadField()

    class Meta:
        model = Licence
        fields = ["scan"]


class LicenceRevokeSerializer(serializers.Serializer):
    on = serializers.DateField(default=timezone.localdate)  # today in TIME_ZONE, not the server's
    reason = serializers.CharField(max_length=300)


class MeSerializer(serializers.ModelSerializer):
    organisation = OrganisationSerializer(read_only=True)
    jurisdiction_prefix = serializers.CharField(read_only=True)
    person = PersonListSerializer(read_only=True)

    class Meta:
        model = User
        fields = ["id", "username", "first_name", "last_name", "role", "department", "organisation",
                  "jurisdiction_prefix", "person"]
        read_only_fields = fields


class TokenRequestSerializer(serializers.Serializer):
    username = serializers.CharField()
    password = serializers.CharField(style={"input_type": "password"}, trim_whitespace=False)


class TokenSerializer(serializers.Serializer):
    token = serializers.CharField()


class ErrorBodySerializer(serializers.Serializer):
    code = serializers.CharField(help_text="stable, e.g. period_signed")
    message = serializers.CharField(help_text="in the request's language")
    details = serializers.JSONField(allow_null=True)


class ErrorSerializer(serializers.Serializer):
    """The one shape of every error (backend.errors), for the schema."""

    error = ErrorBodySerializer()
