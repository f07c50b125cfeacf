"""Domain errors and the one exception handler.

Every error leaves the API as `{"error": {"code": ..., "message": ..., "details": ...}}`.
Services raise `DomainError` subclasses; views never catch and convert.
"""

from __future__ import annotations

import logging

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation, TooManyFieldsSent
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from django.utils.encoding import force_str
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import set_rollback

logger = logging.getLogger(__name__)


class DomainError(Exception):
    """A refusal by a business rule: stable `code`, HTTP `status`, translated message."""

    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    code = "domain_error"
    default_message = _("The request breaks a rule.")

    def __init__(self, message=None, *, details=None, code: str | None = None):
        self.message = message if message is not None else self.default_message
        self.details = details
        if code:
            self.code = code
        super().__init__(force_str(self.message))


class PolicyRefused(DomainError):
    """A policy from backend.policies said no; details carry its clauses."""

    code = "policy_refused"

    def __init__(self, decision, *, message=None, code: str | None = None):
        super().__init__(
            message or "; ".join(decision.messages), details={"clauses": decision.as_details()}, code=code,
        )
        self.decision = decision


class Conflict(DomainError):
    status_code = status.HTTP_409_CONFLICT
    code = "conflict"
    default_message = _("The request conflicts with the current state.")


class InvalidInput(DomainError):
    status_code = status.HTTP_400_BAD_REQUEST
    code = "invalid"
    default_message = _("The request is not valid.")


class Forbidden(DomainError):
    status_code = status.HTTP_403_FORBIDDEN
    code = "permission_denied"
    default_message = _("You may not do this.")


# DRF exception class -> our stable code
DRF_CODES = {
    exceptions.ParseError: "malformed_request",
    exceptions.AuthenticationFailed: "authentication_failed",
    exceptions.NotAuthenticated: "not_authenticated",
    exceptions.PermissionDenied: "permission_denied",
    exceptions.NotFound: "not_found",
    exceptions.MethodNotAllowed: "method_not_allowed",
    exceptions.NotAcceptable: "not_acceptable",
    exceptions.UnsupportedMediaType: "unsupported_media_type",
    exceptions.Throttled: "throttled",
}


def _validation_details(detail) -> object:
    """DRF's ValidationError detail -> {field: [{"code", "message"}]} (nested where nested)."""
    if isinstance(detail, dict):
        return {key: _validation_details(value) for key, value in detail.items()}
    if isinstance(detail, list):
        return [_validation_details(item) for item in detail]
    code = getattr(detail, "code", "invalid")
    return {"code": code, "message": force_str(detail)}


def _first_message(details) -> str | None:
    if isinstance(details, dict):
        if "message" in details and "code" in details and isinstance(details["message"], str):
            return details["message"]
        for key, value in details.items():
            msg = _first_message(value)
            if msg:
                return msg if key in ("non_field_errors",) else f"{key}: {msg}"
    if isinstance(details, list):
        for item in details:
            msg = _first_message(item)
            if msg:
                return msg
    return None


def envelope(code: str, message, details=None, status_code: int = 400, headers=None) -> Response:
    return Response(
        {"error": {"code": code, "message": encodable(force_str(message)), "details": encodable(details)}},
        status=status_code, headers=headers,
    )


def encodable(value):
    """`value` with any lone surrogate written out ("\\ud800"): a refusal that echoes the
    input ('"\\ud800" is not a valid choice') must still render as UTF-8 JSON, not be a 500."""
    if isinstance(value, str):
        try:
            value.encode()
        except UnicodeEncodeError:
            return value.encode("utf-8", "backslashreplace").decode()
        return value
    if isinstance(value, dict):
        return {encodable(k): encodable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [encodable(v) for v in value]
    return value


def error_body(exc) -> tuple[str, object, object, int] | None:
    """(code, message, details, HTTP status) for the errors a request's input or a rule
    causes (domain errors, validation errors, out-of-range values); None for the rest. The
    exception handler and the offline sync's per-item errors both answer with it."""
    if isinstance(exc, DomainError):
        return exc.code, exc.message, exc.details, exc.status_code
    if isinstance(exc, OverflowError):
        # A number or date from the request past what Python's datetime or the database can
        # hold (year 1 shifted into Asia/Shanghai, an integer past 64 bits on SQLite): bad input.
        return ("value_out_of_range", _("A number or date in the request is out of range."), None,
                status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(
            exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        )
    if isinstance(exc, exceptions.ValidationError):
        details = _validation_details(exc.detail)
        if not isinstance(details, dict):
            details = {"non_field_errors": details}
        return "validation_error", _first_message(details) or _("Invalid input."), details, status.HTTP_400_BAD_REQUEST
    return None


def exception_handler(exc, context):
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()

    if isinstance(exc, RequestDataTooBig | TooManyFieldsSent):
        return envelope("request_too_large", _("The request body is too large."), None,
                        status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)
    if isinstance(exc, SuspiciousOperation):
        return envelope("bad_request", _("The request was refused as malformed."), None, status.HTTP_400_BAD_REQUEST)

    body = error_body(exc)
    if body is not None:
        set_rollback()
        return envelope(*body)

    if isinstance(exc, exceptions.APIException):
        set_rollback()
        headers = {}
        if getattr(exc, "auth_header", None):
            headers["WWW-Authenticate"] = exc.auth_header
        if getattr(exc, "wait", None):
            headers["Retry-After"] = str(int(exc.wait))
        code = next((c for cls, c in DRF_CODES.items() if isinstance(exc, cls)), None)
        if code is None:
            code = exc.get_codes() if isinstance(exc.get_codes(), str) else "error"
        detail = exc.detail
        message = detail if isinstance(detail, str) else _first_message(_validation_details(detail)) or code
        return envelope(code, message, None, exc.status_code, headers or None)

    # Anything else is a bug: log it and answer in the same envelope, never a bare HTML 500.
    logger.exception("Unhandled error in %s", context.get("view"))
    set_rollback()
    return envelope("internal_error", _("Internal server error."), None, status.HTTP_500_INTERNAL_SERVER_ERROR)


def _api_path(request) -> bool:
    return request.path.startswith("/api/")


def handler404(request, exception=None):
    """Unknown URLs under /api/ answer in the envelope too (the admin keeps Django's page)."""
    from django.http import JsonResponse
    from django.views.defaults import page_not_found

    if _api_path(request):
        return JsonResponse({"error": {"code": "not_found", "message": force_str(_("Not found.")), "details": None}},
                            status=404)
    return page_not_found(request, exception)


def handler500(request):
    from django.http import JsonResponse
    from django.views.defaults import server_error

    if _api_path(request):
        return JsonResponse({"error": {"code": "internal_error", "message": force_str(_("Internal server error.")),
                                       "details": None}}, status=500)
    return server_error(request)


def handler400(request, exception=None):
    from django.http import JsonResponse
    from django.views.defaults import bad_request

    if _api_path(request):
        return JsonResponse({"error": {"code": "bad_request", "message": force_str(_("Bad request.")),
                                       "details": None}}, status=400)
    return bad_request(request, exception)
