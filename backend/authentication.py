"""Token authentication that loads what nearly every request needs next."""

from __future__ import annotations

from django.db import connections, router
from django.utils.translation import gettext_lazy
from rest_framework import authentication, exceptions
from rest_framework.authtoken.models import Token

from backend import fastsql
from backend.models import Jurisdiction, Organisation, User

# DRF's own messages, translated by DRF's catalogue (not collected into ours).
drf_message = gettext_lazy


def _token_sql() -> str:
    return (
        f"SELECT {fastsql.columns(Token, 'k')}, {fastsql.columns(User, 'u')}, {fastsql.columns(Organisation, 'o')}, "  # noqa: S608 (our names; the key is a parameter)
        f"{fastsql.columns(Jurisdiction, 'j')} "
        f"FROM {fastsql.table(Token)} k JOIN {fastsql.table(User)} u ON u.id = k.user_id "
        f"LEFT JOIN {fastsql.table(Organisation)} o ON o.id = u.organisation_id "
        f"LEFT JOIN {fastsql.table(Jurisdiction)} j ON j.id = o.jurisdiction_id "
        "WHERE k.key = %s"
    )


def token_with_user(key: str) -> Token | None:
    """The token, its user, the user's organisation and its jurisdiction, in one query
    (`Token.objects.select_related("user__organisation__jurisdiction").get(key=key)`)."""
    connection = connections[router.db_for_read(Token)]
    sql = fastsql.cached(connection, "token_with_user", _token_sql)
    with fastsql.cursor(connection) as cursor:
        cursor.execute(sql, [key])
        row = cursor.fetchone()
    if row is None:
        return None
    offset = 0
    token = fastsql.instance(Token, row, offset, "k")
    offset += fastsql.width(Token)
    user = fastsql.instance(User, row, offset, "u")
    offset += fastsql.width(User)
    organisation = fastsql.instance(Organisation, row, offset, "o")
    offset += fastsql.width(Organisation)
    if organisation is not None:
        Organisation._meta.get_field("jurisdiction").set_cached_value(
            organisation, fastsql.instance(Jurisdiction, row, offset, "j"))
    User._meta.get_field("organisation").set_cached_value(user, organisation)
    Token._meta.get_field("user").set_cached_value(token, user)
    return token


class TokenAuthentication(authentication.TokenAuthentication):
    """DRF's token authentication (same header, same errors), loading the user's
    organisation and its jurisdiction in the token's query: visibility rules and every
    write's acting organisation read them, which otherwise costs one or two more queries
    per request."""

    def authenticate_credentials(self, key):
        token = token_with_user(key)
        if token is None:
            raise exceptions.AuthenticationFailed(drf_message("Invalid token."))
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed(drf_message("User inactive or deleted."))
        return token.user, token
