"""Shapes of the drug-chain API. Serializers check shape; services enforce the rules."""

from __future__ import annotations

from django.utils import timezone
from rest_framework import serializers

from backend.api.fields import LeanFieldsMixin, PrimaryKeyField
from backend.idempotency import without_nul
from backend.models import Organisation, Person, normalise_resident_id, validate_resident_id
from inventory.models import (
    MAX_QUANTITY,
    Batch,
    Dispense,
    DispenseRefusal,
    Disposal,
    DrugProduct,
    Intake,
    PackCode,
    Seizure,
    Shipment,
    ShipmentLine,
    ShipmentRefusal,
    StockMovement,
)

# Formatting only (the settings' format, the current time zone), for the hand-written
# to_representation methods below: one field each instead of DRF binding a copy per call.
_DATETIME = serializers.DateTimeField()
_DATE = serializers.DateField()


class DrugProductSerializer(serializers.ModelSerializer):
    class Meta:
        model = DrugProduct
        fields = ["id", "generic_name", "generic_name_en", "brand_names", "strength", "form", "pack_size",
                  "counting_unit", "approval_number", "manufacturer", "traceability_product_code", "gtins",
                  "active"]
        read_only_fields = fields


class BatchSerializer(serializers.ModelSerializer):
    product_name = serializers.CharField(source="product.__str__", read_only=True)
    expired = serializers.SerializerMethodField()

    class Meta:
        model = Batch
        fields = ["id", "product", "product_name", "lot_number", "expiry_printed", "expiry_date",
                  "manufactured_on", "expired", "created_at"]
        read_only_fields = fields

    def get_expired(self, batch: Batch) -> bool:
        return batch.is_expired_on(timezone.localdate())


def iso_datetime(value, tz) -> str:
    """What `serializers.DateTimeField().to_representation` gives (ISO 8601 in the current
    time zone, "Z" for UTC), with the time zone looked up once by the caller."""
    text = value.astimezone(tz).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


class StockPositionSerializer(serializers.Serializer):
    """A cached position, from `selectors.stock_position_rows` (plain rows: balances are read
    often and for many batches at once)."""

    id = serializers.IntegerField()
    holder = serializers.IntegerField(source="holder_id")
    holder_name = serializers.CharField(source="holder__name")
    batch = serializers.IntegerField(source="batch_id")
    lot_number = serializers.CharField(source="batch__lot_number")
    expiry_date = serializers.DateField(source="batch__expiry_date")
    product = serializers.IntegerField(source="batch__product_id")
    product_name = serializers.SerializerMethodField()
    in_transit = serializers.BooleanField()
    quantity = serializers.IntegerField()
    updated_at = serializers.DateTimeField()

    _tz = None

    def get_product_name(self, row) -> str:
        return f"{row['batch__product__generic_name']} {row['batch__product__strength']}"

    def to_representation(self, row):  # the fields above, without per-field machinery
        if self._tz is None:  # once per response, not per row
            self._tz = timezone.get_current_timezone()
        return {"id": row["id"], "holder": row["holder_id"], "holder_name": row["holder__name"],
                "batch": row["batch_id"], "lot_number": row["batch__lot_number"],
                "expiry_date": row["batch__expiry_date"].isoformat(), "product": row["batch__product_id"],
                "product_name": self.get_product_name(row), "in_transit": row["in_transit"],
                "quantity": row["quantity"], "updated_at": iso_datetime(row["updated_at"], self._tz)}


class BalanceAsOfSerializer(serializers.Serializer):
    holder = serializers.IntegerField(source="holder_id")
    batch = serializers.IntegerField(source="batch_id")
    in_transit = serializers.BooleanField()
    quantity = serializers.IntegerField()
    as_of = serializers.DateField()


