"""GraphiQL (development only) as the hub serves it: headers ready to fill in, Chinese purposes
percent-encoded on the way out.

Browsers refuse header values beyond ISO-8859-1, so `X-Request-Purpose: 入户走访` typed into
GraphiQL's header editor would never leave the page. The page's fetcher percent-encodes any
header value that is not printable ASCII (`encodeURIComponent`, RFC 3986), which the hub
decodes (`hub/request_headers.py`); the header template shows the encoded form.
"""

from __future__ import annotations

import json
from urllib.parse import quote

EXAMPLE_PURPOSE = "入户走访"
HEADER_TEMPLATE = {
    "Authorization": "Bearer <access token from POST /oauth/token>",
    "X-Request-Purpose": quote(EXAMPLE_PURPOSE),
}

_FETCH = """
      // Header values must be ISO-8859-1: send anything beyond printable ASCII percent-encoded
      // UTF-8 (RFC 3986), which the hub decodes before it records the request.
      function hubFetch(input, init) {
        const headers = Object.assign({}, init && init.headers);
        for (const name of Object.keys(headers)) {
          const value = String(headers[name]);
          if (/[^\\x20-\\x7e]/.test(value)) headers[name] = encodeURIComponent(value);
        }
        return window.fetch(input, Object.assign({}, init, { headers: headers }));
      }
      const HUB_HEADER_TEMPLATE = %s;
"""

_EDITS = (
    ("      const fetcher = GraphiQL.createFetcher({\n", "fetch: hubFetch,\n"),
    (
        "React.useState(parameters.headers)",
        "React.useState(parameters.headers || HUB_HEADER_TEMPLATE)",
    ),
)


class GraphiQLTemplateError(RuntimeError):
    """strawberry's GraphiQL page no longer has the spots the hub edits."""


def hub_graphiql(page: str) -> str:
    """strawberry's GraphiQL page with the hub's fetcher and header template."""
    template = json.dumps(json.dumps(HEADER_TEMPLATE, indent=2, ensure_ascii=False))
    marker, replacement = _EDITS[0]
    if marker not in page or _EDITS[1][0] not in page:
        raise GraphiQLTemplateError("strawberry's graphiql.html changed; update hub/graphiql.py")
    page = page.replace(marker, _FETCH % template + marker + "        " + replacement, 1)
    return page.replace(_EDITS[1][0], _EDITS[1][1], 1)
