"""What a GraphQL request over HTTP must look like before any GraphQL work is done.

Framework-free: these functions see header pairs, a media type, body bytes and query
parameters, and either return a `GraphQLRequest` or raise a `Refusal`. The ASGI adapter
(`asgi.py`) reads the body under `max_body_bytes` and calls them. The rules follow the
GraphQL-over-HTTP specification (https://graphql.github.io/graphql-over-http/draft/):

- headers: at most `max_headers`, each value at most `max_header_value_bytes`, all of them
  at most `max_header_bytes` → 431 (RFC 6585 §5);
- POST bodies are `application/json` (415 otherwise), one JSON object (batches are refused),
  with a string `query`, an optional string `operationName`, and optional objects
  `variables` and `extensions`, nested at most `max_variables_depth` deep → 400;
- GET carries a query only when `HUB_ALLOW_GET_QUERIES` is on (405 otherwise); a GET never
  runs a mutation (405, checked once the document is parsed).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from hub.config import Settings
from hub.limits.refusals import Refusal, bad_request

JSON_TYPES = frozenset({"application/json", "application/graphql-response+json"})
GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"


@dataclass(frozen=True)
class HttpLimits:
    max_body_bytes: int = 256 * 1024
    max_header_bytes: int = 32 * 1024
    max_header_value_bytes: int = 16 * 1024
    max_headers: int = 64
    max_variables_depth: int = 16
    allow_get_queries: bool = False

    @classmethod
    def from_settings(cls, settings: Settings) -> HttpLimits:
        return cls(
            max_body_bytes=settings.max_body_bytes,
            max_header_bytes=settings.max_header_bytes,
            max_header_value_bytes=settings.max_header_value_bytes,
            max_headers=settings.max_headers,
            max_variables_depth=settings.max_variables_depth,
            allow_get_queries=settings.allow_get_queries,
        )


@dataclass(frozen=True)
class GraphQLRequest:
    """One GraphQL request as the client sent it, checked for shape (not yet parsed)."""

    query: str
    operation_name: str | None = None
    variables: dict[str, Any] | None = None
    extensions: dict[str, Any] | None = None
    method: str = "POST"


def check_headers(headers: Iterable[tuple[bytes, bytes]], limits: HttpLimits) -> Refusal | None:
    count = total = 0
    for name, value in headers:
        count += 1
        total += len(name) + len(value) + 4  # ": " and CRLF, as on the wire
        if len(value) > limits.max_header_value_bytes:
            return _headers_too_large(f"the {name.decode('latin-1')} header is too large")
    if count > limits.max_headers:
        return _headers_too_large(f"too many header fields ({count}; at most {limits.max_headers})")
    if total > limits.max_header_bytes:
        return _headers_too_large(
            f"the headers are too large (at most {limits.max_header_bytes} bytes)"
        )
    return None


def _headers_too_large(message: str) -> Refusal:
    return bad_request(message + "; send fewer or smaller headers", status=431)


def media_type(content_type: str | None) -> str:
    return (content_type or "").split(";")[0].strip().lower()


def declared_length_too_large(content_length: str | None, limits: HttpLimits) -> bool:
    return (
        content_length is not None
        and content_length.isdigit()
        and int(content_length) > limits.max_body_bytes
    )


def body_too_large(limits: HttpLimits) -> Refusal:
    return bad_request(
        f"the request body is larger than {limits.max_body_bytes} bytes; "
        "send a smaller document or fewer variables",
        status=413,
    )


def check_post_type(content_type: str | None) -> None:
    if media_type(content_type) != "application/json":
        raise bad_request(
            "send the GraphQL request as a JSON object with Content-Type: application/json",
            status=415,
        )


def read_post(body: bytes, limits: HttpLimits) -> GraphQLRequest:
    """A POST body: one JSON object with a string query (GraphQL-over-HTTP §POST)."""
    try:
        data = orjson.loads(body)  # refuses JSON nested deeper than 1024 without recursing
    except orjson.JSONDecodeError:
        raise bad_request("the request body is not valid JSON") from None
    if isinstance(data, list):
        raise bad_request("batched requests are not supported; send one operation per request")
    if not isinstance(data, dict):
        raise bad_request('the request body must be a JSON object: {"query": "..."}')
    return _request(data, limits, method="POST")


def read_get(params: Mapping[str, str], limits: HttpLimits) -> GraphQLRequest | None:
    """A GET's query parameters; None for a GET without a query (the GraphiQL page)."""
    if "query" not in params:
        return None
    if not limits.allow_get_queries:
        raise bad_request(
            "GraphQL queries over GET are off on this hub; POST them as application/json",
            status=405,
            Allow="POST",
        )
    data: dict[str, Any] = {"query": params["query"]}
    if "operationName" in params:
        data["operationName"] = params["operationName"]
    for name in ("variables", "extensions"):
        if name in params:
            try:
                data[name] = orjson.loads(params[name])
            except orjson.JSONDecodeError:
                raise bad_request(f"the {name} parameter is not valid JSON") from None
    return _request(data, limits, method="GET")


def _request(data: dict[str, Any], limits: HttpLimits, *, method: str) -> GraphQLRequest:
    query = data.get("query")
    if not isinstance(query, str) or not query.strip():
        raise bad_request("`query` must be a non-empty string holding the GraphQL document")
    name = data.get("operationName")
    if name is not None and not isinstance(name, str):
        raise bad_request("`operationName` must be a string or null")
    variables = _object(data, "variables", limits)
    extensions = _object(data, "extensions", limits)
    return GraphQLRequest(query, name or None, variables, extensions, method)


def _object(data: dict[str, Any], name: str, limits: HttpLimits) -> dict[str, Any] | None:
    value = data.get(name)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise bad_request(f"`{name}` must be a JSON object or null")
    if nesting_depth(value, limits.max_variables_depth) > limits.max_variables_depth:
        raise bad_request(
            f"`{name}` is nested more than {limits.max_variables_depth} levels deep; flatten it"
        )
    return value


def nesting_depth(value: Any, limit: int) -> int:
    """How deep objects and arrays nest in `value` (a scalar is 0), counting at most limit + 1.

    Level by level, without recursion, so no input can exhaust the interpreter's stack; JSON
    decoded by orjson holds exact dicts and lists, which keeps the type test cheap.
    """
    level = [value] if type(value) in _CONTAINERS else []
    depth = 0
    while level and depth <= limit:
        depth += 1
        below: list[Any] = []
        for item in level:
            children = item.values() if type(item) is dict else item
            below += [child for child in children if type(child) in _CONTAINERS]
        level = below
    return depth


_CONTAINERS = frozenset({dict, list})


def wants_graphql_response_json(accept: str | None) -> bool:
    """Whether the client asked for application/graphql-response+json (Accept header)."""
    return any(media_type(part) == GRAPHQL_RESPONSE_JSON for part in (accept or "").split(","))
