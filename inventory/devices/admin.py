"""Read-only admin for the device registry: every change goes through the services (and the
audit trail), so the admin only looks. The exam register's patient fields stay masked here."""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from inventory.devices.models import Device, DeviceEvent, DeviceExam, DeviceRefusal


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class DeviceEventInline(admin.TabularInline):
    model = DeviceEvent
    fields = ["occurred_at", "kind", "actor", "holder", "person", "reference", "witness", "days_late", "reason"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Device)
class DeviceAdmin(ReadOnlyAdmin):
    list_display = ["asset_tag", "kind", "brand", "model", "serial_number", "holder", "status", "days_late",
                    "filed_at"]
    list_filter = ["kind", "status"]
    search_fields = ["asset_tag", "serial_number", "brand", "model", "holder__name"]
    inlines = [DeviceEventInline]


@admin.register(DeviceRefusal)
class DeviceRefusalAdmin(ReadOnlyAdmin):
    list_display = ["attempted_at", "code", "holder", "brand", "model", "serial_number", "device"]
    list_filter = ["code"]
    search_fields = ["serial_number", "brand", "model"]


@admin.register(DeviceExam)
class DeviceExamAdmin(ReadOnlyAdmin):
    list_display = ["performed_at", "device", "holder", "patient", "gestational_weeks", "operator"]
    exclude = ["patient_name", "patient_resident_id"]
    readonly_fields = ["patient"]

    @admin.display(description=_("patient (masked)"))
    def patient(self, exam):
        return f"{exam.patient_name_masked} {exam.patient_resident_id_masked}"
