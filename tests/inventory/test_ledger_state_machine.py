"""A hypothesis state machine drives random intake / dispatch / receive / reject / dispense /
dispose sequences through the services and checks after every step:

- every cached position equals its ledger sum (and the model's expectation);
- no position is ever negative;
- what left each wholesaler = received + in transit + returned (+ recorded discrepancies).

Each example runs inside a savepoint that is rolled back, so examples do not see each other.
"""

import pytest
from django.db import transaction
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from backend.errors import DomainError
from inventory import selectors, services
from inventory.errors import InsufficientStock, RecipientNotAuthorized
from inventory.models import Shipment, StockPosition
from tests.factories import OrganisationFactory, PersonLicenceFactory, UserFactory
from tests.inventory.factories import BatchFactory, dispense_kwargs


class World:
    """Two wholesalers, two approved institutions, a retail pharmacy, two batches."""

    def __init__(self, county):
        self.county = county
        w2 = OrganisationFactory(kind="wholesaler", jurisdiction=county.jurisdiction, licensed=True)
        h2 = OrganisationFactory(kind="township_health_centre", jurisdiction=county.township, licensed=True,
                                 termination_approved=True)
        self.clerks = {county.wholesaler.pk: county.clerk,
                       w2.pk: UserFactory(role="wholesaler_clerk", organisation=w2)}
        ph2 = UserFactory(role="pharmacist", organisation=h2)
        doc2 = UserFactory(role="physician", organisation=h2, with_person=True)
        PersonLicenceFactory(holder_person=doc2.person, kind="physician")
        self.pharmacists = {county.hospital.pk: county.pharmacist, h2.pk: ph2}
        self.physicians = {county.hospital.pk: county.physician.person, h2.pk: doc2.person}
        self.wholesalers = [county.wholesaler.pk, w2.pk]
        self.institutions = [county.hospital.pk, h2.pk]
        self.batches = [BatchFactory(), BatchFactory()]


