"""Two filings of the same nameplate at the same moment: the unique constraint decides, the
loser gets device_duplicate_filing (and is recorded), never a 500 or a second device."""

import threading

import pytest
from django.db import connection, connections

from inventory.devices import errors
from inventory.devices.models import Device, DeviceRefusal
from tests.devices.factories import file_device, filing

pytestmark = pytest.mark.django_db(transaction=True)


def test_concurrent_duplicate_filings(county):
    if connection.vendor != "postgresql":
        pytest.skip("concurrency is proven on PostgreSQL (SQLite serialises writers with IMMEDIATE transactions)")
    from inventory.devices import services

    data = [filing(county.hospital, serial="RACE-1"), filing(county.hospital, serial="race 1")]
    barrier = threading.Barrier(2)
    outcomes = []

    def run(fields):
        try:
            barrier.wait(timeout=10)
            outcomes.append(services.device_file(actor=None, **fields).pk)
        except errors.DuplicateFiling as exc:
            outcomes.append(exc.code)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(d,)) for d in data]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(map(str, outcomes))[-1] == "device_duplicate_filing", outcomes
    assert Device.objects.count() == 1
    assert DeviceRefusal.objects.filter(code="device_duplicate_filing").count() == 1
    # And a third, later filing is refused by the ordinary check.
    with pytest.raises(errors.DuplicateFiling):
        file_device(county.hospital, serial="RACE 1")
