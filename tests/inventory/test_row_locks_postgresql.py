"""A lock taken to serialise one kind of change must not hold up the counter.

The services lock a row before changing its state: a shipment (dispatch, receive, reject),
a device (transfer, seal, scrap...), a count session, a holder signing its month, a
wholesaler filing its sales. On PostgreSQL a plain `FOR UPDATE` on a join locks every
joined row (the shipment's sender and recipient, the device's holder and its
jurisdiction), and `FOR UPDATE` conflicts with the `FOR KEY SHARE` that every foreign-key
check takes: a dispense at the clinic (its register row and its movement point at the
clinic) then waits for the wholesaler's dispatch or the custodian's signature to finish,
and the two can deadlock. The locks are `FOR NO KEY UPDATE OF` the row itself: two lockers
of the same row still wait for each other, nothing else does.

Real threads on PostgreSQL (SQLite ignores row locks: IMMEDIATE transactions serialise
writers there). The second transaction runs with a 3 s lock_timeout: waiting on the first
is an error, not a hang. (Each lock is held here by itself: a whole service held open
would also hold the audit chain's lock, which every write takes from its audit append to
its commit, by design: the chain has one order.)
"""

import threading
from contextlib import contextmanager

import pytest
from django.db import connection, connections, transaction
from django.db.utils import OperationalError

from audits import closing, counts, filings
from inventory import locking, services
from inventory.devices import services as device_services
from tests.devices.factories import file_device
from tests.inventory.factories import BatchFactory, dispense_kwargs, stock_institution, stock_wholesaler

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks are PostgreSQL's"),
]


@contextmanager
def held(take_lock):
    """Run `take_lock()` in another thread's transaction and keep that transaction open
    (holding whatever it locked) until the block ends."""
    locked, release, failure = threading.Event(), threading.Event(), []

    def run():
        try:
            with transaction.atomic():
                take_lock()
                locked.set()
                release.wait(30)
        except Exception as exc:  # reported to the test below
            failure.append(exc)
            locked.set()
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    assert locked.wait(30)
    try:
        assert not failure, failure
        yield
    finally:
        release.set()
        thread.join(30)
    assert not failure, failure


def in_other_thread(work):
    """`work()` in its own transaction on its own connection, waiting at most 3 s for any
    lock; returns its result or the exception it raised."""
    out = {}

    def run():
        try:
            with transaction.atomic():  # the commit runs the deferred foreign-key checks
                with connection.cursor() as cursor:
                    cursor.execute("SET LOCAL lock_timeout = '3s'")
                result = work()
            out["result"] = result
        except Exception as exc:
            out["result"] = exc
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(60)
    assert out, "the second transaction did not finish"
    return out["result"]


def dispense(county, batch):
    return lambda: services.dispense_record(actor=county.pharmacist, **dispense_kwargs(county, batch))


@pytest.fixture
def stocked(county):
    batch = BatchFactory()
    stock_institution(county, batch, 10)
    return batch


def holds_only_itself(lock, work, *, relock: bool = True) -> None:
    """While `lock()` is held in another transaction, `work()` commits; and (`relock`) a
    second `lock()` of the same row still waits for the first (here: its lock_timeout)."""
    with held(lock):
        result = in_other_thread(work)
        assert not isinstance(result, Exception), result
        if relock:
            again = in_other_thread(lock)
            assert isinstance(again, OperationalError) and "lock timeout" in str(again), again


def test_a_shipment_being_dispatched_to_the_clinic_does_not_hold_up_its_counter(county, stocked):
    stock_wholesaler(county, stocked, 5)
    draft = services.shipment_create(actor=county.clerk, recipient=county.hospital,
                                     lines=[{"batch": stocked, "quantity": 5}])
    # (and the shipment itself is still locked: a second dispatch waits for the first)
    holds_only_itself(lambda: locking.lock_shipment(draft.pk), dispense(county, stocked))


def test_a_device_being_transferred_does_not_hold_up_its_holders_counter(county, stocked):
    device = file_device(county.hospital)
    holds_only_itself(lambda: device_services._locked(device), dispense(county, stocked))


def test_a_count_being_closed_does_not_hold_up_the_counter(county, stocked):
    session = counts.count_session_open(actor=county.pharmacist)
    holds_only_itself(lambda: counts._lock(session), dispense(county, stocked), relock=False)


def test_a_month_being_signed_does_not_hold_up_the_counter(county, stocked):
    # (two signatures of the same holder still wait for each other)
    holds_only_itself(lambda: closing.lock_holder(county.hospital), dispense(county, stocked))


def test_a_sales_filing_being_stored_does_not_hold_up_the_wholesalers_intake(county, stocked):
    holds_only_itself(lambda: filings.lock_wholesaler(county.wholesaler), lambda: stock_wholesaler(county, stocked, 3),
                      relock=False)
