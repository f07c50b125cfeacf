"""Who is acting, from where: carried from the request to the audit trail.

The middleware stores the current HttpRequest in a context variable; DRF sets `user` on the
underlying HttpRequest when it authenticates a token, so the audit trail sees token users
too. Services that run outside a request (management commands) pass the actor explicitly.
"""

from __future__ import annotations

import contextvars
from contextlib import contextmanager

_current_request: contextvars.ContextVar = contextvars.ContextVar("audit_request", default=None)


def current_request():
    return _current_request.get()


def client_ip(request) -> str | None:
    if request is None:
        return None
    return request.META.get("REMOTE_ADDR") or None


@contextmanager
def request_context(request):
    token = _current_request.set(request)
    try:
        yield
    finally:
        _current_request.reset(token)


class AuditContextMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        with request_context(request):
            return self.get_response(request)
