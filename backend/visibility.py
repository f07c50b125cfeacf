"""Who sees which rows.

- Members (pharmacists, physicians, wholesaler clerks) see their own organisation's records.
- Inspectors and office administrators see everything in their jurisdiction and below
  (administrative division codes are hierarchical: a prefix match is the subtree).
- Superusers (the Django admin's operators) see everything.
- Anonymous users see nothing (the API answers 401 before getting here).
"""

from __future__ import annotations

import copy

from django.db.models import Q, QuerySet


def sees_everything(user) -> bool:
    return bool(user.is_authenticated and user.is_superuser)


def scope(queryset: QuerySet, user, *organisation_paths: str) -> QuerySet:
    """Filter `queryset` to what `user` may see. Each path leads from the row to the
    organisation that owns it ("" when the row is an Organisation)."""
    if not user.is_authenticated:
        return queryset.none()
    if sees_everything(user):
        return queryset
    if user.organisation_id is None or not user.role:
        return queryset.none()
    condition = Q()
    for path in organisation_paths:
        prefix = f"{path}__" if path else ""
        if user.is_authority:
            condition |= Q(**{f"{prefix}jurisdiction__code__startswith": user.jurisdiction_prefix})
        else:
            condition |= Q(**{f"{prefix}pk": user.organisation_id})
    return queryset.filter(condition).distinct() if len(organisation_paths) > 1 else queryset.filter(condition)


def in_jurisdiction(user, jurisdiction) -> bool:
    """Is `jurisdiction` within the user's own (authorities only)?"""
    return in_jurisdiction_code(user, jurisdiction.code if jurisdiction is not None else None)


def in_jurisdiction_code(user, code: str | None) -> bool:
    """Is the division `code` (a row's stored jurisdiction code) within the user's own?"""
    if sees_everything(user):
        return True
    if not user.is_authority or code is None:
        return False
    return code.startswith(user.jurisdiction_prefix)


def is_office_admin_of(user, jurisdiction) -> bool:
    """An office administrator whose jurisdiction covers `jurisdiction` (or a superuser)."""
    return is_office_admin(user) and in_jurisdiction(user, jurisdiction)


def is_inspector_of(user, jurisdiction) -> bool:
    """An inspector whose jurisdiction covers `jurisdiction` (or a superuser): field work."""
    if sees_everything(user):
        return True
    return bool(user.is_authenticated and user.role == "inspector" and in_jurisdiction(user, jurisdiction))


def is_office_admin(user) -> bool:
    return sees_everything(user) or (user.is_authenticated and user.role == "office_admin" and user.is_authority)


def is_member_of(user, organisation) -> bool:
    return bool(organisation is not None and user.is_authenticated and user.organisation_id == organisation.pk)


def organisation_of(user):
    """The user's organisation with its jurisdiction: the one token authentication loaded
    with the user (backend.authentication), else in one query. A copy, without prefetched
    licences: each caller loads what it checks afresh."""
    from backend.models import Organisation, User

    if User._meta.get_field("organisation").is_cached(user):
        organisation = user.organisation
        if organisation is not None and Organisation._meta.get_field("jurisdiction").is_cached(organisation):
            organisation = copy.copy(organisation)
            organisation.__dict__.pop("_prefetched_objects_cache", None)
            return organisation
    return Organisation.objects.select_related("jurisdiction").get(pk=user.organisation_id)