class StockMovementSerializer(serializers.ModelSerializer):
    """A stock-card row. Points at its document by id only: no patient data."""

    lot_number = serializers.CharField(source="batch.lot_number", read_only=True)
    product = serializers.IntegerField(source="batch.product_id", read_only=True)
    balance_after = serializers.IntegerField(read_only=True, allow_null=True, default=None,
                                             help_text="running balance (stock card: filter by holder and batch)")

    class Meta:
        model = StockMovement
        fields = ["id", "holder", "batch", "lot_number", "product", "in_transit", "quantity", "balance_after", "kind",
                  "occurred_at", "recorded_at", "actor", "corrects", "note", "intake", "shipment_line",
                  "dispense", "disposal", "seizure", "stock_count"]
        read_only_fields = fields


class MovementCorrectSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=300)


class IntakeSerializer(serializers.ModelSerializer):
    lot_number = serializers.CharField(source="batch.lot_number", read_only=True)
    product = serializers.IntegerField(source="batch.product_id", read_only=True)

    class Meta:
        model = Intake
        fields = ["id", "wholesaler", "supplier_name", "batch", "product", "lot_number", "quantity",
                  "invoice_number", "received_at", "recorded_by", "recorded_at"]
        read_only_fields = fields


class IntakeWriteSerializer(serializers.Serializer):
    """Name an existing batch, or product + lot number + printed expiry to register it."""

    batch = serializers.PrimaryKeyRelatedField(queryset=Batch.objects.all(), required=False)
    product = serializers.PrimaryKeyRelatedField(queryset=DrugProduct.objects.all(), required=False)
    lot_number = serializers.CharField(max_length=40, required=False)
    expiry_printed = serializers.CharField(max_length=20, required=False)
    manufactured_on = serializers.DateField(required=False, allow_null=True)
    quantity = serializers.IntegerField(min_value=1, max_value=MAX_QUANTITY)
    invoice_number = serializers.CharField(max_length=60)
    supplier_name = serializers.CharField(max_length=200)
    received_at = serializers.DateTimeField(required=False)
    pack_codes = serializers.ListField(child=serializers.CharField(max_length=80), required=False, default=list)

    def validate(self, attrs):
        if attrs.get("batch") is None and not all(attrs.get(k) for k in ("product", "lot_number", "expiry_printed")):
            raise serializers.ValidationError(
                {"batch": "name a batch, or product, lot_number and expiry_printed"}, code="batch_required")
        return attrs


class ShipmentLineSerializer(serializers.ModelSerializer):
    lot_number = serializers.CharField(source="batch.lot_number", read_only=True)
    product = serializers.IntegerField(source="batch.product_id", read_only=True)
    discrepancy = serializers.SerializerMethodField()

    class Meta:
        model = ShipmentLine
        fields = ["id", "batch", "lot_number", "product", "quantity", "received_quantity", "received_at",
                  "discrepancy"]
        read_only_fields = fields

    def get_discrepancy(self, line) -> dict | None:
        d = getattr(line, "discrepancy", None)
        if d is None:
            return None
        return {"kind": d.kind, "shipped": d.shipped, "received": d.received, "difference": d.difference,
                "note": d.note}


class ShipmentSerializer(serializers.ModelSerializer):
    lines = ShipmentLineSerializer(many=True, read_only=True)
    sender_name = serializers.CharField(source="sender.name", read_only=True)
    recipient_name = serializers.CharField(source="recipient.name", read_only=True)

    class Meta:
        model = Shipment
        fields = ["id", "kind", "status", "sender", "sender_name", "recipient", "recipient_name", "reference",
                  "created_by", "created_at", "dispatched_at", "dispatched_by", "closed_at", "closed_by",
                  "rejection_reason", "lines"]
        read_only_fields = fields


class ShipmentLineWriteSerializer(serializers.Serializer):
    batch = serializers.PrimaryKeyRelatedField(queryset=Batch.objects.all())
    quantity = serializers.IntegerField(min_value=1, max_value=MAX_QUANTITY)


class ShipmentWriteSerializer(serializers.Serializer):
    recipient = serializers.PrimaryKeyRelatedField(queryset=Organisation.objects.all())
    reference = serializers.CharField(max_length=60, required=False, allow_blank=True, default="")
    lines = ShipmentLineWriteSerializer(many=True, allow_empty=False)


class ShipmentDispatchSerializer(serializers.Serializer):
    occurred_at = serializers.DateTimeField(required=False)


