"""Concurrent dispenses against one position holding 100: exactly 100 succeed, the rest are
refused with 409, the balance ends at 0 and nothing answers 500.

- PostgreSQL: 16 real threads call the service, each on its own connection
  (`select_for_update` on the position in `inventory.locking`).
- Both databases: the same through HTTP against a live server (16 clients on PostgreSQL,
  8 on SQLite, where IMMEDIATE transactions and the busy timeout serialise writers).
"""

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection, connections

from backend.errors import DomainError
from inventory import selectors, services
from inventory.models import Dispense
from tests.inventory.factories import BatchFactory, dispense_kwargs, dispense_payload, stock_institution
from tests.inventory.live import PROXY_HEADER, request, token_for

ATTEMPTS = 200
STOCK = 100


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql",
                    reason="SQLite ignores select_for_update; row locking is proven on PostgreSQL "
                           "(the HTTP test below covers SQLite)")
def test_sixteen_threads_dispense_from_one_position_postgresql(county):
    batch = BatchFactory()
    stock_institution(county, batch, STOCK)
    kwargs = dispense_kwargs(county, batch, quantity=1)
    outcomes: Counter = Counter()
    lock = threading.Lock()
    start = threading.Barrier(16)
    remaining = iter(range(ATTEMPTS))

    def worker():
        start.wait()
        try:
            while True:
                with lock:
                    if next(remaining, None) is None:
                        return
                try:
                    services.dispense_record(actor=county.pharmacist, **kwargs)
                    result = 201
                except DomainError as exc:
                    result = exc.status_code
                except Exception as exc:  # anything else is a bug (would be a 500)
                    result = f"500 {type(exc).__name__}: {exc}"
                with lock:
                    outcomes[result] += 1
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert outcomes == Counter({201: STOCK, 409: ATTEMPTS - STOCK}), outcomes
    assert selectors.position_quantity(county.hospital.pk, batch.pk) == 0
    assert Dispense.objects.count() == STOCK
    assert selectors.ledger_mismatches() == []


@pytest.mark.django_db(transaction=True)
def test_concurrent_http_dispenses_never_500(county, live_server, settings):
    settings.SECURE_PROXY_SSL_HEADER = PROXY_HEADER
    clients = 16 if connection.vendor == "postgresql" else 8
    batch = BatchFactory()
    stock_institution(county, batch, STOCK)
    token = token_for(county.pharmacist)
    body = dispense_payload(county, batch, quantity=1)

    def attempt(i):
        status, payload, _ = request(live_server.url, "POST", "/api/dispenses/", token=token, body=body,
                                     headers={"Idempotency-Key": f"attempt-{i}"})
        return status, (payload or {}).get("error", {}).get("code") if status != 201 else None

    with ThreadPoolExecutor(max_workers=clients) as pool:
        results = list(pool.map(attempt, range(ATTEMPTS)))
    statuses = Counter(status for status, _ in results)
    assert statuses == Counter({201: STOCK, 409: ATTEMPTS - STOCK}), statuses
    assert {code for status, code in results if status == 409} == {"insufficient_stock"}
    assert selectors.position_quantity(county.hospital.pk, batch.pk) == 0
    assert Dispense.objects.count() == STOCK
    assert selectors.ledger_mismatches() == []
