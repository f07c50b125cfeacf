"""Read-only admin for alerts: acknowledging and resolving go through the services (and the
audit trail), through the API."""

from django.contrib import admin

from audits.alerts.models import Alert


@admin.register(Alert)
class AlertAdmin(admin.ModelAdmin):
    list_display = ["id", "type", "severity", "status", "organisation", "jurisdiction_code", "occurrence",
                    "raised_at"]
    list_filter = ["type", "severity", "status"]
    search_fields = ["summary", "organisation__name", "jurisdiction_code"]
    readonly_fields = [f.name for f in Alert._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
