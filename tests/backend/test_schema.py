"""The OpenAPI schema and its browsable docs are served."""

import pytest
import yaml

from backend.urls import router

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("signed_in", [False, True], ids=["anonymous", "signed in"])
def test_schema_renders_every_endpoint(county, api, client_for, signed_in):
    client = client_for(county.inspector) if signed_in else api
    response = client.get("/api/schema/")
    assert response.status_code == 200
    schema = yaml.safe_load(response.content)
    assert schema["openapi"].startswith("3.")
    paths = set(schema["paths"])
    assert {"/api/auth/token/", "/api/me/"} <= paths
    for prefix, _viewset, _basename in router.registry:
        assert f"/api/{prefix}/" in paths, prefix


def test_schema_as_json(api):
    response = api.get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    assert "/api/licences/{id}/revoke/" in response.json()["paths"]


@pytest.mark.parametrize("signed_in", [False, True], ids=["anonymous", "signed in"])
def test_docs_page_is_served(county, api, client_for, signed_in):
    client = client_for(county.inspector) if signed_in else api
    response = client.get("/api/docs/")
    assert response.status_code == 200
    assert "swagger" in response.content.decode().lower()
    assert "/api/schema/" in response.content.decode()
