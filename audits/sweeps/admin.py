"""Read-only admin for the sweep work: every change goes through the services (and the audit
trail), so the admin only looks."""

from django.contrib import admin

from audits.sweeps.models import (
    Case,
    CaseEvent,
    ChecklistAnswer,
    EvidencePhoto,
    Finding,
    FindingAction,
    Sweep,
    Target,
    Team,
    Tick,
    Visit,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class TeamInline(ReadOnlyInline):
    model = Team
    fields = ["name", "leader"]
    readonly_fields = fields


class TargetInline(ReadOnlyInline):
    model = Target
    fields = ["site_name", "organisation", "jurisdiction", "sources", "team"]
    readonly_fields = fields


@admin.register(Sweep)
class SweepAdmin(ReadOnlyAdmin):
    list_display = ["name", "jurisdiction", "period_start", "period_end", "status", "office"]
    list_filter = ["status"]
    search_fields = ["name"]
    inlines = [TeamInline, TargetInline]


class AnswerInline(ReadOnlyInline):
    model = ChecklistAnswer
    fields = ["item", "answer", "note", "answered_at", "recorded_by"]
    readonly_fields = fields


class TickInline(ReadOnlyInline):
    model = Tick
    fields = ["kind", "code", "device", "batch", "book_quantity", "flags", "scanned_at"]
    readonly_fields = fields


@admin.register(Visit)
class VisitAdmin(ReadOnlyAdmin):
    list_display = ["id", "sweep", "target", "status", "opened_at", "closed_at"]
    list_filter = ["status"]
    inlines = [AnswerInline, TickInline]


class FindingActionInline(ReadOnlyInline):
    model = FindingAction
    fields = ["kind", "device", "seizure", "requirement", "deadline", "actor", "occurred_at"]
    readonly_fields = fields


@admin.register(Finding)
class FindingAdmin(ReadOnlyAdmin):
    list_display = ["id", "visit", "organisation", "rule", "severity", "found_at"]
    list_filter = ["rule", "severity"]
    inlines = [FindingActionInline]


@admin.register(EvidencePhoto)
class EvidencePhotoAdmin(ReadOnlyAdmin):
    list_display = ["id", "visit", "caption", "taken_at", "sha256"]


class CaseEventInline(ReadOnlyInline):
    model = CaseEvent
    fields = ["status", "note", "outcome", "fine_yuan", "actor", "occurred_at"]
    readonly_fields = fields


@admin.register(Case)
class CaseAdmin(ReadOnlyAdmin):
    list_display = ["number", "title", "organisation", "status", "fine_yuan", "opened_at"]
    list_filter = ["status"]
    search_fields = ["number", "title"]
    inlines = [CaseEventInline]
