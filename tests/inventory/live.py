"""Talking to pytest-django's `live_server` from threads, over plain HTTP.

Production settings redirect plain HTTP to HTTPS; the live server is reached over HTTP, so
tests set SECURE_PROXY_SSL_HEADER and send `X-Forwarded-Proto: https` (read per request)."""

from __future__ import annotations

import http.client
import json
from urllib.parse import urlsplit

from rest_framework.authtoken.models import Token

PROXY_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")


def token_for(user) -> str:
    return Token.objects.get_or_create(user=user)[0].key


def request(base_url: str, method: str, path: str, *, token: str | None = None, body=None,
            headers: dict | None = None, timeout: float = 60) -> tuple[int, dict | None, dict]:
    parts = urlsplit(base_url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        all_headers = {"X-Forwarded-Proto": "https", "Accept": "application/json"}
        if token:
            all_headers["Authorization"] = f"Token {token}"
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            all_headers["Content-Type"] = "application/json"
        all_headers.update(headers or {})
        conn.request(method, path, body=data, headers=all_headers)
        response = conn.getresponse()
        raw = response.read()
        try:
            payload = json.loads(raw) if raw else None
        except ValueError:
            payload = {"raw": raw.decode(errors="replace")[:500]}
        return response.status, payload, dict(response.getheaders())
    finally:
        conn.close()
