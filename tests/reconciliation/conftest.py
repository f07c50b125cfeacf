import pytest

from tests.reconciliation.scenario import Month


@pytest.fixture
def month(county) -> Month:
    return Month(county)
