"""`http` sources: JSON APIs with page, offset, cursor or Link-header pagination, read incrementally.

One page is one batch. The stream's position is a `Watermark` (connectors/http_watermark.py):
a run asks for `updated_since=<watermark>` (or earlier, by `lookback` and, for an API that
compares with `>`, by `updated_since_overlap`) and drops what it already holds, so neither
a record sharing the watermark's timestamp nor one written later at that timestamp is lost
or read twice. While a run pages through, the cursor records the query and the next page,
so a crash resumes at that page. Only accepted records move the watermark
(`Batch.settle`), so a far-future or quarantined record never runs it away.

Numbered pages (page and offset styles) shift when a record is edited mid-run: it moves to
the end and the record at the next page's start slides onto the page already read. A
stream whose API lists records in ascending update time (`ordered_by_updated_at`) avoids
that: each next page is asked for from the first page with `updated_since=<newest read>`
(skipping the ids read at that time), a keyset walk through the API's own filter.

Pagination that never ends fails the run (connectors/http_paging.py); a page item that is
not an object is yielded as an unreadable record, so the rest of the page goes on.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

import httpx

from connectors.base import Batch, Cursor, RawRecord, Source, Stream, unreadable
from connectors.config import HttpSourceConfig, LinkPagination, OffsetPagination, PagePagination
from connectors.config import HttpStream as HttpStreamConfig
from connectors.errors import RetriableError
from connectors.http_client import JsonClient
from connectors.http_paging import PageGuard, next_token, page_params
from connectors.http_watermark import Watermark
from connectors.mapping import extract


class HttpStream(Stream[HttpStreamConfig]):
    """One endpoint of a JSON API."""

    client: JsonClient

    async def read(self, cursor: Cursor | None) -> AsyncIterator[Batch]:
        state = Watermark.from_cursor(cursor, lookback=self.config.lookback)
        guard = PageGuard(max_empty_pages=self.config.max_empty_pages)
        while True:
            guard.asking(state.since, state.token)
            url, params = self._request(state)
            body, response = await self.client.get_json(url, params, check=self._check_page)
            records = self._records(body, response) or []
            following = next_token(
                self.config.pagination, state.token, body, response, len(records)
            )
            guard.got(records, following=following, url=str(response.url))
            fresh = [r for r in records if not state.held(*self._key_and_time(r))]
            for record in fresh:
                state.walked(*self._key_and_time(record))
            state.token = following
            if following is not None and self._keyset_by_time:
                state.rewind()
            page = _Page(self, state, fresh, last=following is None)
            yield Batch(fresh, page.settle([True] * len(fresh)), settle=page.settle)
            if following is None:
                return
            state = page.outcome

    def _key_and_time(self, record: RawRecord) -> tuple[str | None, Any]:
        return self.mapping.record_key(record), self.mapping.updated_at(record)

    @property
    def _keyset_by_time(self) -> bool:
        numbered = isinstance(self.config.pagination, PagePagination | OffsetPagination)
        return numbered and self.config.ordered_by_updated_at

    def _request(self, state: Watermark) -> tuple[str, dict[str, Any]]:
        if isinstance(self.config.pagination, LinkPagination) and state.token:
            return str(state.token), {}  # the next link carries every parameter
        params: dict[str, Any] = dict(self.config.params)
        overlap = None if self.config.updated_since_inclusive else self.config.updated_since_overlap
        since = state.request_since(overlap=overlap)
        if self.config.updated_since_param and since:
            params[self.config.updated_since_param] = since
        return self.config.path, params | page_params(self.config.pagination, state.token)

    def _list(self, body: Any) -> list[Any] | None:
        path = self.config.records_path
        found = extract(body, path) if path and isinstance(body, Mapping) else body
        return found if isinstance(found, list) else None

    def _records(self, body: Any, response: httpx.Response) -> list[RawRecord] | None:
        """The page's records; an item that is not an object stands as an unreadable record."""
        items = self._list(body)
        if items is None:
            return None
        return [
            item if isinstance(item, dict) else _not_an_object(item, index, response)
            for index, item in enumerate(items)
        ]

    def _check_page(self, body: Any, response: httpx.Response) -> None:
        if self._list(body) is None:
            # A page of the wrong shape is treated like a 5xx: retried, then the run fails.
            path = self.config.records_path
            raise RetriableError(f"page from {response.url} has no list at {path!r}")


def _not_an_object(item: Any, index: int, response: httpx.Response) -> RawRecord:
    kind = type(item).__name__.replace("NoneType", "null").replace("dict", "object")
    where = {"_page": str(response.url), "_item": index, "_value": item}
    return unreadable(f"item {index} of the page is {kind}, not an object", **where)


class _Page:
    """The watermark after one page, depending on which of its records the hub accepted."""

    def __init__(
        self, stream: HttpStream, state: Watermark, records: list[RawRecord], *, last: bool
    ) -> None:
        self.stream, self.state, self.records, self.last = stream, state, records, last
        self.outcome = state

    def settle(self, movers: Sequence[bool]) -> Cursor:
        """Accepted records within the run move the watermark; the last call is what holds."""
        outcome = self.state.copy()
        for record, moves in zip(self.records, movers, strict=True):
            if moves:
                outcome.accept(*self.stream._key_and_time(record))
        self.outcome = outcome
        return outcome.finished() if self.last else outcome.in_progress()


class HttpSource(Source):
    """A JSON API; one client (and OAuth token) shared by its streams."""

    config: HttpSourceConfig

    def __init__(
        self,
        name: str,
        config: HttpSourceConfig,
        *,
        code_tables: Mapping[str, Mapping[str, str]],
        env: Mapping[str, str],
    ) -> None:
        super().__init__(name, config)
        self.client = JsonClient(name, config, env=env)
        for stream_name, stream_config in config.streams.items():
            stream = HttpStream(stream_name, stream_config, source=config, code_tables=code_tables)
            stream.client = self.client
            self.streams[stream_name] = stream

    async def open(self) -> None:
        await self.client.open()

    async def close(self) -> None:
        await self.client.close()
