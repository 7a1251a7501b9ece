"""Load for the overload and outage tests: many GraphQL requests at once, every answer kept.

Each request carries its own X-Request-Id, so the audit trail can be checked for each one;
a request that gets no HTTP answer at all (a dropped connection) is kept as a failure.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass

import httpx

from tests.security.support import request_id


@dataclass(frozen=True)
class Answer:
    request_id: str
    started: float  # seconds since the load began
    seconds: float
    status: int | None  # None: no HTTP answer
    code: str | None = None
    retry_after: str | None = None
    failure: str | None = None
    body: str = ""


async def one(
    client: httpx.AsyncClient,
    url: str,
    body: Mapping[str, object],
    headers: Mapping[str, str],
    began: float,
) -> Answer:
    rid = request_id()
    started = time.perf_counter()
    try:
        response = await client.post(url, json=dict(body), headers={**headers, "X-Request-Id": rid})
    except httpx.HTTPError as error:
        return Answer(
            rid, started - began, time.perf_counter() - started, None, failure=repr(error)
        )
    seconds = time.perf_counter() - started
    code = None
    if response.headers.get("content-type", "").startswith("application/"):
        payload = response.json()
        errors = payload.get("errors") if isinstance(payload, dict) else None
        if errors:
            code = errors[0].get("extensions", {}).get("code")
        elif isinstance(payload, dict) and "code" in payload:
            code = payload["code"]
    return Answer(
        rid,
        started - began,
        seconds,
        response.status_code,
        code,
        response.headers.get("retry-after"),
        body=response.text[:300] if response.status_code != 200 else "",
    )


async def burst(
    url: str, body: Mapping[str, object], headers: Mapping[str, str], *, count: int
) -> list[Answer]:
    """`count` requests all at once, each on a connection of its own."""
    limits = httpx.Limits(max_connections=count, max_keepalive_connections=0)
    began = time.perf_counter()
    async with httpx.AsyncClient(limits=limits, timeout=120) as client:
        return list(
            await asyncio.gather(*(one(client, url, body, headers, began) for _ in range(count)))
        )


async def sustained(
    url: str,
    body: Mapping[str, object],
    headers: Mapping[str, str],
    *,
    clients: int,
    seconds: float,
) -> list[Answer]:
    """`clients` callers, each sending its next request as soon as it has an answer (after
    the Retry-After of a 503, as a client should)."""
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    began = time.perf_counter()
    answers: list[Answer] = []
    async with httpx.AsyncClient(limits=limits, timeout=120) as client:

        async def caller() -> None:
            while time.perf_counter() - began < seconds:
                answer = await one(client, url, body, headers, began)
                answers.append(answer)
                if answer.status == 503 and answer.retry_after:
                    await asyncio.sleep(float(answer.retry_after))

        await asyncio.gather(*(caller() for _ in range(clients)))
    return answers
