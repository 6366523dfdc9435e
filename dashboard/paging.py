"""A pager that does not count the list: it reads one row more than a page, and that row
says whether there is a next page. For the stock list, where counting 100,000 SKUs (or
every SKU matching a search) on each page and each 2-second refresh cost more than the
page itself; the page says how many SKUs there are from an estimate instead
(`foundation.db.estimated_count`)."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import QuerySet

MAX_PAGE = 100_000  # far past any real list: keeps OFFSET an integer PostgreSQL takes


@dataclass
class NextPage:
    object_list: list
    number: int
    size: int
    has_next: bool

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def previous_page_number(self) -> int:
        return self.number - 1

    @property
    def next_page_number(self) -> int:
        return self.number + 1

    @property
    def start_index(self) -> int:
        return (self.number - 1) * self.size + 1 if self.object_list else 0

    @property
    def end_index(self) -> int:
        return (self.number - 1) * self.size + len(self.object_list)


def page_number(raw) -> int:
    try:
        number = int(str(raw or 1).strip())
    except ValueError:
        return 1
    return min(max(number, 1), MAX_PAGE)


def next_page(queryset: QuerySet, raw_number, *, size: int) -> NextPage:
    """Page `raw_number` (anything a query string holds) of `queryset`; a page past the
    end (the list got shorter) gives the first page, like Django's `get_page`."""
    number = page_number(raw_number)
    start = (number - 1) * size
    rows = list(queryset[start : start + size + 1])
    if not rows and number > 1:
        number, rows = 1, list(queryset[: size + 1])
    return NextPage(object_list=rows[:size], number=number, size=size, has_next=len(rows) > size)
