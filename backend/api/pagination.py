from django.core.paginator import Paginator
from rest_framework.pagination import PageNumberPagination


class CountWhenNeededPaginator(Paginator):
    """Django's paginator, except that the first page is fetched (with one row more)
    before anything is counted: when no row is left over, the first page is the whole
    list, its length is the count, and the COUNT(*) query is skipped (most lists here fit
    on one page). Otherwise the list is counted as usual, when the response asks."""

    def page(self, number):
        if str(number) != "1" or "count" in self.__dict__ or self.orphans:
            return super().page(number)
        rows = list(self.object_list[: self.per_page + 1])
        if len(rows) <= self.per_page:
            self.__dict__["count"] = len(rows)  # the cached_property, settled
        return self._get_page(rows[: self.per_page], 1, self)


class Pagination(PageNumberPagination):
    django_paginator_class = CountWhenNeededPaginator
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500