class ReceiptLineSerializer(serializers.Serializer):
    line = serializers.IntegerField()
    received_quantity = serializers.IntegerField(min_value=0, max_value=MAX_QUANTITY)
    note = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")


class ShipmentReceiveSerializer(serializers.Serializer):
    lines = ReceiptLineSerializer(many=True, required=False)
    occurred_at = serializers.DateTimeField(required=False)


class ShipmentRejectSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=300)
    occurred_at = serializers.DateTimeField(required=False)


class ShipmentRefusalSerializer(serializers.ModelSerializer):
    sender_name = serializers.CharField(source="sender.name", read_only=True)
    recipient_name = serializers.CharField(source="recipient.name", read_only=True)

    class Meta:
        model = ShipmentRefusal
        fields = ["id", "shipment", "sender", "sender_name", "recipient", "recipient_name", "attempted_by",
                  "attempted_at", "act", "code", "message", "clauses", "lines"]
        read_only_fields = fields


class DispenseListSerializer(serializers.ModelSerializer):
    """Lists carry masked identifiers only."""

    patient_name_masked = serializers.CharField(read_only=True)
    patient_resident_id_masked = serializers.CharField(read_only=True)
    physician_name = serializers.CharField(source="physician.name", read_only=True)
    product = serializers.IntegerField(source="batch.product_id", read_only=True)
    lot_number = serializers.CharField(source="batch.lot_number", read_only=True)
    has_midterm_certificate = serializers.SerializerMethodField()

    class Meta:
        model = Dispense
        fields = ["id", "institution", "occurred_at", "patient_name_masked", "patient_resident_id_masked",
                  "gestational_weeks", "batch", "lot_number", "product", "pack_code", "quantity", "dose",
                  "prescription_number", "physician", "physician_name", "pharmacist", "emergency",
                  "papers_due_by", "has_midterm_certificate", "recorded_at"]
        read_only_fields = fields

    def get_has_midterm_certificate(self, d) -> bool:
        return bool(d.midterm_certificate_number)

    def to_representation(self, d):
        """The fields above, without DRF building ~20 fields from the model on every call
        (a third of a dispense POST's serializer time). tests/inventory/test_api.py checks
        this equals the generic ModelSerializer rendering."""
        return {
            "id": d.pk, "institution": d.institution_id, "occurred_at": _DATETIME.to_representation(d.occurred_at),
            "patient_name_masked": d.patient_name_masked, "patient_resident_id_masked": d.patient_resident_id_masked,
            "gestational_weeks": d.gestational_weeks, "batch": d.batch_id, "lot_number": d.batch.lot_number,
            "product": d.batch.product_id, "pack_code": d.pack_code_id, "quantity": d.quantity, "dose": d.dose,
            "prescription_number": d.prescription_number, "physician": d.physician_id,
            "physician_name": d.physician.name, "pharmacist": d.pharmacist_id, "emergency": d.emergency,
            "papers_due_by": _DATE.to_representation(d.papers_due_by),
            "has_midterm_certificate": self.get_has_midterm_certificate(d),
            "recorded_at": _DATETIME.to_representation(d.recorded_at),
        }


class DispenseDetailSerializer(DispenseListSerializer):
    """Full register entry, for the institution's own pharmacists and physicians and the
    jurisdiction's inspectors (each read is audited)."""

    emergency_physicians = serializers.SerializerMethodField()

    class Meta(DispenseListSerializer.Meta):
        fields = [*DispenseListSerializer.Meta.fields, "patient_name", "patient_age", "patient_address",
                  "patient_resident_id", "birth_permit", "children_count", "pregnancy_status",
                  "midterm_certificate_number", "midterm_certificate_office", "emergency_physicians"]
        read_only_fields = fields

    def get_emergency_physicians(self, d) -> list[int]:
        return [p.pk for p in d.emergency_physicians.all()] if d.emergency else []

    def to_representation(self, d):
        return {
            **super().to_representation(d), "patient_name": d.patient_name, "patient_age": d.patient_age,
            "patient_address": d.patient_address, "patient_resident_id": d.patient_resident_id,
            "birth_permit": d.birth_permit, "children_count": d.children_count,
            "pregnancy_status": d.pregnancy_status, "midterm_certificate_number": d.midterm_certificate_number,
            "midterm_certificate_office": d.midterm_certificate_office,
            "emergency_physicians": self.get_emergency_physicians(d),
        }


