import datetime as dt

import django_filters
from django.utils import timezone

from backend.api.filters import IdFilter, StaticFormFilterSet, StrictBooleanFilter
from inventory.models import (
    Batch,
    Dispense,
    Disposal,
    DrugProduct,
    Intake,
    Seizure,
    Shipment,
    ShipmentRefusal,
    StockMovement,
    StockPosition,
)


class DrugProductFilter(django_filters.FilterSet):
    code = django_filters.CharFilter(field_name="traceability_product_code")
    gtin = django_filters.CharFilter(method="filter_gtin")

    class Meta:
        model = DrugProduct
        fields = ["generic_name", "form", "active", "code"]

    def filter_gtin(self, queryset, name, value):
        return queryset.filter(pk__in=[p.pk for p in queryset if value in (p.gtins or [])])


class BatchFilter(django_filters.FilterSet):
    lot = django_filters.CharFilter(field_name="lot_number")
    expiring_within = django_filters.NumberFilter(method="filter_expiring", min_value=0, max_value=3650,
                                                  label="not yet expired, expiring within N days")
    expired = StrictBooleanFilter(method="filter_expired")

    class Meta:
        model = Batch
        fields = ["product", "lot_number", "lot"]

    def filter_expiring(self, queryset, name, value):
        today = timezone.localdate()
        return queryset.filter(expiry_date__gte=today, expiry_date__lte=today + dt.timedelta(days=int(value)))

    def filter_expired(self, queryset, name, value):
        today = timezone.localdate()
        return queryset.filter(expiry_date__lt=today) if value else queryset.filter(expiry_date__gte=today)


class StockBalanceFilter(StaticFormFilterSet):
    holder = IdFilter(field_name="holder_id")
    batch = IdFilter(field_name="batch_id")
    product = IdFilter(field_name="batch__product_id")
    nonzero = StrictBooleanFilter(method="filter_nonzero")
    in_transit = StrictBooleanFilter()

    class Meta:
        model = StockPosition
        fields = ["holder", "batch", "product", "in_transit"]

    def filter_nonzero(self, queryset, name, value):
        return queryset.exclude(quantity=0) if value else queryset


class StockMovementFilter(django_filters.FilterSet):
    product = IdFilter(field_name="batch__product")
    occurred_after = django_filters.IsoDateTimeFilter(field_name="occurred_at", lookup_expr="gte")
    occurred_before = django_filters.IsoDateTimeFilter(field_name="occurred_at", lookup_expr="lt")
    date_from = django_filters.DateFilter(field_name="occurred_at", lookup_expr="date__gte")
    date_to = django_filters.DateFilter(field_name="occurred_at", lookup_expr="date__lte")
    kind = django_filters.MultipleChoiceFilter(choices=StockMovement.Kind.choices)

    class Meta:
        model = StockMovement
        fields = ["holder", "batch", "product", "kind", "in_transit", "dispense", "shipment_line", "intake"]


class IntakeFilter(django_filters.FilterSet):
    product = IdFilter(field_name="batch__product")
    date_from = django_filters.DateFilter(field_name="received_at", lookup_expr="date__gte")
    date_to = django_filters.DateFilter(field_name="received_at", lookup_expr="date__lte")

    class Meta:
        model = Intake
        fields = ["wholesaler", "batch", "product", "invoice_number"]


class ShipmentFilter(django_filters.FilterSet):
    class Meta:
        model = Shipment
        fields = ["status", "kind", "sender", "recipient"]


class ShipmentRefusalFilter(django_filters.FilterSet):
    class Meta:
        model = ShipmentRefusal
        fields = ["sender", "recipient", "code", "shipment"]


class DispenseFilter(django_filters.FilterSet):
    product = IdFilter(field_name="batch__product")
    date_from = django_filters.DateFilter(field_name="occurred_at", lookup_expr="date__gte")
    date_to = django_filters.DateFilter(field_name="occurred_at", lookup_expr="date__lte")

    class Meta:
        model = Dispense
        fields = ["institution", "batch", "product", "physician", "pharmacist", "emergency"]


class DisposalFilter(django_filters.FilterSet):
    class Meta:
        model = Disposal
        fields = ["holder", "batch", "reason"]


class SeizureFilter(django_filters.FilterSet):
    class Meta:
        model = Seizure
        fields = ["holder", "batch", "authority"]
