"""Django admin for the registry. Every save goes through the audit trail; nothing is
deleted here (a renewal is a new licence row; history stays)."""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from audits.services import audit_record, snapshot
from backend.models import Jurisdiction, Licence, Organisation, Person, User


class AuditedAdmin(admin.ModelAdmin):
    """Writes one audit entry per admin save; refuses deletes."""

    def save_model(self, request, obj, form, change):
        before = None
        if change and obj.pk:
            original = type(obj).objects.filter(pk=obj.pk).first()
            before = snapshot(original) if original is not None else None
        super().save_model(request, obj, form, change)
        audit_record(action="update" if change else "create", instance=obj, before=before, actor=request.user)

    def has_delete_permission(self, request, obj=None):
        return False


def thumbnail(field_name: str, label: str):
    @admin.display(description=label)
    def show(self, obj):
        image = getattr(obj, field_name)
        if not image:
            return "-"
        return format_html('<img src="{}" style="max-height:80px;max-width:120px" alt="">', image.url)

    return show


@admin.register(Jurisdiction)
class JurisdictionAdmin(AuditedAdmin):
    list_display = ["code", "name", "level", "parent"]
    list_filter = ["level"]
    search_fields = ["code", "name"]
    raw_id_fields = ["parent"]


class LicenceInline(admin.TabularInline):
    model = Licence
    fk_name = "holder_organisation"
    extra = 0
    fields = ["kind", "number", "valid_from", "valid_until", "revoked_at"]
    readonly_fields = fields
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Organisation)
class OrganisationAdmin(AuditedAdmin):
    list_display = ["name", "kind", "credit_code", "jurisdiction"]
    list_filter = ["kind", "jurisdiction"]
    search_fields = ["name", "credit_code"]
    raw_id_fields = ["jurisdiction"]
    inlines = [LicenceInline]


@admin.register(Person)
class PersonAdmin(AuditedAdmin):
    list_display = ["name", "masked_id", "organisation", "position", "photo_thumbnail"]
    list_filter = ["position"]
    search_fields = ["name"]
    raw_id_fields = ["organisation"]
    readonly_fields = ["photo_thumbnail"]
    photo_thumbnail = thumbnail("photo", _("photo"))

    @admin.display(description=_("resident ID number"))
    def masked_id(self, obj):
        return obj.resident_id_masked


@admin.register(Licence)
class LicenceAdmin(AuditedAdmin):
    list_display = ["number", "kind", "holder", "valid_from", "valid_until", "revoked_at", "scan_thumbnail"]
    list_filter = ["kind"]
    search_fields = ["number", "holder_organisation__name", "holder_person__name"]
    raw_id_fields = ["holder_organisation", "holder_person"]
    readonly_fields = ["scan_thumbnail"]
    scan_thumbnail = thumbnail("scan", _("scan"))


@admin.register(User)
class UserAdmin(AuditedAdmin, BaseUserAdmin):
    list_display = ["username", "role", "department", "organisation", "is_active"]
    list_filter = ["role", "department", "is_active"]
    raw_id_fields = ["organisation", "person"]
    fieldsets = [
        *BaseUserAdmin.fieldsets,
        (_("Role"), {"fields": ["organisation", "role", "department", "person"]}),
    ]