class PackCodeField(serializers.SlugRelatedField):
    """A registered pack code by its text. A NUL is refused before the lookup (PostgreSQL
    refuses it in a query, which would be a 500): no code carries one."""

    def to_internal_value(self, data):
        if isinstance(data, str) and "\x00" in data:
            self.fail("does_not_exist", slug_name=self.slug_field, value=without_nul(data))
        return super().to_internal_value(data)


class DispenseWriteSerializer(LeanFieldsMixin, serializers.Serializer):
    """A use of a termination drug for the use register: the patient, the pregnancy, the
    batch (or a scanned pack code), the dose, the prescription and the physician."""

    occurred_at = serializers.DateTimeField(required=False)
    patient_name = serializers.CharField(max_length=100)
    patient_age = serializers.IntegerField(min_value=10, max_value=70)
    patient_address = serializers.CharField(max_length=300)
    patient_resident_id = serializers.CharField(max_length=18, required=False, allow_blank=True, default="")
    birth_permit = serializers.ChoiceField(choices=Dispense.BirthPermit.choices)
    children_count = serializers.IntegerField(min_value=0, max_value=20)
    pregnancy_status = serializers.CharField(max_length=200)
    gestational_weeks = serializers.IntegerField(min_value=0, max_value=45)
    batch = PrimaryKeyField(queryset=Batch.objects.all(), required=False)
    pack_code = PackCodeField(slug_field="code", queryset=PackCode.objects.all(), required=False)
    quantity = serializers.IntegerField(min_value=1, max_value=MAX_QUANTITY)
    dose = serializers.CharField(max_length=100)
    prescription_number = serializers.CharField(max_length=60)
    # Licences are loaded by the service (with the institution's, in one query).
    physician = PrimaryKeyField(queryset=Person.objects.all())
    midterm_certificate_number = serializers.CharField(max_length=60, required=False, allow_blank=True, default="")
    midterm_certificate_office = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    emergency = serializers.BooleanField(required=False, default=False)
    emergency_physicians = serializers.PrimaryKeyRelatedField(queryset=Person.objects.all(),
                                                              many=True,
                                                              required=False, default=list)

    def validate_patient_resident_id(self, value: str) -> str:
        value = normalise_resident_id(value) if value else ""
        if value:
            validate_resident_id(value)
        return value

    def validate(self, attrs):
        if attrs.get("batch") is None and attrs.get("pack_code") is None:
            raise serializers.ValidationError({"batch": "name the batch or scan a pack code"}, code="batch_required")
        return attrs


class DispenseRefusalSerializer(serializers.ModelSerializer):
    class Meta:
        model = DispenseRefusal
        fields = ["id", "institution", "attempted_by", "attempted_at", "code", "message", "clauses", "physician",
                  "batch", "quantity", "prescription_number"]
        read_only_fields = fields


class DisposalSerializer(serializers.ModelSerializer):
    class Meta:
        model = Disposal
        fields = ["id", "holder", "batch", "quantity", "reason", "note", "witness_name", "witness", "occurred_at",
                  "recorded_by", "recorded_at"]
        read_only_fields = ["id", "holder", "recorded_by", "recorded_at"]
        extra_kwargs = {"occurred_at": {"required": False}, "witness_name": {"required": False, "allow_blank": True},
                        "quantity": {"min_value": 1, "max_value": MAX_QUANTITY}}


class SeizureSerializer(serializers.ModelSerializer):
    class Meta:
        model = Seizure
        fields = ["id", "holder", "authority", "batch", "quantity", "case_reference", "note", "off_books",
                  "occurred_at", "inspector", "recorded_at"]
        read_only_fields = ["id", "authority", "inspector", "recorded_at"]
        extra_kwargs = {"occurred_at": {"required": False}, "quantity": {"min_value": 1, "max_value": MAX_QUANTITY}}
