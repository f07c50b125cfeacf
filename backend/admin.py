"""Django admin for the registry. Every save goes through the audit trail; nothing is
deleted here (a renewal is a new licence row; history stays)."""

from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.core.files.storage import default_storage
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from audits.services import audit_record, snapshot
from backend.models import Jurisdiction, Licence, Organisation, Person, User
from backend.uploads import UploadRefused, prepare_image


class ImageUploadFormField(forms.FileField):
    """An admin upload through backend.uploads: the cleaned value is a PreparedImage (checked
    by its bytes, upright, GPS removed; stored only when the row is saved). A refused file is
    a form error with the pipeline's message, and nothing is stored."""

    def clean(self, data, initial=None):
        file = super().clean(data, initial)
        if not file or file is initial:
            return None
        try:
            return prepare_image(file)
        except UploadRefused as exc:
            raise forms.ValidationError(exc.message, code=exc.code) from None


class AuditedAdmin(admin.ModelAdmin):
    """Writes one audit entry per admin save; refuses deletes. `image_uploads` maps a form
    field (an ImageUploadFormField) to the model field that keeps the stored image's path
    (and `<field>_thumbnail` its thumbnail's)."""

    image_uploads: dict[str, str] = {}

    def save_model(self, request, obj, form, change):
        before = None
        if change and obj.pk:
            original = type(obj).objects.filter(pk=obj.pk).first()
            before = snapshot(original) if original is not None else None
        for form_field, model_field in self.image_uploads.items():
            prepared = form.cleaned_data.get(form_field)
            if prepared is not None:
                prepared.store()
                prepared.attach(obj, model_field)
        super().save_model(request, obj, form, change)
        audit_record(action="update" if change else "create", instance=obj, before=before, actor=request.user)

    def has_delete_permission(self, request, obj=None):
        return False


def thumbnail(field_name: str, label: str):
    @admin.display(description=label)
    def show(self, obj):
        path = getattr(obj, field_name)
        if not path:
            return "-"
        small = getattr(obj, f"{field_name}_thumbnail", "") or path  # an old upload may have none
        return format_html('<a href="{}"><img src="{}" style="max-height:80px;max-width:120px" alt=""></a>',
                           default_storage.url(path), default_storage.url(small))

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


class PersonAdminForm(forms.ModelForm):
    photo_upload = ImageUploadFormField(label=_("photo"), required=False,
                                        help_text=_("JPEG, PNG or WebP, at most 10 MB and 40 megapixels."))

    class Meta:
        model = Person
        fields = ["name", "resident_id", "organisation", "position", "phone"]


@admin.register(Person)
class PersonAdmin(AuditedAdmin):
    form = PersonAdminForm
    image_uploads = {"photo_upload": "photo"}
    list_display = ["name", "masked_id", "organisation", "position", "photo_preview"]
    list_filter = ["position"]
    search_fields = ["name"]
    raw_id_fields = ["organisation"]
    readonly_fields = ["photo_preview"]
    photo_preview = thumbnail("photo", _("photo"))

    @admin.display(description=_("resident ID number"))
    def masked_id(self, obj):
        return obj.resident_id_masked


class LicenceAdminForm(forms.ModelForm):
    scan_upload = ImageUploadFormField(label=_("scan"), required=False,
                                       help_text=_("JPEG, PNG or WebP, at most 10 MB and 40 megapixels."))

    class Meta:
        model = Licence
        fields = ["holder_organisation", "holder_person", "kind", "number", "issuing_authority", "valid_from",
                  "valid_until", "scope", "scope_text", "revoked_at", "revoked_reason"]


@admin.register(Licence)
class LicenceAdmin(AuditedAdmin):
    form = LicenceAdminForm
    image_uploads = {"scan_upload": "scan"}
    list_display = ["number", "kind", "holder", "valid_from", "valid_until", "revoked_at", "scan_preview"]
    list_filter = ["kind"]
    search_fields = ["number", "holder_organisation__name", "holder_person__name"]
    raw_id_fields = ["holder_organisation", "holder_person"]
    readonly_fields = ["scan_preview"]
    scan_preview = thumbnail("scan", _("scan"))


@admin.register(User)
class UserAdmin(AuditedAdmin, BaseUserAdmin):
    list_display = ["username", "role", "department", "organisation", "is_active"]
    list_filter = ["role", "department", "is_active"]
    raw_id_fields = ["organisation", "person"]
    fieldsets = [
        *BaseUserAdmin.fieldsets,
        (_("Role"), {"fields": ["organisation", "role", "department", "person"]}),
    ]
