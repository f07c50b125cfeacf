"""Shapes of the device API. Serializers validate shape; the services enforce the rules."""

from __future__ import annotations

import datetime as dt

from django.core.files.storage import default_storage
from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from backend.models import Organisation, Person
from backend.uploads import ImageUploadField
from inventory.devices.models import (
    FILING_DEADLINE_DAYS,
    Capability,
    Device,
    DeviceEvent,
    DeviceExam,
    DeviceImage,
    DeviceKind,
    DeviceRefusal,
)


class PersonRefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Person
        fields = ["id", "name", "position"]
        read_only_fields = fields


class DeviceImageSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()
    thumbnail_url = serializers.SerializerMethodField()

    class Meta:
        model = DeviceImage
        fields = ["id", "role", "person", "url", "thumbnail_url", "sha256", "width", "height", "content_type",
                  "size", "uploaded_at"]
        read_only_fields = fields

    def get_url(self, image) -> str:
        return default_storage.url(image.path)

    def get_thumbnail_url(self, image) -> str:
        return default_storage.url(image.thumbnail_path)


class DeviceSerializer(serializers.ModelSerializer):
    holder_name = serializers.CharField(source="holder.name", read_only=True)
    jurisdiction_code = serializers.CharField(source="holder.jurisdiction.code", read_only=True)
    custodian = PersonRefSerializer(read_only=True)
    operators = PersonRefSerializer(many=True, read_only=True)
    images = DeviceImageSerializer(many=True, read_only=True)
    seal_image_url = serializers.SerializerMethodField()
    late = serializers.BooleanField(read_only=True)
    filing_due_by = serializers.SerializerMethodField()
    filed_by = serializers.CharField(source="filed_by.username", read_only=True, default=None)

    class Meta:
        model = Device
        fields = ["id", "asset_tag", "kind", "brand", "model", "capabilities", "place_of_origin",
                  "manufactured_on", "purchased_on", "serial_number", "holder", "holder_name",
                  "jurisdiction_code", "main_use", "custodian", "operators", "images", "seal_image_url", "status",
                  "duty_started_on", "filing_due_by", "late", "days_late", "filed_at", "filed_by", "created_at"]
        read_only_fields = fields

    def get_seal_image_url(self, device) -> str:
        return default_storage.url(device.seal_image) if device.seal_image else ""

    @extend_schema_field(serializers.DateField())
    def get_filing_due_by(self, device) -> dt.date:
        return device.duty_started_on + dt.timedelta(days=FILING_DEADLINE_DAYS)


class DeviceFileSerializer(serializers.Serializer):
    """A filing (备案), sent as multipart/form-data: photos and the seal image are files."""

    kind = serializers.ChoiceField(choices=DeviceKind.choices)
    brand = serializers.CharField(max_length=100)
    model = serializers.CharField(max_length=100)
    capabilities = serializers.ListField(child=serializers.ChoiceField(choices=Capability.choices), required=False,
                                         default=list)
    place_of_origin = serializers.CharField(max_length=100)
    manufactured_on = serializers.DateField()
    purchased_on = serializers.DateField()
    serial_number = serializers.CharField(max_length=100)
    holder = serializers.PrimaryKeyRelatedField(queryset=Organisation.objects.select_related("jurisdiction"))
    main_use = serializers.CharField(max_length=300)
    custodian = serializers.PrimaryKeyRelatedField(queryset=Person.objects.all())
    operators = serializers.PrimaryKeyRelatedField(queryset=Person.objects.all(), many=True)
    photos = serializers.ListField(child=ImageUploadField(), min_length=1, max_length=10)
    seal_image = ImageUploadField()


class DevicePhotosSerializer(serializers.Serializer):
    photos = serializers.ListField(child=ImageUploadField(), min_length=1, max_length=10)
    person = serializers.PrimaryKeyRelatedField(queryset=Person.objects.all(), required=False, allow_null=True,
                                                help_text="an operator: the photos are of this operator")


class DeviceTransferSerializer(serializers.Serializer):
    to_holder = serializers.PrimaryKeyRelatedField(queryset=Organisation.objects.select_related("jurisdiction"))
    custodian = serializers.PrimaryKeyRelatedField(queryset=Person.objects.all())
    operators = serializers.PrimaryKeyRelatedField(queryset=Person.objects.all(), many=True)
    transferred_on = serializers.DateField(default=timezone.localdate)
    reason = serializers.CharField(max_length=1000, required=False, default="", allow_blank=True)


