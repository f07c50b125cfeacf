"""Two inspectors open cases from two different findings of the county at the same moment:
both cases open, with two numbers; neither is told "a case is already open for this
finding". PostgreSQL only (SQLite serialises writers with IMMEDIATE transactions)."""

import threading
import time
import uuid

import pytest
from django.db import connection, connections

from audits.sweeps import checklist, services
from audits.sweeps.models import Case
from tests.sweeps.helpers import open_visit

pytestmark = pytest.mark.django_db(transaction=True)


def _race(calls):
    barrier = threading.Barrier(len(calls))
    outcomes = []

    def run(call):
        try:
            barrier.wait(timeout=10)
            outcomes.append(call().number)
        except Exception as exc:  # noqa: BLE001 - the outcome is the assertion
            outcomes.append(getattr(exc, "code", repr(exc)))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(c,)) for c in calls]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    return outcomes


def _findings(county, n):
    visit = open_visit(county, county.hospital)
    return [services.finding_record(actor=county.inspector, visit=visit, client_id=uuid.uuid4(), rule=rule,
                                    severity="high", description="x")
            for rule in ("warning_signs", "exam_register_kept")[:n]]


@pytest.fixture
def slow_titles(monkeypatch):
    """Widen the window between choosing the number and inserting the case."""
    real = checklist.rule_title
    monkeypatch.setattr(checklist, "rule_title", lambda code: (time.sleep(0.3), real(code))[1])


def test_cases_opened_at_once_from_two_findings_both_open_with_two_numbers(county, slow_titles):
    if connection.vendor != "postgresql":
        pytest.skip("concurrency is proven on PostgreSQL (SQLite serialises writers with IMMEDIATE transactions)")
    findings = _findings(county, 2)
    outcomes = _race([lambda f=f: services.case_open(actor=county.inspector, finding=f) for f in findings])
    prefix = f"LF-{county.jurisdiction.code}-"
    assert sorted(o[-4:] for o in outcomes) == ["0001", "0002"] and all(o.startswith(prefix) for o in outcomes), \
        outcomes
    assert Case.objects.count() == 2


def test_two_cases_opened_at_once_from_one_finding_one_opens_the_other_is_case_exists(county, slow_titles):
    if connection.vendor != "postgresql":
        pytest.skip("concurrency is proven on PostgreSQL (SQLite serialises writers with IMMEDIATE transactions)")
    (finding,) = _findings(county, 1)
    outcomes = _race([lambda: services.case_open(actor=county.inspector, finding=finding)] * 2)
    assert sorted(outcomes, key=lambda o: o == "case_exists") == [Case.objects.get().number, "case_exists"], \
        outcomes
    assert Case.objects.count() == 1
