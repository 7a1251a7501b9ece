"""The GraphiQL page, built once at start-up from the hub's own files (no CDN).

Its script (static/graphiql-hub.js) starts GraphiQL with a header template (Authorization,
X-Request-Purpose), percent-encodes header values that are not ASCII before sending (a
Chinese purpose works), and in dev offers a token helper: the signed-in person's token
(from `/console/token`) or a client's, fetched from the token endpoint with its id and secret.
"""

from __future__ import annotations

from hub.config import Settings
from hub.consoles.templating import templates


def graphiql_page(settings: Settings) -> str:
    template = templates.env.get_template("graphiql.html")
    return template.render(dev=settings.is_dev, ttl=settings.token_ttl_seconds)
