"""Settings come from the environment; production settings pass `check --deploy`.

Each case runs manage.py in a subprocess with a clean environment, so nothing from the
test run (DEBUG, DATABASE_URL, a short SECRET_KEY) leaks in."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION_KEY = "q8N3v!x2Lr#pT7w@Zk5mB9s&Yc4hJ6d$Fg1aE0uW^oV-iXnQ+7Hs2Pe"


def run(args, **env):
    clean = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8",
             "DJANGO_SETTINGS_MODULE": "backend.settings", **env}
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=clean, capture_output=True, text=True, timeout=120)


def test_check_deploy_is_clean_with_production_settings():
    result = run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"],
                 SECRET_KEY=PRODUCTION_KEY, ALLOWED_HOSTS="tracker.hengyang.example.cn")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize(("env", "warning"), [
    ({"DEBUG": "1"}, "security.W018"),
    ({"SECRET_KEY": "short"}, "security.W009"),
    ({"SECURE_SSL_REDIRECT": "0"}, "security.W008"),
], ids=["DEBUG on", "weak SECRET_KEY", "no HTTPS redirect"])
def test_check_deploy_fails_on_unsafe_settings(env, warning):
    base = {"SECRET_KEY": PRODUCTION_KEY, "ALLOWED_HOSTS": "tracker.hengyang.example.cn"}
    result = run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], **{**base, **env})
    assert result.returncode != 0
    assert warning in result.stderr + result.stdout


def test_settings_refuse_to_load_without_secret_key():
    result = run(["-c", "import django; django.setup()"])
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "SECRET_KEY" in result.stderr


def test_debug_runs_without_secret_key():
    result = run(["-c", "import django; django.setup(); from django.conf import settings; print(settings.DEBUG)"],
                 DEBUG="1")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "True"


def test_settings_from_environment():
    code = ("import django; django.setup(); from django.conf import settings as s; "
            "print(s.ALLOWED_HOSTS, s.TIME_ZONE, s.LANGUAGE_CODE, s.DATABASES['default']['ENGINE'], s.MEDIA_ROOT)")
    result = run(["-c", code], SECRET_KEY=PRODUCTION_KEY, ALLOWED_HOSTS="a.example.cn, b.example.cn",
                 DATABASE_URL="postgres://app@db.internal:5432/liangfei", MEDIA_ROOT="/srv/media")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["['a.example.cn',", "'b.example.cn']", "Asia/Shanghai", "zh-hans",
                                     "django.db.backends.postgresql", "/srv/media"]


@pytest.mark.parametrize(("value", "expected"), [
    (None, "None 5"), ("1", "None 5"), ("0", "None None"), ("off", "None None"),
], ids=["default", "on", "0", "off"])
def test_prepared_statements_on_postgresql_from_environment(value, expected):
    """Only fastsql's cursors bind on the server; the ORM keeps Django's client-side binding."""
    code = ("import django; django.setup(); from django.conf import settings as s; "
            "o = s.DATABASES['default']['OPTIONS']; print(o.get('server_side_binding'), o.get('prepare_threshold'))")
    env = {"SECRET_KEY": PRODUCTION_KEY, "DATABASE_URL": "postgres://app@db.internal:5432/liangfei"}
    if value is not None:
        env["DB_PREPARED_STATEMENTS"] = value
    result = run(["-c", code], **env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == expected


def test_sqlite_has_no_prepare_options():
    code = ("import django; django.setup(); from django.conf import settings as s; "
            "print(sorted(s.DATABASES['default']['OPTIONS']))")
    result = run(["-c", code], SECRET_KEY=PRODUCTION_KEY, DATABASE_URL="sqlite:////tmp/liangfei-settings-test.sqlite3")
    assert result.returncode == 0, result.stderr
    assert "prepare_threshold" not in result.stdout and "server_side_binding" not in result.stdout


def test_no_prepared_statements_on_connections_that_live_for_one_request():
    """Preparing costs a round trip once per connection: with CONN_MAX_AGE=0 that is every request."""
    code = ("import django; django.setup(); from django.conf import settings as s; "
            "print(s.DATABASES['default']['OPTIONS'].get('prepare_threshold'))")
    env = {"SECRET_KEY": PRODUCTION_KEY, "DATABASE_URL": "postgres://app@db.internal:5432/liangfei"}
    assert run(["-c", code], **env, CONN_MAX_AGE="0").stdout.strip() == "None"
    assert run(["-c", code], **env, CONN_MAX_AGE="300").stdout.strip() == "5"
