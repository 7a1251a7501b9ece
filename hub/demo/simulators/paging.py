"""Pages of a `Stream` in (updated_at, id) order: keyset cursors and numbered pages.

Both honour an inclusive `updated_since` (records stamped at that instant are included, so a
client that resumes from its newest stamp misses nothing that shares it) and the `overlap`
fault. Keyset pages are stable while records change: an edited record moves to the end and
is read again. Numbered pages are not, as in real systems: an edit during a sync shifts
every later record back by one, and one record is skipped.
"""

from __future__ import annotations

import base64
import json
from bisect import bisect_left, bisect_right
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from hub.clock import CHINA_TIME

if TYPE_CHECKING:
    from hub.demo.simulators.raw import Raw
    from hub.demo.simulators.world import Stream

Key = tuple[datetime, str]


class BadParameterError(ValueError):
    """A query parameter the API refuses with 400."""


def parse_instant(text: str) -> datetime:
    """ISO 8601 with an offset or `Z`; without one, China Standard Time is meant."""
    # An unencoded `+08:00` arrives as ` 08:00`; accept what the sender meant.
    head, space, tail = text.rpartition(" ")
    for candidate in (text, f"{head}+{tail}") if space else (text,):
        try:
            instant = datetime.fromisoformat(candidate)
        except ValueError:
            continue
        return instant if instant.tzinfo else instant.replace(tzinfo=CHINA_TIME)
    raise BadParameterError(f"updated_since {text!r} is not an ISO 8601 date and time")


def encode_cursor(key: Key) -> str:
    payload = json.dumps([key[0].astimezone(UTC).isoformat(), key[1]]).encode()
    return base64.urlsafe_b64encode(payload).decode().rstrip("=")


def decode_cursor(cursor: str) -> Key:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        stamp, record_id = json.loads(base64.urlsafe_b64decode(padded))
        return datetime.fromisoformat(stamp), str(record_id)
    except (ValueError, TypeError) as error:
        raise BadParameterError("cursor is not one this API issued") from error


def _first_since(order: list[Key], since: datetime | None) -> int:
    return 0 if since is None else bisect_left(order, (since, ""))


def keyset_page(
    stream: Stream, *, after: Key | None, since: datetime | None, limit: int, overlap: int = 0
) -> tuple[list[Raw], Key | None]:
    """Up to `limit` records after `after` (plus `overlap` before it); the next cursor key."""
    order = stream.ordered()
    floor = _first_since(order, since)
    start = floor if after is None else max(floor, bisect_right(order, after))
    end = start + limit
    first = start if after is None else max(floor, start - overlap)
    page = [stream.records[key] for _, key in order[first:end]]
    return page, (order[end - 1] if end < len(order) else None)


def offset_page(
    stream: Stream, *, since: datetime | None, page: int, page_size: int, overlap: int = 0
) -> tuple[list[Raw], int]:
    """Page `page` (from 1) of the records since `since`, and how many such records there are."""
    order = stream.ordered()
    floor = _first_since(order, since)
    start = floor + (page - 1) * page_size
    first = start if page == 1 else max(floor, start - overlap)
    keys = order[first : start + page_size]
    return [stream.records[key] for _, key in keys], len(order) - floor
