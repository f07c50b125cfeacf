"""Serializer fields shared by the apps."""

from __future__ import annotations

import copy

from rest_framework import serializers

from backend import fastsql
from backend.api.filters import BIGINT_MAX

BIGINT_MIN = -BIGINT_MAX - 1


class PrimaryKeyField(serializers.PrimaryKeyRelatedField):
    """`PrimaryKeyRelatedField` with the same messages and codes (`incorrect_type`,
    `does_not_exist`) that loads the row with one precompiled SELECT (backend.fastsql)
    instead of a queryset. Only for a plain `Model.objects.all()` queryset; a filtered
    one goes the usual way."""

    def to_internal_value(self, data):
        queryset = self.get_queryset()
        query = queryset.query
        if (self.pk_field is not None or query.where or query.select_related or query.annotations
                or queryset._prefetch_related_lookups or query.deferred_loading != (frozenset(), True)):
            return super().to_internal_value(data)
        if isinstance(data, bool):
            self.fail("incorrect_type", data_type=type(data).__name__)
        try:
            if isinstance(data, float):
                if not data.is_integer():
                    raise ValueError
                pk = int(data)
            else:
                pk = int(data) if isinstance(data, (int, str)) else None
        except ValueError:
            pk = None
        if pk is None:
            self.fail("incorrect_type", data_type=type(data).__name__)
        row = fastsql.get(queryset.model, pk) if BIGINT_MIN <= pk <= BIGINT_MAX else None
        if row is None:
            self.fail("does_not_exist", pk_value=data)
        return row


class LeanFieldsMixin:
    """For a serializer on a hot path (the counter's dispense and scan): each declared field
    is cloned the way `Field.__deepcopy__` does it, by calling its class again with the
    arguments it was declared with, but without deep-copying those arguments (a queryset,
    a list of choices: nothing a field mutates). A field holding another field (`many=True`,
    a ListField's child) is still deep-copied: binding mutates the child."""

    def get_fields(self):
        fields = {}
        for name, field in self._declared_fields.items():
            nested = any(isinstance(v, serializers.Field) for v in (*field._args, *field._kwargs.values()))
            fields[name] = copy.deepcopy(field) if nested else field.__class__(*field._args, **field._kwargs)
        return fields
