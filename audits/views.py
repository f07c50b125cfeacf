import django_filters
from django.db.models import Q
from rest_framework import viewsets

from audits.models import AuditEntry
from audits.serializers import AuditEntrySerializer
from backend import visibility


class AuditEntryFilter(django_filters.FilterSet):
    created_after = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = AuditEntry
        fields = ["object_type", "object_id", "action", "actor_id", "subject_organisation_id"]


class AuditEntryViewSet(viewsets.ReadOnlyModelViewSet):
    """The audit trail, newest first. Authorities see entries about their jurisdiction;
    members see entries about, or made by, their own organisation."""

    serializer_class = AuditEntrySerializer
    filterset_class = AuditEntryFilter
    ordering_fields = ["seq", "created_at"]
    ordering = ["-seq"]

    def get_queryset(self):
        user = self.request.user
        qs = AuditEntry.objects.all()
        if visibility.sees_everything(user):
            return qs
        if not user.is_authenticated or not user.role or user.organisation_id is None:
            return qs.none()
        if user.is_authority:
            return qs.filter(jurisdiction_code__startswith=user.jurisdiction_prefix)
        return qs.filter(Q(subject_organisation_id=user.organisation_id) | Q(organisation_id=user.organisation_id))
