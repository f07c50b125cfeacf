import django_filters
from django.utils.translation import gettext_lazy as _

from audits.alerts.models import Alert, AlertStatus, AlertType, Severity
from audits.alerts.selectors import concerning
from backend.api.filters import IdFilter, JurisdictionFilterMixin, jurisdiction_prefix_of


class AlertFilter(JurisdictionFilterMixin, django_filters.FilterSet):
    """`?jurisdiction=430421` (that division and below), `?type=`, `?severity=`, `?status=`
    (each repeatable: `?status=open&status=acknowledged`), `?organisation=`, `?subject_type=`
    with `?subject_id=`, `?occurrence=2026-10`, `?raised_after=` / `?raised_before=`."""

    jurisdiction = django_filters.CharFilter(method="filter_jurisdiction", label=_("jurisdiction code (and below)"))
    type = django_filters.MultipleChoiceFilter(choices=AlertType.choices)
    severity = django_filters.MultipleChoiceFilter(choices=Severity.choices)
    status = django_filters.MultipleChoiceFilter(choices=AlertStatus.choices)
    raised_after = django_filters.IsoDateTimeFilter(field_name="raised_at", lookup_expr="gte")
    raised_before = django_filters.IsoDateTimeFilter(field_name="raised_at", lookup_expr="lt")
    organisation = IdFilter()
    subject_id = IdFilter()
    jurisdiction_path = "jurisdiction_code"

    def filter_jurisdiction(self, queryset, name, value):
        """Alerts of that division and below, and those whose other party is there."""
        prefix = jurisdiction_prefix_of(value)
        return queryset.none() if prefix is None else queryset.filter(concerning(prefix))

    class Meta:
        model = Alert
        fields = ["jurisdiction", "type", "severity", "status", "organisation", "subject_type", "subject_id",
                  "occurrence", "raised_after", "raised_before"]
