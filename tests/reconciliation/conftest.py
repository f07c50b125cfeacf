import pytest

from tests.reconciliation.scenario import Month


@pytest.fixture
def month(county) -> Month:
    return Month(county)


@pytest.fixture
def filings_due(monkeypatch):
    """Whatever today is, the month's sales filings are due: an authority opening the
    reconciliation records what it finds (before the due day it only shows it; see
    tests/alerts/test_review_fixes.py)."""
    from audits import periods

    monkeypatch.setattr(periods, "filings_due", lambda month, jurisdiction, today=None: True)