class DeviceSealSerializer(serializers.Serializer):
    reference = serializers.CharField(max_length=100, help_text="finding or case reference")
    reason = serializers.CharField(max_length=1000, required=False, default="", allow_blank=True)


class DeviceScrapSerializer(serializers.Serializer):
    witness = serializers.CharField(max_length=100)
    reason = serializers.CharField(max_length=1000, required=False, default="", allow_blank=True)


class DeviceOperatorSerializer(serializers.Serializer):
    person = serializers.PrimaryKeyRelatedField(queryset=Person.objects.all())
    reason = serializers.CharField(max_length=1000, required=False, default="", allow_blank=True)


class DeviceEventSerializer(serializers.ModelSerializer):
    actor = serializers.CharField(source="actor.username", read_only=True, default=None)
    holder_name = serializers.CharField(source="holder.name", read_only=True, default=None)

    class Meta:
        model = DeviceEvent
        fields = ["id", "device", "kind", "occurred_at", "actor", "reason", "holder", "holder_name", "custodian",
                  "operators", "duty_started_on", "days_late", "person", "reference", "witness"]
        read_only_fields = fields


class DeviceRefusalSerializer(serializers.ModelSerializer):
    actor = serializers.CharField(source="actor.username", read_only=True, default=None)
    holder_name = serializers.CharField(source="holder.name", read_only=True, default=None)
    to_holder_name = serializers.CharField(source="to_holder.name", read_only=True, default=None)

    class Meta:
        model = DeviceRefusal
        fields = ["id", "attempted_at", "act", "actor", "holder", "holder_name", "to_holder", "to_holder_name",
                  "code", "message", "kind", "brand", "model", "serial_number", "device", "details"]
        read_only_fields = fields


class ExamListSerializer(serializers.ModelSerializer):
    """Lists never carry the patient's full name or resident ID."""

    patient_name = serializers.CharField(source="patient_name_masked", read_only=True)
    patient_resident_id = serializers.CharField(source="patient_resident_id_masked", read_only=True)
    patient_masked = serializers.SerializerMethodField()
    operator = PersonRefSerializer(read_only=True)
    second_operator = PersonRefSerializer(read_only=True)
    holder_name = serializers.CharField(source="holder.name", read_only=True)

    class Meta:
        model = DeviceExam
        fields = ["id", "device", "performed_at", "patient_name", "patient_resident_id", "patient_masked",
                  "gestational_weeks", "indication", "operator", "second_operator", "result_summary", "holder",
                  "holder_name", "recorded_at"]
        read_only_fields = fields

    def get_patient_masked(self, exam) -> bool:
        return True


class ExamDetailSerializer(ExamListSerializer):
    """Full patient fields when `context["sees_patient"]` (each such read is audited)."""

    patient_name = serializers.SerializerMethodField()
    patient_resident_id = serializers.SerializerMethodField()

    def get_patient_masked(self, exam) -> bool:
        return not self.context.get("sees_patient", False)

    def get_patient_name(self, exam) -> str:
        return exam.patient_name if self.context.get("sees_patient") else exam.patient_name_masked

    def get_patient_resident_id(self, exam) -> str:
        return exam.patient_resident_id if self.context.get("sees_patient") else exam.patient_resident_id_masked


class ExamWriteSerializer(serializers.Serializer):
    device = serializers.PrimaryKeyRelatedField(queryset=Device.objects.all())
    performed_at = serializers.DateTimeField(default=timezone.now)
    patient_name = serializers.CharField(max_length=100)
    patient_resident_id = serializers.CharField(max_length=20)
    gestational_weeks = serializers.IntegerField(min_value=1, max_value=45)
    indication = serializers.CharField(max_length=300)
    operator = serializers.PrimaryKeyRelatedField(queryset=Person.objects.all())
    second_operator = serializers.PrimaryKeyRelatedField(queryset=Person.objects.all(), required=False,
                                                         allow_null=True, default=None)
    result_summary = serializers.CharField(max_length=4000)
