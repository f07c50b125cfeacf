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


@pytest.fixture(scope="module")
def schema(django_db_setup, django_db_blocker):
    from drf_spectacular.generators import SchemaGenerator

    with django_db_blocker.unblock():
        return SchemaGenerator().get_schema(request=None, public=True)


def _response_codes(schema, path, method="post") -> set[str]:
    return set(schema["paths"][path][method]["responses"])


@pytest.mark.parametrize("path", ["/api/stock/movements/{id}/correct/", "/api/closings/sign/",
                                  "/api/devices/{id}/photos/", "/api/visits/{id}/count/"])
def test_actions_that_create_are_documented_as_201(schema, path):
    assert _response_codes(schema, path) == {"201"}


@pytest.mark.parametrize(("path", "reference"), [
    ("/api/closings/preview/", "ClosingPreview"),
    ("/api/filings/sales/{id}/lines/", "PaginatedSalesFilingLineList"),
    ("/api/filings/status/", "FilingStatus"),
])
def test_reads_are_documented_with_what_they_return(schema, path, reference):
    assert schema["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": f"#/components/schemas/{reference}"}


def test_people_writes_answer_with_the_detail(schema):
    for path, method, code in (("/api/people/", "post", "201"), ("/api/people/{id}/", "put", "200"),
                               ("/api/people/{id}/", "patch", "200")):
        body = schema["paths"][path][method]["responses"][code]["content"]["application/json"]["schema"]
        assert body == {"$ref": "#/components/schemas/PersonDetail"}, (path, method)


@pytest.mark.parametrize("path", ["/api/closings/{id}/", "/api/filings/sales/{id}/"])
def test_changes_of_signed_records_are_documented_as_409(schema, path):
    for method in ("put", "patch", "delete"):
        assert _response_codes(schema, path, method) == {"409"}, method


@pytest.mark.parametrize("path", ["/api/devices/{id}/events/", "/api/devices/late-filings/",
                                  "/api/filings/sales/{id}/lines/"])
def test_actions_document_no_list_filters_they_do_not_apply(schema, path):
    assert {p["name"] for p in schema["paths"][path]["get"]["parameters"]} <= {"id", "page", "page_size"}


def test_the_scan_request_lists_every_actions_fields(schema):
    body = schema["paths"]["/api/scan/"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    component = schema["components"]["schemas"][body["$ref"].rsplit("/", 1)[1]]
    assert {"code", "image", "action", "shipment", "received_quantity", "session", "visit", "client_id",
            "patient_name", "physician", "quantity", "emergency_physicians"} <= set(component["properties"])
    assert not component.get("required")  # each action takes its own
    assert "ScanResult" in str(schema["paths"]["/api/scan/"]["post"]["responses"]["200"])


def test_serializer_descriptions_are_not_code_comments(schema):
    for name, component in schema["components"]["schemas"].items():
        assert "hot path" not in component.get("description", ""), name
