import django_filters

from backend.api.filters import IdFilter, StrictBooleanFilter
from backend.models import Jurisdiction
from inventory.devices.models import Device, DeviceExam, DeviceKind, DeviceRefusal, DeviceStatus


def _jurisdiction_prefix(value: str) -> str | None:
    """A division code (or id) -> the code prefix of it and everything below."""
    digits = value.isascii() and value.isdigit()  # "²" is a digit to str.isdigit, not to int()
    node = Jurisdiction.objects.filter(code=value).first() if digits else None
    if node is None and digits and len(value) <= 18:
        node = Jurisdiction.objects.filter(pk=value).first()
    return node.prefix if node is not None else None


class JurisdictionFilterMixin:
    jurisdiction_path = "holder__jurisdiction__code"

    def filter_jurisdiction(self, queryset, name, value):
        prefix = _jurisdiction_prefix(value)
        if prefix is None:
            return queryset.none()
        return queryset.filter(**{f"{self.jurisdiction_path}__startswith": prefix})


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
        fields = ["code", "act", "holder", "device", "serial"]
