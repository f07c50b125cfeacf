import django_filters

from backend.api.filters import IdFilter, StrictBooleanFilter
from backend.api.filters import JurisdictionFilterMixin as BaseJurisdictionFilterMixin
from inventory.devices.models import Device, DeviceExam, DeviceKind, DeviceRefusal, DeviceStatus


class JurisdictionFilterMixin(BaseJurisdictionFilterMixin):
    jurisdiction_path = "holder__jurisdiction__code"


class DeviceFilter(JurisdictionFilterMixin, django_filters.FilterSet):
    kind = django_filters.ChoiceFilter(choices=DeviceKind.choices)
    status = django_filters.ChoiceFilter(choices=DeviceStatus.choices)
    holder = IdFilter()
    jurisdiction = django_filters.CharFilter(method="filter_jurisdiction", label="jurisdiction code (and below)")
    late = StrictBooleanFilter(method="filter_late", label="filed more than 7 days after purchase/transfer")
    serial = django_filters.CharFilter(field_name="serial_number", lookup_expr="icontains")
    asset_tag = django_filters.CharFilter(lookup_expr="iexact")

    class Meta:
        model = Device
        fields = ["kind", "status", "holder", "jurisdiction", "late", "serial", "asset_tag"]

    def filter_late(self, queryset, name, value):
        if value is None:
            return queryset
        return queryset.filter(days_late__gt=0) if value else queryset.filter(days_late=0)


class DeviceExamFilter(JurisdictionFilterMixin, django_filters.FilterSet):
    jurisdiction = django_filters.CharFilter(method="filter_jurisdiction", label="jurisdiction code (and below)")
    performed_after = django_filters.IsoDateTimeFilter(field_name="performed_at", lookup_expr="gte")
    performed_before = django_filters.IsoDateTimeFilter(field_name="performed_at", lookup_expr="lt")

    class Meta:
        model = DeviceExam
        fields = ["device", "holder", "operator", "jurisdiction", "performed_after", "performed_before"]


class DeviceRefusalFilter(django_filters.FilterSet):
    serial = django_filters.CharFilter(field_name="serial_number", lookup_expr="icontains")

    class Meta:
        model = DeviceRefusal
        fields = ["code", "act", "holder", "to_holder", "device", "serial"]
