"""Signing in: username + password for a token; the token in `Authorization: Token <key>`."""

from __future__ import annotations

import pytest
from rest_framework.authtoken.models import Token

from tests.conftest import SecureAPIClient, error_of

pytestmark = pytest.mark.django_db


def test_token_for_username_and_password(county, api):
    response = api.post("/api/auth/token/", {"username": "pharmacist", "password": "demo12345"}, format="json")
    assert response.status_code == 200
    token = response.json()["token"]
    assert token == Token.objects.get(user=county.pharmacist).key
    # the same token again on a second sign-in
    again = api.post("/api/auth/token/", {"username": "pharmacist", "password": "demo12345"}, format="json")
    assert again.json() == {"token": token}


def test_token_header_signs_requests_in(county, api):
    token = api.post("/api/auth/token/", {"username": "inspector", "password": "demo12345"},
                     format="json").json()["token"]
    client = SecureAPIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    response = client.get("/api/me/")
    assert response.status_code == 200
    body = response.json()
    assert body["username"] == "inspector"
    assert body["role"] == "inspector"
    assert body["department"] == "health"
    assert body["organisation"]["id"] == county.authority.pk
    assert body["organisation"]["kind"] == "authority"
    assert body["organisation"]["jurisdiction_code"] == "430421"
    assert body["jurisdiction_prefix"] == "430421"


def test_me_for_a_member_with_a_person(county, client_for):
    body = client_for(county.physician).get("/api/me/").json()
    assert body["role"] == "physician"
    assert body["organisation"]["name"] == "衡阳县人民医院"
    assert body["person"]["id"] == county.physician.person.pk
    assert "resident_id" not in body["person"]


def test_me_for_a_township_member_has_the_township_prefix(county, client_for):
    from tests.factories import UserFactory

    user = UserFactory(role="pharmacist", organisation=county.pharmacy)
    assert client_for(user).get("/api/me/").json()["jurisdiction_prefix"] == "430421001"


@pytest.mark.parametrize(("username", "password"), [
    ("pharmacist", "wrong-password"),
    ("nobody", "demo12345"),
    ("pharmacist", "demo12345 "),
], ids=["wrong password", "unknown user", "password with trailing space"])
def test_bad_credentials(county, api, username, password):
    response = api.post("/api/auth/token/", {"username": username, "password": password}, format="json",
                        HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    error = error_of(response)
    assert error["code"] == "authentication_failed"
    assert "Unable to log in" in error["message"]
    assert "token" not in response.json()


def test_bad_credentials_message_in_chinese(county, api):
    response = api.post("/api/auth/token/", {"username": "pharmacist", "password": "x"}, format="json",
                        HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert "用户名或密码错误" in error_of(response)["message"]


def test_inactive_user_gets_no_token(county, api):
    county.clerk.is_active = False
    county.clerk.save()
    response = api.post("/api/auth/token/", {"username": "clerk", "password": "demo12345"}, format="json")
    assert response.status_code == 401
    assert error_of(response)["code"] == "authentication_failed"


def test_token_of_deactivated_user_stops_working(county, client_for):
    client = client_for(county.clerk)
    assert client.get("/api/me/").status_code == 200
    county.clerk.is_active = False
    county.clerk.save()
    response = client.get("/api/me/")
    assert response.status_code == 401
    assert error_of(response)["code"] == "authentication_failed"


def test_missing_fields(api):
    response = api.post("/api/auth/token/", {"username": "pharmacist"}, format="json")
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "validation_error"
    assert "password" in error["details"]


def test_form_encoded_sign_in_works(county, api):
    response = api.post("/api/auth/token/", {"username": "pharmacist", "password": "demo12345"})
    assert response.status_code == 200
    assert response.json()["token"]


def test_token_endpoint_only_accepts_post(api):
    response = api.get("/api/auth/token/")
    assert response.status_code == 405
    assert error_of(response)["code"] == "method_not_allowed"


def test_malformed_authorization_header(county, api):
    api.credentials(HTTP_AUTHORIZATION="Token two words")
    response = api.get("/api/me/")
    assert response.status_code == 401
    assert error_of(response)["code"] == "authentication_failed"



def test_session_login_signs_api_requests_in(county):
    """The README's "session login works too": /api-auth/login/ (the browsable API's form)
    gives a session that /api/ accepts (reads; a write needs its CSRF token)."""
    client = SecureAPIClient()
    assert client.get("/api/me/").status_code == 401
    page = client.get("/api-auth/login/")
    assert page.status_code == 200
    r = client.post("/api-auth/login/", {"username": "pharmacist", "password": "demo12345", "next": "/api/me/"})
    assert r.status_code == 302 and r["Location"] == "/api/me/"
    me = client.get("/api/me/")
    assert me.status_code == 200 and me.json()["username"] == "pharmacist"
    client.post("/api-auth/logout/")
    assert client.get("/api/me/").status_code == 401


def test_the_demo_has_a_django_admin_login(db):
    """seed_demo's `admin` (printed with the other demo logins) signs in at /admin/."""
    from backend.demo import DEMO_LOGINS, seed_registry

    seed_registry()
    assert "admin" in dict(DEMO_LOGINS)
    client = SecureAPIClient()
    r = client.post("/admin/login/?next=/admin/", {"username": "admin", "password": "demo12345",
                                                   "next": "/admin/"})
    assert r.status_code == 302 and r["Location"] == "/admin/"
    assert client.get("/admin/backend/organisation/").status_code == 200
    for username in ("office", "pharmacist"):  # the others are API logins, not the admin's
        client = SecureAPIClient()
        r = client.post("/admin/login/?next=/admin/", {"username": username, "password": "demo12345"})
        assert r.status_code == 200  # the form again, with its error
