"""Idempotency-Key on stock-changing POSTs: replay, mismatched replay, in-flight replay."""

import threading

import pytest

from backend.idempotency import IdempotencyKey
from inventory import services
from inventory.models import Dispense, Intake, Shipment, StockMovement
from tests.conftest import error_of
from tests.inventory.factories import BatchFactory, DrugProductFactory, dispense_payload, stock_institution
from tests.inventory.live import PROXY_HEADER, request, token_for


def post(client, url, body, key):
    return client.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY=key)


@pytest.mark.django_db
def test_replay_returns_original_and_writes_nothing(county, client_for):
    batch = BatchFactory()
    stock_institution(county, batch, 10)
    pharmacist = client_for(county.pharmacist)
    body = dispense_payload(county, batch, quantity=2)
    first = post(pharmacist, "/api/dispenses/", body, "scan-0001")
    assert first.status_code == 201
    movements = StockMovement.objects.count()
    second = post(pharmacist, "/api/dispenses/", body, "scan-0001")
    assert second.status_code == 201 and second.json() == first.json()
    assert second.headers["Idempotent-Replayed"] == "true"
    assert Dispense.objects.count() == 1 and StockMovement.objects.count() == movements
    # same body, new key: a second dispense
    assert post(pharmacist, "/api/dispenses/", body, "scan-0002").status_code == 201
    assert Dispense.objects.count() == 2


@pytest.mark.django_db
def test_same_key_different_body_is_422(county, client_for):
    batch = BatchFactory()
    stock_institution(county, batch, 10)
    pharmacist = client_for(county.pharmacist)
    assert post(pharmacist, "/api/dispenses/", dispense_payload(county, batch), "k1").status_code == 201
    r = post(pharmacist, "/api/dispenses/", dispense_payload(county, batch, quantity=3), "k1")
    assert r.status_code == 422 and error_of(r)["code"] == "idempotency_key_reused"
    assert Dispense.objects.count() == 1


@pytest.mark.django_db
def test_keys_are_per_user_and_endpoint(county, client_for):
    product = DrugProductFactory()
    clerk = client_for(county.clerk)
    body = {"product": product.pk, "lot_number": "X1", "expiry_printed": "300100", "quantity": 5,
            "invoice_number": "I-1", "supplier_name": "厂"}
    assert post(clerk, "/api/intakes/", body, "same").status_code == 201
    r = post(clerk, "/api/shipments/", {"recipient": county.hospital.pk,
                                        "lines": [{"batch": Intake.objects.get().batch_id, "quantity": 1}]}, "same")
    assert r.status_code == 201  # another endpoint: another key space
    assert IdempotencyKey.objects.filter(key="same").count() == 2


@pytest.mark.django_db
def test_refusals_are_replayed_too_and_dispatch_is_idempotent(county, client_for):
    batch = BatchFactory()
    from tests.inventory.factories import stock_wholesaler

    stock_wholesaler(county, batch, 10)
    clerk = client_for(county.clerk)
    sid = clerk.post("/api/shipments/", {"recipient": county.hospital.pk,
                                          "lines": [{"batch": batch.pk, "quantity": 4}]}, format="json").json()["id"]
    a = post(clerk, f"/api/shipments/{sid}/dispatch/", {}, "d-1")
    b = post(clerk, f"/api/shipments/{sid}/dispatch/", {}, "d-1")
    assert (a.status_code, b.status_code) == (200, 200) and a.json() == b.json()
    assert StockMovement.objects.filter(kind="dispatch").count() == 2  # one line: out of stock, into transit
    c = post(clerk, f"/api/shipments/{sid}/dispatch/", {}, "d-2")  # a new key on a dispatched shipment
    assert c.status_code == 409 and error_of(c)["code"] == "shipment_not_draft"
    assert Shipment.objects.get(pk=sid).status == "dispatched"


@pytest.mark.django_db(transaction=True)
def test_in_flight_replay_is_409_through_http(county, live_server, settings, monkeypatch):
    settings.SECURE_PROXY_SSL_HEADER = PROXY_HEADER
    batch = BatchFactory()
    stock_institution(county, batch, 10)
    token = token_for(county.pharmacist)
    body = dispense_payload(county, batch)
    entered, release = threading.Event(), threading.Event()
    real = services.dispense_record

    def slow_dispense(**kwargs):
        entered.set()
        release.wait(20)
        return real(**kwargs)

    monkeypatch.setattr(services, "dispense_record", slow_dispense)
    results = {}

    def first():
        results["first"] = request(live_server.url, "POST", "/api/dispenses/", token=token, body=body,
                                   headers={"Idempotency-Key": "flaky-net-1"})

    thread = threading.Thread(target=first)
    thread.start()
    assert entered.wait(20), "the first request never reached the service"
    status, payload, headers = request(live_server.url, "POST", "/api/dispenses/", token=token, body=body,
                                       headers={"Idempotency-Key": "flaky-net-1"})
    assert status == 409 and payload["error"]["code"] == "idempotency_in_progress"
    assert headers.get("Retry-After") == "1"
    release.set()
    thread.join(30)
    assert results["first"][0] == 201, results["first"]
    status, payload, headers = request(live_server.url, "POST", "/api/dispenses/", token=token, body=body,
                                       headers={"Idempotency-Key": "flaky-net-1"})
    assert status == 201 and payload == results["first"][1] and headers.get("Idempotent-Replayed") == "true"
    assert Dispense.objects.count() == 1


@pytest.mark.django_db
def test_stored_answers_are_purged_after_a_day(county, client_for):
    import datetime as dt

    from django.utils import timezone

    from backend.idempotency import purge_expired

    batch = BatchFactory()
    stock_institution(county, batch, 10)
    pharmacist = client_for(county.pharmacist)
    assert post(pharmacist, "/api/dispenses/", dispense_payload(county, batch), "old").status_code == 201
    assert purge_expired() == 0
    assert purge_expired(now=timezone.now() + dt.timedelta(hours=25)) == 1
    assert IdempotencyKey.objects.count() == 0
