"""Lists: the count, next and previous links are right whether or not the first page
holds the whole list (a first page with no row left over is not counted again)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.factories import PersonFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("over", [-1, 0, 1, 4])
def test_count_and_links(county, client_for, over):
    """Totals just under, at and over the page size, and several pages."""
    client = client_for(county.office_admin)
    page_size = 3
    existing = client.get("/api/people/").json()["count"]
    total = max(existing, page_size + over)
    for _ in range(total - existing):
        PersonFactory(organisation=county.hospital)
    body = client.get("/api/people/", {"page_size": page_size}).json()
    assert body["count"] == total
    assert len(body["results"]) == min(total, page_size)
    assert (body["next"] is not None) == (total > page_size)
    assert body["previous"] is None
    if total > page_size:
        last = client.get("/api/people/", {"page_size": page_size, "page": "last"}).json()
        assert last["count"] == total and last["next"] is None
        assert len(last["results"]) == total - page_size * ((total - 1) // page_size)


def test_a_first_page_with_nothing_left_over_is_not_counted(county, client_for):
    client = client_for(county.office_admin)
    total = client.get("/api/people/").json()["count"]
    with CaptureQueriesContext(connection) as short:
        whole = client.get("/api/people/", {"page_size": total}).json()
    with CaptureQueriesContext(connection) as full:
        part = client.get("/api/people/", {"page_size": total - 1}).json()
    counts = [q for q in short.captured_queries if "COUNT(" in q["sql"].upper()]
    assert counts == []
    assert (whole["count"], whole["next"], len(whole["results"])) == (total, None, total)
    assert any("COUNT(" in q["sql"].upper() for q in full.captured_queries)
    assert part["count"] == total and part["next"] is not None
