"""Who sees and changes what, for every endpoint in `backend.urls.router`, every role and
anonymous, over three places (own organisation, another organisation in the same county,
another jurisdiction). The table lives in `permission_matrix.py` (and in
`tests/<app>/permission_rows.py` for other apps); read its docstring to add an endpoint.

Rules (DOMAIN.md, visibility.py): members see only their own organisation's records (a
list leaves others out; their detail is 404); inspectors and office administrators see
everything in their jurisdiction and below and nothing outside (404); jurisdictions are
public reference data for every signed-in user; only office administrators create
organisations and licences, within their jurisdiction; anonymous requests get 401.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest
from django.db import transaction

from backend.models import Organisation, User
from backend.urls import router
from tests.backend.permission_matrix import ENDPOINTS, PLACES, ROLES, Endpoint
from tests.conftest import error_of, token_client

pytestmark = pytest.mark.django_db

TESTS_DIR = Path(__file__).resolve().parent.parent


def _all_rows() -> dict[str, Endpoint]:
    rows = dict(ENDPOINTS)
    for path in sorted(TESTS_DIR.glob("*/permission_rows.py")):
        module = importlib.import_module(f"tests.{path.parent.name}.permission_rows")
        clash = set(rows) & set(module.ENDPOINTS)
        assert not clash, f"{path}: rows for {clash} are already defined elsewhere"
        rows.update(module.ENDPOINTS)
    return rows


ROWS = _all_rows()
REGISTERED = {prefix: viewset for prefix, viewset, _basename in router.registry}


def _extra_actions(viewset) -> dict[str, object]:
    return {action.url_path: action for action in viewset.get_extra_actions()}


# --- completeness ---------------------------------------------------------------------


@pytest.mark.parametrize("prefix", sorted(REGISTERED))
def test_every_endpoint_has_a_row(prefix):
    assert prefix in ROWS, (
        f"/api/{prefix}/ is registered in backend.urls.router but has no row in the permission matrix; "
        f"add one (see tests/backend/permission_matrix.py)"
    )
    missing = set(_extra_actions(REGISTERED[prefix])) - set(ROWS[prefix].extra)
    assert not missing, f"/api/{prefix}/: extra actions {sorted(missing)} have no Extra entry in the matrix"


def test_no_row_without_an_endpoint():
    assert set(ROWS) - set(REGISTERED) == set()
    for prefix, row in ROWS.items():
        assert set(row.extra) <= set(_extra_actions(REGISTERED[prefix])), prefix


# --- the matrix -----------------------------------------------------------------------


def _cases():
    for prefix in sorted(set(ROWS) & set(REGISTERED)):
        for action in ["list", "retrieve", "create", "update", *sorted(ROWS[prefix].extra)]:
            yield pytest.param(prefix, action, id=f"{prefix}-{action}")


def _owners(county, user) -> dict:
    """Fresh instances of the three owners (earlier roles' changes were rolled back)."""
    return {
        "own": Organisation.objects.get(pk=user.organisation_id if user is not None else county.hospital.pk),
        "county": Organisation.objects.get(pk=county.pharmacy.pk),
        "outside": Organisation.objects.get(pk=county.other.hospital.pk),
    }


def _ids(response) -> set:
    body = response.json()
    items = body["results"] if isinstance(body, dict) and "results" in body else body
    return {item["id"] for item in items}


DEFAULT_CODES = {401: "not_authenticated", 404: "not_found", 405: "method_not_allowed"}


def _problem(response, expected) -> str | None:
    """None when `response` is what the matrix expects, otherwise a description."""
    if isinstance(expected, str):
        status, code = expected.split()
        status = int(status)
    else:
        status, code = expected, DEFAULT_CODES.get(expected)
    if response.status_code != status:
        return f"expected {expected}, got {response.status_code} {response.content[:300]!r}"
    if status >= 400:
        error = error_of(response)
        if code and error["code"] != code:
            return f"expected {expected}, got code {error['code']!r}"
    return None


@pytest.mark.parametrize(("prefix", "action"), list(_cases()))
def test_matrix(county, prefix, action):
    """One county for all roles; each role runs in a savepoint that is rolled back, so every
    role starts from the same database state."""
    problems = []
    for role in ROLES:
        savepoint = transaction.savepoint()
        try:
            problems += [f"{role} {place}: {problem}" for place, problem in _run_role(county, prefix, action, role)]
        finally:
            transaction.savepoint_rollback(savepoint)
    assert not problems, f"{action} /api/{prefix}/:\n  " + "\n  ".join(problems)


def _run_role(county, prefix, action, role):
    """Yield (place, problem) for each place where the outcome differs from the table."""
    endpoint = ROWS[prefix]
    user = county.users().get(role)
    if user is not None:
        user = User.objects.get(pk=user.pk)
    client = token_client(user)
    owners = _owners(county, user)
    base = f"/api/{prefix}/"

    if action == "create":
        model = type(endpoint.record(county, owners["own"]))
        for i, place in enumerate(PLACES):
            if endpoint.create is None:
                expected = 401 if role == "anonymous" else 405
                response = client.post(base, {}, format="json")
            else:
                payload, outcomes = endpoint.create
                expected = outcomes[role][i]
                before = model.objects.count()
                response = client.post(base, payload(county, owners[place]), format="json")
                created = model.objects.count() - before
                if expected == 201 and response.status_code == 201 and created != 1:
                    yield place, f"201 but {created} rows created"
                if expected != 201 and created:
                    yield place, f"refused but {created} rows created"
            if (problem := _problem(response, expected)) is not None:
                yield place, problem
        return

    records = {place: endpoint.record(county, owners[place]) for place in PLACES}
    if action == "list":
        response = client.get(base, {"page_size": 500})
        for i, place in enumerate(PLACES):
            expected = endpoint.read[role][i]
            if expected == 401:
                problem = _problem(response, 401)
            elif response.status_code != 200:
                problem = f"list answered {response.status_code} {response.content[:300]!r}"
            else:
                listed = endpoint.key(records[place]) in _ids(response)
                problem = None if listed == (expected == 200) else (
                    f"expected {'listed' if expected == 200 else 'left out'}, was {'' if listed else 'not '}listed")
            if problem:
                yield place, problem
        return

    for i, place in enumerate(PLACES):
        record = records[place]
        url = f"{base}{endpoint.key(record)}/"
        if action == "retrieve":
            expected = endpoint.read[role][i]
            response = client.get(url)
            if response.status_code == 200 and response.json().get("id") != endpoint.key(record):
                yield place, "detail shows another record"
        elif action == "update":
            if endpoint.update is None:
                expected = 401 if role == "anonymous" else 405
                response = client.patch(url, {}, format="json")
            else:
                payload, outcomes = endpoint.update
                expected = outcomes[role][i]
                data = payload(record)
                response = client.patch(url, data, format="json")
                record.refresh_from_db()
                stored = {name: str(getattr(record, name)) for name in data}
                wanted = {name: str(value) for name, value in data.items()}
                if expected == 200 and stored != wanted:
                    yield place, f"200 but stored {stored}"
                if expected != 200 and stored == wanted:
                    yield place, "refused but the change was stored"
        else:
            extra = endpoint.extra[action]
            expected = extra.expect[role][i]
            target = url if extra.detail else base
            response = getattr(client, extra.method)(f"{target}{action}/", extra.payload(record), format="json")
        if (problem := _problem(response, expected)) is not None:
            yield place, problem


# --- /api/me/ and the plain views -----------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_me(county, client_for, role):
    user = county.users().get(role)
    response = client_for(user).get("/api/me/")
    if user is None:
        assert response.status_code == 401
        assert error_of(response)["code"] == "not_authenticated"
        return
    assert response.status_code == 200
    body = response.json()
    assert body["username"] == user.username
    assert body["role"] == role
    assert body["organisation"]["id"] == user.organisation_id
    assert body["jurisdiction_prefix"] == "430421"


@pytest.mark.parametrize("url", ["/api/me/", "/api/organisations/", "/api/jurisdictions/", "/api/audit-trail/"])
def test_anonymous_gets_401_envelope(api, url):
    response = api.get(url, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 401
    error = error_of(response)
    assert error["code"] == "not_authenticated"
    assert response["WWW-Authenticate"] == "Token"


def test_bad_token_is_401(county, api):
    api.credentials(HTTP_AUTHORIZATION="Token 0123456789abcdef0123456789abcdef01234567")
    response = api.get("/api/me/")
    assert response.status_code == 401
    assert error_of(response)["code"] == "authentication_failed"


def test_user_without_role_sees_nothing(county, client_for):
    from tests.factories import UserFactory

    loner = UserFactory(role="", organisation=None)
    client = client_for(loner)
    assert client.get("/api/me/").json()["organisation"] is None
    assert client.get("/api/organisations/").json()["count"] == 0
    assert client.get("/api/people/").json()["count"] == 0
    assert client.get("/api/audit-trail/").json()["count"] == 0
    assert client.get(f"/api/organisations/{county.hospital.pk}/").status_code == 404
    # jurisdictions stay public reference data
    assert client.get("/api/jurisdictions/").json()["count"] >= 4
