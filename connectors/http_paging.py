"""Pagination of `http` streams: the query for a page, the token of the next, and loop detection.

A token names a page: a page number, an offset, an opaque cursor or a next URL (None: the
first page). `PageGuard` stops an API that would page forever: a next link to the page
itself, a token asked for twice in one query (a repeated cursor or link), the same page of
records twice in a row (an API that ignores the page parameter), or `max_empty_pages`
empty pages in a row that still name a next page.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

import httpx

from connectors.config import CursorPagination, LinkPagination, OffsetPagination, PagePagination
from connectors.errors import FatalError
from connectors.mapping import extract

Token = int | str | None  # page number, offset, opaque cursor or next URL; None: first page
AnyPagination = PagePagination | OffsetPagination | CursorPagination | LinkPagination


def page_params(pagination: AnyPagination, token: Token) -> dict[str, Any]:
    """Query parameters that fetch the page `token` names."""
    match pagination:
        case PagePagination():
            page = pagination.first_page if token is None else int(token)
            return {pagination.page_param: page, pagination.size_param: pagination.page_size}
        case OffsetPagination():
            return {pagination.offset_param: token or 0, pagination.limit_param: pagination.limit}
        case CursorPagination() | LinkPagination():
            params: dict[str, Any] = {}
            if pagination.size_param:
                params[pagination.size_param] = pagination.page_size
            if isinstance(pagination, CursorPagination) and token:
                params[pagination.cursor_param] = token
            return params


def next_token(
    pagination: AnyPagination, token: Token, body: Any, response: httpx.Response, count: int
) -> Token | None:
    """The token of the following page, or None after the last one."""
    match pagination:
        case PagePagination():
            page = pagination.first_page if token is None else int(token)
            return page + 1 if count >= pagination.page_size else None
        case OffsetPagination():
            return int(token or 0) + pagination.limit if count >= pagination.limit else None
        case CursorPagination():
            following = (
                extract(body, pagination.next_cursor_path) if isinstance(body, Mapping) else None
            )
            if isinstance(following, Mapping | list):
                raise FatalError(
                    f"the next cursor at {pagination.next_cursor_path!r} is an object, not a "
                    "token; check next_cursor_path"
                )
            return str(following) if following not in (None, "") else None
        case LinkPagination():
            link = response.links.get("next", {}).get("url")  # RFC 8288
            return str(response.url.join(link)) if link else None


class PageGuard:
    """Remembers what one run asked for and got, to stop pagination that never ends."""

    def __init__(self, *, max_empty_pages: int) -> None:
        self.max_empty_pages = max_empty_pages
        self._asked: set[str] = set()
        self._empty_in_a_row = 0
        self._last_page: str | None = None

    def asking(self, since: str | None, token: Token) -> None:
        """Before a request: the same page of the same query twice is a loop."""
        key = json.dumps([since, token])
        if key in self._asked:
            raise FatalError(
                f"pagination loop: the API named page {token!r} again (since {since}); the "
                "committed batches stay; check the stream's pagination settings or the API"
            )
        self._asked.add(key)

    def got(self, records: list[Any], *, following: Token, url: str) -> None:
        """After a page: a link to itself, the same records again, or too many empty pages."""
        has_next = following is not None
        if following == url:
            raise FatalError(
                f"pagination loop: the next link of {url} points at the page itself; the "
                "committed batches stay; the API's Link header is wrong"
            )
        if not records:
            self._empty_in_a_row = self._empty_in_a_row + 1 if has_next else 0
            if self._empty_in_a_row > self.max_empty_pages:
                raise FatalError(
                    f"pagination loop: {self._empty_in_a_row} empty pages in a row, each naming "
                    "a next page (max_empty_pages); the committed batches stay"
                )
            return
        self._empty_in_a_row = 0
        digest = hashlib.sha256(json.dumps(records, sort_keys=True, default=str).encode())
        page = digest.hexdigest()
        if has_next and page == self._last_page:
            raise FatalError(
                "pagination loop: the API sent the same page of records twice in a row (it "
                "ignores the page, offset or cursor parameter it was given); check the stream's "
                "pagination settings"
            )
        self._last_page = page
