"""Lists: the count, next and previous links are right whether or not the first page
holds the whole list (a first page with no row left over is not counted again)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.factories import PersonFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(("people", "page_size"), [(0, 3), (2, 3), (3, 3), (4, 3), (7, 3)])
def test_count_and_links(county, client_for, people, page_size):
    client = client_for(county.office_admin)
    existing = client.get("/api/people/").json()["count"]
    for _ in range(people):
        PersonFactory(organisation=county.hospital)
    total = existing + people
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
        client.get("/api/people/", {"page_size": total})
    with CaptureQueriesContext(connection) as full:
        client.get("/api/people/", {"page_size": total - 1})
    counts = [q for q in short.captured_queries if "COUNT(" in q["sql"].upper()]
    assert counts == []
    assert any("COUNT(" in q["sql"].upper() for q in full.captured_queries)
