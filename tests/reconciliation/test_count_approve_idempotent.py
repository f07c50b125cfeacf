"""Approving a count posts adjustments to the ledger: a resent approval with the same
Idempotency-Key replays the first answer and posts nothing more."""

import pytest

from inventory.models import StockMovement, StockPosition
from tests.conftest import error_of
from tests.reconciliation.test_counts import stocked  # noqa: F401  (fixture)

pytestmark = pytest.mark.django_db


def closed_count(client, b1, b2, b3) -> str:
    session = client.post("/api/counts/", {"note": "月末盘点"}, format="json").json()
    url = f"/api/counts/{session['id']}/"
    client.post(url + "lines/", {"batch": b1.pk, "counted": 27}, format="json")
    client.post(url + "lines/", {"batch": b2.pk, "counted": 30}, format="json")
    client.post(url + "lines/", {"batch": b3.pk, "counted": 30}, format="json")
    response = client.post(url + "close/", {"reasons": [{"batch": b1.pk, "reason": "breakage", "note": "摔碎"}]},
                           format="json")
    assert response.status_code == 200, response.json()
    return url


def test_approve_replays_with_the_same_key(county, stocked, client_for):  # noqa: F811
    b1, b2, b3 = stocked
    client = client_for(county.pharmacist)
    url = closed_count(client, b1, b2, b3)
    first = client.post(url + "approve/", HTTP_IDEMPOTENCY_KEY="approve-1")
    again = client.post(url + "approve/", HTTP_IDEMPOTENCY_KEY="approve-1")
    assert (first.status_code, again.status_code) == (200, 200)
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert again.json() == first.json() and first.json()["status"] == "approved"
    assert list(StockMovement.objects.filter(kind="adjustment").values_list("quantity", flat=True)) == [-3]
    assert StockPosition.objects.get(holder=county.hospital, batch=b1, in_transit=False).quantity == 27
    # without the key a second approval is refused: the count is no longer closed
    response = client.post(url + "approve/")
    assert response.status_code == 409 and error_of(response)["code"] == "count_invalid_state"


def test_same_key_on_another_count_is_refused(county, stocked, client_for):  # noqa: F811
    b1, b2, b3 = stocked
    client = client_for(county.pharmacist)
    url = closed_count(client, b1, b2, b3)
    assert client.post(url + "approve/", HTTP_IDEMPOTENCY_KEY="k").status_code == 200
    other = client.post("/api/counts/", {"note": "复盘"}, format="json").json()
    response = client.post(f"/api/counts/{other['id']}/approve/", HTTP_IDEMPOTENCY_KEY="k")
    assert response.status_code == 422 and error_of(response)["code"] == "idempotency_key_reused"
