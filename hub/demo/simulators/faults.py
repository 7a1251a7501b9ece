"""Switchable faults of the HTTP simulators, and the `/_faults` admin endpoint that sets them.

A `Faults` object is shared by an app and whoever started it: tests mutate it directly, other
processes `POST /_faults` with a JSON object of the same field names (`GET` shows the state,
`DELETE` resets it). Counted faults hit "the next N" data requests (never the token or admin
endpoints), in this order: records edited (`update_after`), delay (`slow`/`delay`), 503
(`unavailable`), 429 with `Retry-After` (`rate_limited`), then a 200 whose JSON is cut short
(`malformed`). `overlap` is not counted: while set, every page after the first repeats the last
`overlap` records of the page before it.

Actions in the POST body change the data instead:
`{"touch": {"stream": S, "count": N}}` edits N records now;
`{"inject": {"stream": S, "invalid_id_numbers": N, "unknown_residents": M}}` adds bad records;
`{"expire_tokens": true}` (health only) makes every issued token expire.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import asdict, dataclass, field, fields
from typing import TYPE_CHECKING, Any

from starlette.responses import JSONResponse, Response
from starlette.routing import Route

if TYPE_CHECKING:
    from collections.abc import Callable

    from starlette.requests import Request

    from hub.demo.simulators.world import DepartmentWorld

_SETTABLE = (
    "unavailable",
    "rate_limited",
    "retry_after",
    "slow",
    "delay",
    "malformed",
    "overlap",
    "update_after",
    "update_count",
)


@dataclass
class Faults:
    """Misbehaviour to come; counts go down by one per data request they affect."""

    unavailable: int = 0  # next N data requests → 503
    rate_limited: int = 0  # next N → 429 with Retry-After: retry_after
    retry_after: int = 1
    slow: int = 0  # next N are answered `delay` seconds late (a timeout, if beyond the client's)
    delay: float = 0.0
    malformed: int = 0  # next N → 200 with truncated JSON
    overlap: int = 0  # pages after the first repeat this many records of the previous page
    update_after: int | None = None  # after N more data requests, edit records ...
    update_count: int = 5  # ... this many, of the stream being read
    requests: int = 0  # data requests seen (an observation, not a fault)
    updated: list[str] = field(default_factory=list)  # ids edited through update_after

    def reset(self) -> None:
        fresh = Faults()
        for spec in fields(self):
            setattr(self, spec.name, getattr(fresh, spec.name))

    def set(self, values: dict[str, Any]) -> None:
        """Set fields from JSON, refusing unknown names and wrong types (ValueError)."""
        for name, value in values.items():
            if name not in _SETTABLE:
                raise ValueError(f"unknown fault {name!r}; known: {', '.join(_SETTABLE)}")
            if name == "update_after" and value is None:
                self.update_after = None
                continue
            kind = float if name == "delay" else int
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise ValueError(f"fault {name!r} takes a number ≥ 0, got {value!r}")
            setattr(self, name, kind(value))


def _take(faults: Faults, name: str) -> bool:
    """Use up one of the counted fault `name`, if any is left."""
    left: int = getattr(faults, name)
    if left > 0:
        setattr(faults, name, left - 1)
        return True
    return False


def _maybe_edit(faults: Faults, world: DepartmentWorld, stream: str) -> None:
    if faults.update_after is None:
        return
    if faults.update_after > 0:
        faults.update_after -= 1
        return
    faults.update_after = None
    faults.updated.extend(world.touch(stream, count=faults.update_count))


async def serve_with_faults(
    faults: Faults, world: DepartmentWorld, stream: str, produce: Callable[[], Response]
) -> Response:
    """Answer one data request for `stream`, misbehaving as `faults` says."""
    faults.requests += 1
    _maybe_edit(faults, world, stream)
    if _take(faults, "slow"):
        await asyncio.sleep(faults.delay)
    if _take(faults, "unavailable"):
        return JSONResponse({"error": "service_unavailable"}, status_code=503)
    if _take(faults, "rate_limited"):
        headers = {"Retry-After": str(faults.retry_after)}
        return JSONResponse({"error": "too_many_requests"}, status_code=429, headers=headers)
    response = produce()
    if response.status_code == 200 and _take(faults, "malformed"):
        body = bytes(response.body)
        return Response(body[: len(body) // 2], media_type="application/json")
    return response


def _state(faults: Faults) -> dict[str, Any]:
    return asdict(faults)


def _act(world: DepartmentWorld, body: dict[str, Any]) -> dict[str, list[str]]:
    """Run the data-changing actions of a POST body; the ids they touched or added."""
    done: dict[str, list[str]] = {}
    if touch := body.pop("touch", None):
        done["touched"] = world.touch(touch["stream"], count=int(touch.get("count", 1)))
    if inject := body.pop("inject", None):
        stream = inject["stream"]
        done["injected"] = [
            *world.inject_invalid_ids(stream, int(inject.get("invalid_id_numbers", 0))),
            *world.inject_unknown_residents(stream, int(inject.get("unknown_residents", 0))),
        ]
    return done


def fault_routes(
    faults: Faults, world: DepartmentWorld, *, expire_tokens: Callable[[], None] | None = None
) -> list[Route]:
    """`GET|POST|DELETE /_faults` for one app; loopback demo use only, hence no credentials."""

    async def show(request: Request) -> Response:
        return JSONResponse(_state(faults))

    async def change(request: Request) -> Response:
        try:
            body = json.loads(await request.body())
            if not isinstance(body, dict):
                raise ValueError("the body must be a JSON object")
            if body.pop("expire_tokens", False) and expire_tokens is not None:
                expire_tokens()
            done = _act(world, body)
            faults.set(body)
        except (ValueError, KeyError, TypeError) as error:
            return JSONResponse({"error": "bad_request", "detail": str(error)}, status_code=400)
        return JSONResponse(_state(faults) | done)

    async def reset(request: Request) -> Response:
        faults.reset()
        return JSONResponse(_state(faults))

    return [
        Route("/_faults", show, methods=["GET"]),
        Route("/_faults", change, methods=["POST"]),
        Route("/_faults", reset, methods=["DELETE"]),
    ]