class LedgerMachine(RuleBasedStateMachine):
    world: World = None  # set by the test

    def __init__(self):
        super().__init__()
        self.atomic = transaction.atomic()
        self.atomic.__enter__()
        self.expected: dict = {}
        self.in_transit: list[int] = []

    def teardown(self):
        transaction.set_rollback(True)
        self.atomic.__exit__(None, None, None)

    # --- helpers ---
    def _add(self, holder, batch, qty, transit=False):
        key = (holder, batch.pk, transit)
        self.expected[key] = self.expected.get(key, 0) + qty

    def _have(self, holder, batch, transit=False):
        return self.expected.get((holder, batch.pk, transit), 0)

    # --- rules ---
    @rule(w=st.integers(0, 1), b=st.integers(0, 1), qty=st.integers(1, 40))
    def intake(self, w, b, qty):
        wid, batch = self.world.wholesalers[w], self.world.batches[b]
        services.intake_record(actor=self.world.clerks[wid], batch=batch, quantity=qty, invoice_number="I",
                               supplier_name="厂")
        self._add(wid, batch, qty)

    @rule(w=st.integers(0, 1), i=st.integers(0, 1), b=st.integers(0, 1), qty=st.integers(1, 30))
    def dispatch(self, w, i, b, qty):
        wid, iid, batch = self.world.wholesalers[w], self.world.institutions[i], self.world.batches[b]
        clerk = self.world.clerks[wid]
        from backend.models import Organisation

        shipment = services.shipment_create(actor=clerk, recipient=Organisation.objects.get(pk=iid),
                                            lines=[{"batch": batch, "quantity": qty}])
        if qty > self._have(wid, batch):
            with pytest.raises(InsufficientStock):
                services.shipment_dispatch(actor=clerk, shipment=shipment)
            return
        services.shipment_dispatch(actor=clerk, shipment=shipment)
        self._add(wid, batch, -qty)
        self._add(wid, batch, qty, transit=True)
        self.in_transit.append(shipment.pk)

    @rule(b=st.integers(0, 1), qty=st.integers(1, 5))
    def dispatch_to_retail_pharmacy_is_refused(self, b, qty):
        county = self.world.county
        shipment = services.shipment_create(actor=county.clerk, recipient=county.pharmacy,
                                            lines=[{"batch": self.world.batches[b], "quantity": qty}])
        with pytest.raises(RecipientNotAuthorized):
            services.shipment_dispatch(actor=county.clerk, shipment=shipment)

    @precondition(lambda self: self.in_transit)
    @rule(pick=st.integers(0, 100), delta=st.sampled_from([0, 0, 0, -1, -3, 2]))
    def receive(self, pick, delta):
        shipment = Shipment.objects.get(pk=self.in_transit.pop(pick % len(self.in_transit)))
        line = shipment.lines.get()
        received = max(0, line.quantity + delta)
        services.shipment_receive(actor=self.world.pharmacists[shipment.recipient_id], shipment=shipment,
                                  lines=[{"line": line.pk, "received_quantity": received}])
        self._add(shipment.sender_id, line.batch, -line.quantity, transit=True)
        self._add(shipment.recipient_id, line.batch, received)

    @precondition(lambda self: self.in_transit)
    @rule(pick=st.integers(0, 100))
    def reject(self, pick):
        shipment = Shipment.objects.get(pk=self.in_transit.pop(pick % len(self.in_transit)))
        line = shipment.lines.get()
        services.shipment_reject(actor=self.world.pharmacists[shipment.recipient_id], shipment=shipment,
                                 reason="拒收")
        self._add(shipment.sender_id, line.batch, -line.quantity, transit=True)
        self._add(shipment.sender_id, line.batch, line.quantity)

    @rule(i=st.integers(0, 1), b=st.integers(0, 1), qty=st.integers(1, 6))
    def dispense(self, i, b, qty):
        iid, batch = self.world.institutions[i], self.world.batches[b]
        pharmacist = self.world.pharmacists[iid]
        kwargs = dispense_kwargs(self.world.county, batch, quantity=qty)
        kwargs["physician"] = self.world.physicians[iid]
        if qty > self._have(iid, batch):
            with pytest.raises(InsufficientStock):
                services.dispense_record(actor=pharmacist, **kwargs)
            return
        services.dispense_record(actor=pharmacist, **kwargs)
        self._add(iid, batch, -qty)

    @rule(h=st.integers(0, 3), b=st.integers(0, 1), qty=st.integers(1, 5))
    def dispose(self, h, b, qty):
        holders = self.world.wholesalers + self.world.institutions
        hid, batch = holders[h], self.world.batches[b]
        actor = self.world.clerks.get(hid) or self.world.pharmacists[hid]
        if qty > self._have(hid, batch):
            with pytest.raises(DomainError):
                services.disposal_record(actor=actor, batch=batch, quantity=qty, reason="damaged", witness_name="见证人")
            return
        services.disposal_record(actor=actor, batch=batch, quantity=qty, reason="damaged", witness_name="见证人")
        self._add(hid, batch, -qty)

    # --- invariants ---
    @invariant()
    def positions_equal_ledger_and_model(self):
        assert selectors.ledger_mismatches() == []
        batch_ids = [b.pk for b in self.world.batches]
        actual = {(p.holder_id, p.batch_id, p.in_transit): p.quantity
                  for p in StockPosition.objects.filter(batch_id__in=batch_ids)}
        assert {k: v for k, v in actual.items() if v} == {k: v for k, v in self.expected.items() if v}

    @invariant()
    def never_negative(self):
        assert not StockPosition.objects.filter(quantity__lt=0).exists()

    @invariant()
    def wholesaler_books_agree_with_recipients(self):
        for wid in self.world.wholesalers:
            flow = selectors.wholesaler_flow(wid)
            assert flow["balanced"], flow


@pytest.mark.django_db
def test_ledger_state_machine(county):
    LedgerMachine.world = World(county)
    run_state_machine_as_test(
        LedgerMachine,
        settings=settings(max_examples=20, stateful_step_count=20, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]),
    )
