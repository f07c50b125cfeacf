"""Shared fixtures.

- `api` : an anonymous API client; `client_for(user)` : a client signed in with the user's
  API token (`Authorization: Token <key>`). Both speak HTTPS, like production: without
  DEBUG the settings redirect plain HTTP to HTTPS (SECURE_SSL_REDIRECT), so a plain
  `APIClient()` would get 301s. Use `SecureAPIClient` if you build one yourself.
- `county` : a small county (see `tests.factories.build_county`): 衡阳县 with its governance
  office (office_admin, inspector), an approved hospital (physician, pharmacist), a
  wholesaler (clerk), a retail pharmacy, an individual clinic; and `county.other`, 长沙县 with
  its own office (office_admin, inspector) and hospital.
- Uploaded files go to a temporary MEDIA_ROOT per test.
"""

from __future__ import annotations

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests.factories import County, build_county


class SecureAPIClient(APIClient):
    """An APIClient whose requests arrive over HTTPS unless told otherwise."""

    def generic(self, method, path, data="", content_type="application/octet-stream", secure=True, **extra):
        return super().generic(method, path, data, content_type, secure=True, **extra)


def token_client(user, **defaults) -> SecureAPIClient:
    client = SecureAPIClient(**defaults)
    if user is not None:
        token, _ = Token.objects.get_or_create(user=user)
        client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


@pytest.fixture
def api() -> SecureAPIClient:
    """Anonymous client."""
    return SecureAPIClient()


@pytest.fixture
def client_for(db):
    """`client_for(user)` -> a client authenticated by the user's token (None: anonymous)."""
    return token_client


@pytest.fixture
def county(db) -> County:
    return build_county()


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture(autouse=True, scope="session")
def _flush_may_truncate_append_only_tables():
    """Transactional tests are cleaned up by `flush` (TRUNCATE), which the append-only
    tables refuse on PostgreSQL (audits.append_only): the flush, and only the flush, says so
    in its own transaction."""
    from django.db.backends.postgresql.operations import DatabaseOperations

    from audits.append_only import ALLOW_TRUNCATE_SQL

    original = DatabaseOperations.sql_flush

    def sql_flush(self, style, tables, *, reset_sequences=False, allow_cascade=False):
        statements = original(self, style, tables, reset_sequences=reset_sequences, allow_cascade=allow_cascade)
        return [ALLOW_TRUNCATE_SQL + ";", *statements] if statements else statements

    DatabaseOperations.sql_flush = sql_flush
    yield
    DatabaseOperations.sql_flush = original


@pytest.fixture(autouse=True, scope="session")
def _fast_password_hashing():
    """PBKDF2 at production strength costs ~1 s per user; tests do not test the hasher."""
    from django.conf import settings
    from django.contrib.auth.hashers import get_hashers, get_hashers_by_algorithm

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    get_hashers.cache_clear()
    get_hashers_by_algorithm.cache_clear()


def error_of(response) -> dict:
    """The error envelope's inner object, after checking the envelope's shape."""
    body = response.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message", "details"}, body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"], body
    return body["error"]
