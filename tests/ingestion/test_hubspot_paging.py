"""Cursor paging with a fetcher that runs ahead: every page once, in order, errors after the pages
before them, and a caller that stops early stops the fetcher (no server needed)."""

from __future__ import annotations

import threading

import pytest

from growthlab.sources.hubspot import cursor_pages


class Listing:
    """A fake cursor-paged listing of `n` pages; records the cursors it was asked for."""

    def __init__(self, n: int, fail_at: int | None = None) -> None:
        self.n, self.fail_at = n, fail_at
        self.asked: list[str | None] = []
        self.lock = threading.Lock()

    def fetch(self, cursor: str | None) -> dict:
        k = int(cursor or 0)
        with self.lock:
            self.asked.append(cursor)
        if k == self.fail_at:
            raise RuntimeError(f"page {k} failed")
        return {"k": k, "next": str(k + 1) if k + 1 < self.n else None}

    @staticmethod
    def next_cursor(page: dict) -> str | None:
        return page["next"]


def test_every_page_once_in_order():
    listing = Listing(25)
    assert [p["k"] for p in cursor_pages(listing.fetch, listing.next_cursor, depth=3)] == list(range(25))
    assert listing.asked == [None, *map(str, range(1, 25))]


def test_a_given_first_page_is_not_fetched_again():
    listing = Listing(3)
    first = {"k": 0, "next": "1"}
    assert [p["k"] for p in cursor_pages(listing.fetch, listing.next_cursor, first=first)] == [0, 1, 2]
    assert listing.asked == ["1", "2"]


def test_a_failing_page_is_raised_after_the_pages_before_it():
    listing = Listing(10, fail_at=4)
    got = []
    with pytest.raises(RuntimeError, match="page 4 failed"):
        for page in cursor_pages(listing.fetch, listing.next_cursor, depth=2):
            got.append(page["k"])
    assert got == [0, 1, 2, 3]


def test_a_caller_that_stops_early_stops_the_fetcher():
    listing = Listing(1_000)
    pages = cursor_pages(listing.fetch, listing.next_cursor, depth=2)
    assert [next(pages)["k"] for _ in range(3)] == [0, 1, 2]
    pages.close()
    asked = len(listing.asked)
    assert asked <= 3 + 2 + 2, "the fetcher runs at most `depth` pages (plus the one in flight) ahead"
    for t in threading.enumerate():
        if t.name == "hubspot-prefetch":
            t.join(timeout=10)
    assert len(listing.asked) == asked
