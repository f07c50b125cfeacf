"""No filter of any list endpoint answers a bad value with a 500 (a number past the 64-bit
range, which SQLite raises OverflowError on, a fraction for an id, text): 400, or 200 where
the filter is free text; the id filters named below refuse them with 400."""

import pytest

from backend.urls import router
from tests.conftest import error_of

pytestmark = pytest.mark.django_db

HUGE = "9" * 23


def _filters():
    for prefix, viewset, _basename in router.registry:
        filterset = getattr(viewset, "filterset_class", None)
        for name in (filterset.base_filters if filterset else []):
            yield prefix, name


@pytest.mark.parametrize(("prefix", "name"), list(_filters()))
def test_no_filter_value_makes_a_500(county, client_for, prefix, name):
    client = client_for(county.office_admin)
    for value in (HUGE, f"-{HUGE}", "1.5", "abc", "²"):
        r = client.get(f"/api/{prefix}/", {name: value})
        assert r.status_code in (200, 400), (prefix, name, value, r.status_code)


@pytest.mark.parametrize("url", ["/api/licences/?holder_organisation=", "/api/stock/balances/?holder=",
                                 "/api/devices/?holder=", "/api/dispenses/?product="])
def test_an_id_past_the_64_bit_range_is_refused(county, client_for, url):
    r = client_for(county.office_admin).get(url + HUGE)
    assert r.status_code == 400
    assert error_of(r)["code"] == "validation_error"
