import copy
import datetime as dt

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_filters.filters import FilterMethod
from rest_framework.filters import OrderingFilter

from backend.errors import InvalidInput
from backend.models import Jurisdiction, Licence, Organisation, Person


class TrueFalseField(forms.NullBooleanField):
    """true/false (1/0, any case) or absent; anything else is invalid. Django's and
    django-filter's boolean widgets read an unknown value as "not given", so `late=maybe`
    would quietly mean no filter at all."""

    widget = forms.TextInput

    def to_python(self, value):
        text = "" if value is None else str(value).strip().lower()
        if text == "":
            return None
        if text in ("true", "1"):
            return True
        if text in ("false", "0"):
            return False
        raise ValidationError(_("Enter true or false."), code="invalid_boolean")

    def validate(self, value):
        pass


class StrictBooleanFilter(django_filters.BooleanFilter):
    """A boolean filter that answers 400 for a value that is neither true nor false."""

    field_class = TrueFalseField


BIGINT_MAX = 2**63 - 1


class IdFilter(django_filters.NumberFilter):
    """A primary key: a whole number within the database's 64-bit range, else 400 (SQLite
    raises OverflowError on a larger Python int, which would be a 500)."""

    field_class = forms.IntegerField

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", BIGINT_MAX)
        super().__init__(*args, **kwargs)


def jurisdiction_by_code(value: str) -> Jurisdiction | None:
    """The division a code from a query string names; None for anything but ASCII digits
    ("²" is a digit to str.isdigit, not to int(); PostgreSQL refuses a NUL in a query)."""
    return Jurisdiction.objects.filter(code=value).first() if value.isascii() and value.isdigit() else None


def jurisdiction_prefix_of(value: str) -> str | None:
    """A division code (or a jurisdiction id) from a query string -> the code prefix of that
    division and everything below it; None when it names none."""
    value = (value or "").strip()
    digits = value.isascii() and value.isdigit()
    node = jurisdiction_by_code(value)
    if node is None and digits and len(value) <= 18:
        node = Jurisdiction.objects.filter(pk=value).first()
    return node.prefix if node is not None else None


class JurisdictionFilterMixin:
    """`?jurisdiction=<code or id>`: rows whose `jurisdiction_path` (a division code) lies in
    that division or below it."""

    jurisdiction_path = "jurisdiction__code"

    def filter_jurisdiction(self, queryset, name, value):
        prefix = jurisdiction_prefix_of(value)
        if prefix is None:
            return queryset.none()
        return queryset.filter(**{f"{self.jurisdiction_path}__startswith": prefix})


class OrganisationFilter(JurisdictionFilterMixin, django_filters.FilterSet):
    jurisdiction = django_filters.CharFilter(method="filter_jurisdiction", label="jurisdiction code (and below)")

    class Meta:
        model = Organisation
        fields = ["kind", "jurisdiction", "credit_code"]


class PersonFilter(django_filters.FilterSet):
    class Meta:
        model = Person
        fields = ["organisation", "position"]


class LicenceFilter(django_filters.FilterSet):
    holder_organisation = IdFilter()
    holder_person = IdFilter()
    holder = IdFilter(method="filter_holder", label="organisation id: its licences and its people's")
    valid_on = django_filters.DateFilter(method="filter_valid_on", label="valid on this date")
    expiring_within = django_filters.NumberFilter(
        method="filter_expiring", min_value=0, max_value=3650, label="valid today and expiring within N days",
    )

    class Meta:
        model = Licence
        fields = ["kind", "holder_organisation", "holder_person"]

    def filter_holder(self, queryset, name, value):
        return queryset.filter(Q(holder_organisation=value) | Q(holder_person__organisation=value))

    def filter_valid_on(self, queryset, name, value: dt.date):
        return queryset.filter(
            Q(valid_from__lte=value),
            Q(valid_until__isnull=True) | Q(valid_until__gte=value),
            Q(revoked_at__isnull=True) | Q(revoked_at__gt=value),
        )

    def filter_expiring(self, queryset, name, value):
        today = timezone.localdate()
        return self.filter_valid_on(queryset, name, today).filter(
            valid_until__isnull=False, valid_until__lte=today + dt.timedelta(days=int(value)),
        )


class _FilterCopies(dict):
    """The class's filters, copied for one FilterSet the light way: each filter shallowly
    (its settings are read, never changed, per request), its method re-bound to the copy
    (django-filter's FilterMethod points at the filter it was made for)."""

    def __deepcopy__(self, memo):
        copies = {}
        for name, base in self.items():
            clone = copy.copy(base)
            if isinstance(base.__dict__.get("filter"), FilterMethod):
                clone.method = base.method  # a new FilterMethod for the copy
            copies[name] = clone
        return copies


class StaticFormFilterSet(django_filters.FilterSet):
    """A FilterSet whose form class is built once per class instead of on every request
    (django-filter builds a new Form class per instance: a sixth of a balances request),
    and whose filters are copied per instance without a deep copy (another tenth). Only
    for filtersets whose fields do not depend on the request (no ModelChoiceFilter with a
    request-scoped queryset): the form's fields are still copied per form."""

    def __init__(self, *args, **kwargs):
        self.base_filters = _FilterCopies(type(self).base_filters)  # what FilterSet.__init__ deep-copies
        super().__init__(*args, **kwargs)

    def get_form_class(self):
        cls = type(self)
        if "_form_class_cache" not in cls.__dict__:  # per class: a subclass builds its own
            cls._form_class_cache = super().get_form_class()
        return cls._form_class_cache


class StrictOrderingFilter(OrderingFilter):
    """`?ordering=` with a field the list cannot be sorted by is a 400 (`invalid_ordering`,
    with the fields it can), not silently ignored: a list sorted otherwise than asked looks
    sorted to whoever reads it."""

    def remove_invalid_fields(self, queryset, fields, view, request):
        valid = super().remove_invalid_fields(queryset, fields, view, request)
        invalid = [term for term in fields if term and term not in valid]
        if invalid and getattr(view, "action", "list") == "list":  # a detail or an action ignores it
            allowed = sorted(name for name, _label in self.get_valid_fields(queryset, view, {"request": request}))
            raise InvalidInput(_("The list cannot be ordered by %(fields)s.") % {"fields": ", ".join(invalid)},
                               code="invalid_ordering",
                               details={"param": self.ordering_param, "invalid": invalid, "allowed": allowed})
        return valid
