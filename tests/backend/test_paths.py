"""API paths answer with or without their trailing slash, and an unknown one is the JSON 404
whatever DEBUG says (backend.api.paths)."""

from __future__ import annotations

import pytest

from tests.conftest import error_of

pytestmark = pytest.mark.django_db


@pytest.fixture(params=[False, True], ids=["DEBUG=0", "DEBUG=1"])
def debug(request, settings):
    settings.DEBUG = request.param
    return request.param


def test_a_post_without_the_trailing_slash_reaches_its_endpoint(county, api, client_for, debug):
    """POST /api/dispenses was a 500 page under DEBUG (APPEND_SLASH cannot redirect a POST)
    and a 301 (losing the body) without it."""
    r = client_for(county.pharmacist).post("/api/dispenses", {}, format="json")
    assert r.status_code == 400 and error_of(r)["code"] == "validation_error"
    assert "patient_name" in error_of(r)["details"]
    r = api.post("/api/auth/token", {"username": "pharmacist", "password": "demo12345"}, format="json")
    assert r.status_code == 200 and r.json()["token"]
    r = client_for(county.pharmacist).post("/api/scan", {"code": "QX-1"}, format="json")
    assert r.status_code == 200 and r.json()["flags"][0]["code"] == "code_unknown"


def test_a_get_without_the_trailing_slash_is_the_list_and_its_links_have_it(county, client_for, debug):
    r = client_for(county.inspector).get("/api/organisations", {"page_size": 1})
    assert r.status_code == 200, r.content
    assert r.json()["next"].startswith("https://testserver/api/organisations/?")
    r = client_for(county.inspector).get(f"/api/organisations/{county.hospital.pk}")
    assert r.status_code == 200 and r.json()["id"] == county.hospital.pk


def test_paths_without_a_slash_of_their_own_are_unchanged(county, client_for, debug):
    r = client_for(county.inspector).get("/api/devices/register.csv")
    assert r.status_code == 200 and r["Content-Type"].startswith("text/csv")


@pytest.mark.parametrize("path", ["/api/nope/", "/api/nope", "/api/organisations/1/nope/"])
def test_an_unknown_api_path_is_the_json_404(county, client_for, debug, path):
    for method in ("get", "post"):
        r = getattr(client_for(county.inspector), method)(path)
        assert r.status_code == 404 and r["Content-Type"] == "application/json"
        assert error_of(r)["code"] == "not_found"


def test_a_hidden_record_is_still_the_apis_own_404(county, client_for, debug):
    r = client_for(county.other.inspector).get(f"/api/organisations/{county.hospital.pk}/")
    assert r.status_code == 404 and error_of(r)["code"] == "not_found"
