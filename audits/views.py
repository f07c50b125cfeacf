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


# What an organisation does not learn from entries about it that others wrote: the
# authorities' enforcement work (alerts, sweep plans, targets, visits, cases; only its own
# findings and their follow-up, which /api/findings/ shows it too), and which of its records
# someone outside it read in full (an inspector's reads would tip off the site).
_MEMBER_SWEEP_TYPES = ("sweeps.finding", "sweeps.findingaction")
_KEPT_FROM_SUBJECT = (
    Q(object_type__startswith="alerts.")
    | (Q(object_type__startswith="sweeps.") & ~Q(object_type__in=_MEMBER_SWEEP_TYPES))
    | Q(action="sensitive_read")
)


class AuditEntryViewSet(viewsets.ReadOnlyModelViewSet):
    """The audit trail, newest first. Authorities see entries about their jurisdiction;
    members see the entries they made and those about their own organisation, except the
    authorities' enforcement work and others' full reads of their records (_KEPT_FROM_SUBJECT).
    Patient fields are masked in every entry (AuditEntrySerializer)."""

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
        return qs.filter(Q(organisation_id=user.organisation_id)
                         | (Q(subject_organisation_id=user.organisation_id) & ~_KEPT_FROM_SUBJECT))
