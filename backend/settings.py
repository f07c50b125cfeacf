"""Settings, all from the environment (12-factor).

| variable | default | meaning |
| --- | --- | --- |
| DATABASE_URL | sqlite:///var/db.sqlite3 | sqlite:///path or postgres://user@host:port/name |
| SECRET_KEY | (required unless DEBUG) | Django's signing key |
| DEBUG | 0 | 1 for development |
| ALLOWED_HOSTS | localhost,127.0.0.1 | comma-separated |
| MEDIA_ROOT | var/media | where uploads are stored (by content hash) |
| SECURE_SSL_REDIRECT | 1 unless DEBUG | redirect plain HTTP to HTTPS |
| SECURE_PROXY_SSL_HEADER | (unset) | e.g. HTTP_X_FORWARDED_PROTO when behind a TLS proxy |
| CSRF_TRUSTED_ORIGINS | (empty) | comma-separated origins for session-authenticated writes |
| DB_PREPARED_STATEMENTS | 1 | PostgreSQL: prepare backend.fastsql's hot-path statements on each connection (off with CONN_MAX_AGE=0) |
| CONN_MAX_AGE | 60 | PostgreSQL: seconds a connection is kept between requests |
"""

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG", False)

SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set in the environment unless DEBUG=1.")
    SECRET_KEY = "insecure-development-key-only-used-with-DEBUG-" + "x" * 20

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "backend",
    "audits",
    "audits.alerts",
    "audits.sweeps",
    "inventory",
    "inventory.devices",
    "scanning",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "backend.api.paths.ApiPathMiddleware",  # /api/ paths with or without their trailing slash
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "audits.context.AuditContextMiddleware",
]

ROOT_URLCONF = "backend.urls"
WSGI_APPLICATION = "backend.wsgi.application"
ASGI_APPLICATION = "backend.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- database -------------------------------------------------------------------------
DEFAULT_SQLITE = BASE_DIR / "var" / "db.sqlite3"
DATABASE_URL = os.environ.get("DATABASE_URL") or f"sqlite:///{DEFAULT_SQLITE}"
_db = dj_database_url.parse(DATABASE_URL, conn_max_age=0)
if _db["ENGINE"] == "django.db.backends.sqlite3":
    if _db["NAME"] and _db["NAME"] != ":memory:":
        Path(_db["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    _db["OPTIONS"] = {
        # One writer at a time, decided when the transaction starts, not at its first
        # write: no "database is locked" upgrade failures under concurrent writers.
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;",
    }
    _db["TEST"] = {"NAME": str(BASE_DIR / "var" / f"test{os.environ.get('TEST_DB_SUFFIX', '')}.sqlite3")}
else:
    _db["CONN_MAX_AGE"] = int(os.environ.get("CONN_MAX_AGE", "60"))
    _db["CONN_HEALTH_CHECKS"] = True
    # Prepared statements for backend.fastsql's fixed hot-path statements (token auth, the
    # dispense's and the scan's reads and inserts, the posting, the audit append): each is
    # planned once per connection, not per call. The ORM's queries keep Django's client-side
    # binding, which never prepares. psycopg ignores a cursor's prepare=True when the
    # connection's prepare_threshold is None (Django's default), hence the value here; the
    # threshold itself only applies to server-binding cursors, and only fastsql's are.
    # DB_PREPARED_STATEMENTS=0 behind a pooler that cannot keep prepared statements (PgBouncer
    # in transaction mode without max_prepared_statements). Off with CONN_MAX_AGE=0 too: a
    # statement is prepared once per connection, at the cost of one more round trip, which a
    # connection that lives for one request would pay on every request.
    if env_bool("DB_PREPARED_STATEMENTS", True) and _db["CONN_MAX_AGE"] != 0:
        _db["OPTIONS"] = {"prepare_threshold": 5}
    if os.environ.get("TEST_DB_SUFFIX"):
        _db["TEST"] = {"NAME": f"test_{_db['NAME']}{os.environ['TEST_DB_SUFFIX']}"}
DATABASES = {"default": _db}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "backend.User"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

# --- language and time ----------------------------------------------------------------
LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", _("Simplified Chinese")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
LOGIN_URL = "rest_framework:login"  # the browsable API's session login (/api-auth/login/)
LOGIN_REDIRECT_URL = "/api/"
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

# --- files ----------------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "var" / "static"
MEDIA_URL = "media/"
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT") or BASE_DIR / "var" / "media")
DATA_UPLOAD_MAX_MEMORY_SIZE = 12 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 12 * 1024 * 1024

# --- security (production unless DEBUG) -----------------------------------------------
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
if not DEBUG:
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", str(60 * 60 * 24 * 365)))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)
    if os.environ.get("SECURE_PROXY_SSL_HEADER"):
        SECURE_PROXY_SSL_HEADER = (os.environ["SECURE_PROXY_SSL_HEADER"], "https")

# --- API ------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "backend.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "backend.api.pagination.Pagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "backend.api.filters.StrictOrderingFilter",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "backend.errors.exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "两非 compliance tracker API",
    "DESCRIPTION": (
        "Registers ultrasound and chromosome-testing devices, tracks termination-of-pregnancy "
        "drugs on an append-only ledger, and serves clinics, wholesalers and inspectors. "
        'Every error is {"error": {"code", "message", "details"}}.'
    ),
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI from our own static files: county offices are often offline.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Choice sets that share a field name ("kind", "status", "role") get their own names.
    "ENUM_NAME_OVERRIDES": {
        "DeviceKindEnum": "inventory.devices.models.DeviceKind",
        "DeviceStatusEnum": "inventory.devices.models.DeviceStatus",
        "DeviceCapabilityEnum": "inventory.devices.models.Capability",
        "DeviceEventKindEnum": "inventory.devices.models.DeviceEvent.Kind",
        "DeviceImageRoleEnum": "inventory.devices.models.DeviceImage.Role",
        "DisposalReasonEnum": "inventory.models.Disposal.Reason",
        "AuditActionEnum": "audits.models.AuditEntry.Action",
        "ScanActionEnum": "scanning.models.ScanAction",
        "DepartmentEnum": "backend.models.User.Department",
        "FindingSeverityEnum": "audits.sweeps.models.Finding.Severity",
        "SweepStatusEnum": "audits.sweeps.models.Sweep.Status",
        "VisitStatusEnum": "audits.sweeps.models.Visit.Status",
        "CaseStatusEnum": "audits.sweeps.models.Case.Status",
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "WARNING")},
}
