"""Idempotent POSTs: the `Idempotency-Key` header.

Scanners and inspectors' phones resend on bad networks. A view method decorated with
`@idempotent` behaves like this when the request carries `Idempotency-Key: <key>`:

- first request: a key row (user + endpoint + key, unique in the database) is inserted and
  COMMITTED in its own transaction before the view runs, marked "in progress"; the view
  runs; its status and body are stored on the row.
- retry with the same key and the same request (method, path, body hash): the stored status
  and body are returned (header `Idempotent-Replayed: true`); nothing is written.
- same key, different request: 422 `idempotency_key_reused`.
- retry while the first is still running: the insert hits the committed row, which is still
  in progress: 409 `idempotency_in_progress` (real on PostgreSQL and SQLite alike, because
  the marker commits before the work starts).
- a 5xx answer or an unhandled exception deletes the marker, so the client may retry.
  A marker left by a crashed worker is taken over after `IDEMPOTENCY_STALE_SECONDS`.

Requests without the header are not deduplicated.

Stored answers can carry personal data (a dispense's patient, shown back to the pharmacist
who entered it): `purge_expired()` (`manage.py purge_idempotency_keys`, run daily) deletes
keys older than `IDEMPOTENCY_KEEP_HOURS` (default 24); a retry after that is a new request.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, models, transaction
from django.http.request import RawPostDataException
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from rest_framework.response import Response

from backend.errors import encodable, envelope

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 200


class IdempotencyKey(models.Model):
    class State(models.TextChoices):
        IN_PROGRESS = "in_progress", gettext_lazy("in progress")
        COMPLETED = "completed", gettext_lazy("completed")

    user = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=gettext_lazy("user"), on_delete=models.CASCADE,
                             related_name="+")
    endpoint = models.CharField(gettext_lazy("endpoint"), max_length=200)
    key = models.CharField(gettext_lazy("key"), max_length=MAX_KEY_LENGTH)
    fingerprint = models.CharField(gettext_lazy("request fingerprint"), max_length=64)
    state = models.CharField(gettext_lazy("state"), max_length=12, choices=State.choices, default=State.IN_PROGRESS)
    response_status = models.PositiveSmallIntegerField(gettext_lazy("response status"), null=True, blank=True)
    response_body = models.JSONField(gettext_lazy("response body"), null=True, blank=True)
    created_at = models.DateTimeField(gettext_lazy("created at"), default=timezone.now)
    completed_at = models.DateTimeField(gettext_lazy("completed at"), null=True, blank=True)

    class Meta:
        app_label = "backend"
        verbose_name = gettext_lazy("idempotency key")
        verbose_name_plural = gettext_lazy("idempotency keys")
        constraints = [
            models.UniqueConstraint(fields=["user", "endpoint", "key"], name="idempotencykey_unique_user_endpoint"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} {self.endpoint} {self.key}"


def _stale_after() -> dt.timedelta:
    return dt.timedelta(seconds=getattr(settings, "IDEMPOTENCY_STALE_SECONDS", 300))


def purge_expired(*, now=None) -> int:
    """Delete completed keys older than IDEMPOTENCY_KEEP_HOURS; returns how many."""
    hours = getattr(settings, "IDEMPOTENCY_KEEP_HOURS", 24)
    cutoff = (now or timezone.now()) - dt.timedelta(hours=hours)
    deleted, _detail = IdempotencyKey.objects.filter(created_at__lt=cutoff).exclude(
        state=IdempotencyKey.State.IN_PROGRESS, created_at__gte=cutoff - _stale_after()).delete()
    return deleted


def request_fingerprint(request) -> str:
    """SHA-256 over method, full path and the body (JSON bodies canonicalised; a multipart
    form by its fields and its files' contents, so that a retry which re-encodes the form
    with another boundary, as phone clients do, is the same request)."""
    if (request.content_type or "").startswith("multipart/form-data"):
        return _digest(request, _multipart_canonical(request))
    try:
        raw = request._request.body
        try:
            body = json.dumps(json.loads(raw), sort_keys=True, separators=(",", ":")).encode()
        except (ValueError, UnicodeDecodeError):
            body = raw
    except RawPostDataException:  # the stream was already parsed
        body = json.dumps(request.data, sort_keys=True, cls=DjangoJSONEncoder, default=str).encode()
    return _digest(request, body)


def _digest(request, body: bytes) -> str:
    digest = hashlib.sha256()
    digest.update(request.method.encode() + b"\n" + request.get_full_path().encode() + b"\n")
    digest.update(hashlib.sha256(body).digest())
    return digest.hexdigest()


def _multipart_canonical(request) -> bytes:
    files = request.FILES
    fields = {name: request.data.getlist(name) for name in request.data if name not in files}
    contents = {name: [_file_sha256(f) for f in files.getlist(name)] for name in files}
    return json.dumps({"fields": fields, "files": contents}, sort_keys=True, ensure_ascii=False,
                      cls=DjangoJSONEncoder, default=str).encode("utf-8", "backslashreplace")


def _file_sha256(upload) -> str:
    digest = hashlib.sha256()
    for chunk in upload.chunks():
        digest.update(chunk)
    upload.seek(0)
    return digest.hexdigest()


def endpoint_name(request) -> str:
    match = getattr(request, "resolver_match", None)
    name = match.view_name if match is not None and match.view_name else request.path
    return f"{request.method} {name}"[:200]


def scoped_key(request) -> str | None:
    """A key for ledger rows written by this request (unique per user), or None."""
    key = request.headers.get(HEADER)
    if not key or not request.user.is_authenticated:
        return None
    return f"{request.user.pk}:{endpoint_name(request)}:{key}"


def _claim(user, endpoint: str, key: str, fingerprint: str):
    """Insert the in-progress marker and commit it. Returns (row, None) when claimed, or
    (None, existing row) when a row exists."""
    try:
        with transaction.atomic():
            return IdempotencyKey.objects.create(user=user, endpoint=endpoint, key=key, fingerprint=fingerprint), None
    except IntegrityError:
        existing = IdempotencyKey.objects.filter(user=user, endpoint=endpoint, key=key).first()
        if existing is None:  # released between our insert and our read: try once more
            try:
                with transaction.atomic():
                    return IdempotencyKey.objects.create(
                        user=user, endpoint=endpoint, key=key, fingerprint=fingerprint), None
            except IntegrityError:
                existing = IdempotencyKey.objects.get(user=user, endpoint=endpoint, key=key)
        return None, existing


def _take_over_stale(existing: IdempotencyKey, fingerprint: str) -> bool:
    with transaction.atomic():
        taken = IdempotencyKey.objects.filter(
            pk=existing.pk, state=IdempotencyKey.State.IN_PROGRESS, created_at=existing.created_at,
        ).update(created_at=timezone.now(), fingerprint=fingerprint)
    return bool(taken)


def _release(row: IdempotencyKey) -> None:
    with transaction.atomic():
        IdempotencyKey.objects.filter(pk=row.pk).delete()


NUL_SHOWN_AS = "\u2400"  # ␀: PostgreSQL stores no NUL in text nor in jsonb


def without_nul(value):
    """`value` (text, or a JSON-like structure at any depth) with NUL shown as ␀ and a lone
    surrogate (JSON's "\\ud800", which no UTF-8 text holds) written out as "\\ud800", so that
    PostgreSQL's text and jsonb and SQLite can store it (an echoed scan may carry either).
    Used for the stored replays here and for the scan log."""
    if isinstance(value, str):
        return encodable(value.replace("\x00", NUL_SHOWN_AS))
    if isinstance(value, dict):
        return {without_nul(k): without_nul(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [without_nul(v) for v in value]
    return value


def _complete(row: IdempotencyKey, response) -> None:
    body = (without_nul(json.loads(json.dumps(response.data, cls=DjangoJSONEncoder)))
            if response.data is not None else None)
    with transaction.atomic():
        IdempotencyKey.objects.filter(pk=row.pk).update(
            state=IdempotencyKey.State.COMPLETED, response_status=response.status_code,
            response_body=body, completed_at=timezone.now(),
        )


def idempotent(view_method):
    """Decorate a DRF view method (create, or a POST @action) that changes data."""

    @functools.wraps(view_method)
    def wrapper(self, request, *args, **kwargs):
        key = request.headers.get(HEADER)
        if not key or not request.user.is_authenticated:
            return view_method(self, request, *args, **kwargs)
        if len(key) > MAX_KEY_LENGTH:
            return envelope("idempotency_key_invalid",
                            _("The Idempotency-Key header may have at most %(n)d characters.") % {"n": MAX_KEY_LENGTH},
                            None, 400)
        if not key.isprintable():  # a NUL or a control character: no database stores the first
            return envelope("idempotency_key_invalid",
                            _("The Idempotency-Key header may hold printable characters only."), None, 400)
        endpoint = endpoint_name(request)
        fingerprint = request_fingerprint(request)
        row, existing = _claim(request.user, endpoint, key, fingerprint)
        if existing is not None:
            if existing.fingerprint != fingerprint:
                return envelope("idempotency_key_reused",
                                _("This Idempotency-Key was already used for a different request."),
                                {"key": key}, 422)
            if existing.state == IdempotencyKey.State.COMPLETED:
                return Response(existing.response_body, status=existing.response_status,
                                headers={"Idempotent-Replayed": "true"})
            if existing.created_at < timezone.now() - _stale_after() and _take_over_stale(existing, fingerprint):
                row = existing
            else:
                return envelope("idempotency_in_progress",
                                _("A request with this Idempotency-Key is still being processed; retry later."),
                                {"key": key}, 409, headers={"Retry-After": "1"})
        try:
            response = view_method(self, request, *args, **kwargs)
        except Exception as exc:
            # Domain and API errors become responses through the exception handler; store
            # those (they are answers). Anything else: release the key so a retry can run.
            response = self.handle_exception(exc)
        if response.status_code >= 500:
            _release(row)
        else:
            _complete(row, response)
        return response

    return wrapper
