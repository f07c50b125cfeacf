"""Django admin for the drug chain. The catalogue is edited here (audited); everything that
moves stock is read-only: it goes through the services (API, scanner), never the admin."""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from backend.admin import AuditedAdmin
from inventory.models import (
    Batch,
    Dispense,
    DispenseRefusal,
    Disposal,
    DrugProduct,
    Intake,
    PackCode,
    Seizure,
    Shipment,
    ShipmentDiscrepancy,
    ShipmentLine,
    ShipmentRefusal,
    StockCount,
    StockMovement,
    StockPosition,
)


@admin.register(DrugProduct)
class DrugProductAdmin(AuditedAdmin):
    list_display = ["generic_name", "strength", "form", "pack_size", "counting_unit", "approval_number",
                    "manufacturer", "traceability_product_code", "active"]
    list_filter = ["form", "active"]
    search_fields = ["generic_name", "generic_name_en", "approval_number", "traceability_product_code"]


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows written by services only: the admin shows them and changes nothing."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class PackCodeInline(admin.TabularInline):
    model = PackCode
    extra = 0
    fields = ["code", "kind", "registered_at"]
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Batch)
class BatchAdmin(ReadOnlyAdmin):
    list_display = ["product", "lot_number", "expiry_printed", "expiry_date", "manufactured_on", "created_at"]
    list_filter = ["product"]
    search_fields = ["lot_number"]
    date_hierarchy = "expiry_date"
    inlines = [PackCodeInline]


@admin.register(StockMovement)
class StockMovementAdmin(ReadOnlyAdmin):
    list_display = ["occurred_at", "holder", "batch", "in_transit", "quantity", "kind", "actor", "corrects"]
    list_filter = ["kind", "in_transit"]
    search_fields = ["holder__name", "batch__lot_number"]
    date_hierarchy = "occurred_at"
    list_select_related = ["holder", "batch__product", "actor"]


@admin.register(StockPosition)
class StockPositionAdmin(ReadOnlyAdmin):
    list_display = ["holder", "batch", "in_transit", "quantity", "updated_at"]
    list_filter = ["in_transit"]
    search_fields = ["holder__name", "batch__lot_number"]
    list_select_related = ["holder", "batch__product"]


@admin.register(Intake)
class IntakeAdmin(ReadOnlyAdmin):
    list_display = ["received_at", "wholesaler", "supplier_name", "batch", "quantity", "invoice_number"]
    search_fields = ["invoice_number", "wholesaler__name"]


class ShipmentLineInline(admin.TabularInline):
    model = ShipmentLine
    extra = 0
    fields = ["batch", "quantity", "received_quantity", "received_at"]
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Shipment)
class ShipmentAdmin(ReadOnlyAdmin):
    list_display = ["id", "kind", "status", "sender", "recipient", "dispatched_at", "closed_at"]
    list_filter = ["status", "kind"]
    search_fields = ["reference", "sender__name", "recipient__name"]
    inlines = [ShipmentLineInline]


@admin.register(ShipmentDiscrepancy)
class ShipmentDiscrepancyAdmin(ReadOnlyAdmin):
    list_display = ["line", "kind", "shipped", "received", "note", "recorded_at"]


@admin.register(ShipmentRefusal)
class ShipmentRefusalAdmin(ReadOnlyAdmin):
    list_display = ["attempted_at", "sender", "recipient", "code", "message"]
    list_filter = ["code"]


@admin.register(Dispense)
class DispenseAdmin(ReadOnlyAdmin):
    """No patient identifiers in the admin list: the API's audited detail view shows them."""

    list_display = ["occurred_at", "institution", "patient", "batch", "quantity", "physician", "pharmacist",
                    "emergency"]
    list_filter = ["emergency", "institution"]
    date_hierarchy = "occurred_at"
    fields = ["institution", "occurred_at", "batch", "quantity", "dose", "prescription_number", "physician",
              "pharmacist", "gestational_weeks", "emergency", "papers_due_by", "recorded_at"]

    @admin.display(description=_("patient"))
    def patient(self, obj):
        return obj.patient_name_masked


@admin.register(DispenseRefusal)
class DispenseRefusalAdmin(ReadOnlyAdmin):
    list_display = ["attempted_at", "institution", "code", "physician", "attempted_by"]
    list_filter = ["code"]


@admin.register(Disposal)
class DisposalAdmin(ReadOnlyAdmin):
    list_display = ["occurred_at", "holder", "batch", "quantity", "reason", "witness_name"]


@admin.register(Seizure)
class SeizureAdmin(ReadOnlyAdmin):
    list_display = ["occurred_at", "holder", "authority", "batch", "quantity", "case_reference", "inspector"]


@admin.register(StockCount)
class StockCountAdmin(ReadOnlyAdmin):
    list_display = ["occurred_at", "holder", "batch", "counted", "book_quantity"]
