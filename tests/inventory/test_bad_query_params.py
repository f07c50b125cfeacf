"""Malformed query parameters answer 400 in the error envelope, never 500."""

import pytest

from tests.conftest import error_of

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("as_of", ["2026-02-30", "2026-13-01", "2026-00-10", "0000-01-01", "tomorrow"])
def test_balances_as_of_an_impossible_date_is_refused(county, client_for, as_of):
    response = client_for(county.clerk).get("/api/stock/balances/", {"as_of": as_of})
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "invalid_date"
    assert "as_of" in error["message"] and error["details"] == {"param": "as_of"}


@pytest.mark.parametrize("holder", ["9" * 30, "²", "1.5"])
def test_balances_as_of_with_a_malformed_id_is_refused(county, client_for, holder):
    response = client_for(county.clerk).get("/api/stock/balances/", {"as_of": "2026-01-01", "holder": holder})
    assert response.status_code == 400
    assert error_of(response)["code"] == "invalid_filter"


@pytest.mark.parametrize("query", [{"in_transit": "maybe"}, {"in_transit": "maybe", "as_of": "2026-01-01"},
                                   {"nonzero": "yes please"}])
def test_balances_with_an_unreadable_boolean_are_refused(county, client_for, query):
    response = client_for(county.clerk).get("/api/stock/balances/", query)
    assert response.status_code == 400
    assert error_of(response)["code"] in ("validation_error", "invalid_filter")


def test_expired_batches_filter_refuses_an_unreadable_boolean(county, client_for):
    response = client_for(county.pharmacist).get("/api/batches/", {"expired": "perhaps"})
    assert response.status_code == 400
    assert "expired" in error_of(response)["details"]
