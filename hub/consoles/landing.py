"""The landing page at `/`: the consoles, GraphiQL, the SDL files and the docs; and the
small routes around it (language switch, SDL files, README, the console's token helper)."""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response

from hub.config import Settings
from hub.consoles.i18n import LANG_COOKIE, LANGUAGES
from hub.consoles.signin import SignIn, safe_next
from hub.consoles.templating import render

README = Path(__file__).resolve().parents[2] / "README.md"

# role → the console it starts at
HOME = {
    "service_center_clerk": "/console/counter",
    "grid_worker": "/console/grid",
    "district_dispatcher": "/console/grid",
    "auditor": "/console/audit",
    "admin": "/console/admin",
}


class Landing:
    def __init__(self, settings: Settings, signin: SignIn, sdl_dir: Path | None) -> None:
        self.settings = settings
        self.signin = signin
        self.sdl_dir = sdl_dir

    def sdl_files(self) -> list[str]:
        if self.sdl_dir is None or not self.sdl_dir.is_dir():
            return []
        return sorted(path.name for path in self.sdl_dir.glob("*.graphql"))

    async def page(self, request: Request) -> Response:
        person = await self.signin.console_person(request)
        context = {
            "signed_in": person,
            "graphiql": self.settings.graphiql,
            "sdl_files": self.sdl_files(),
            "docs": README.is_file(),
        }
        return render(request, "landing.html", context)

    async def sdl(self, request: Request) -> Response:
        name = request.path_params["name"]
        if name not in self.sdl_files():
            return PlainTextResponse("no such SDL file", 404)
        assert self.sdl_dir is not None
        text = (self.sdl_dir / name).read_text(encoding="utf-8")
        return PlainTextResponse(text, media_type="text/plain; charset=utf-8")

    async def docs(self, _: Request) -> Response:
        if not README.is_file():
            return PlainTextResponse("README.md is not installed with this hub", 404)
        return PlainTextResponse(
            README.read_text(encoding="utf-8"), media_type="text/markdown; charset=utf-8"
        )

    async def language(self, request: Request) -> Response:
        code = request.path_params["code"]
        target = safe_next(request.query_params.get("next"), prefixes=("/",), default="/")
        response = RedirectResponse(target, 303)
        if code in LANGUAGES:
            response.set_cookie(
                LANG_COOKIE, code, max_age=365 * 86400, samesite="lax", httponly=True
            )
        return response

    async def home(self, request: Request) -> Response:
        person = request.state.console.person
        return RedirectResponse(HOME.get(person.role, "/console/counter"), 303)

    async def token(self, request: Request) -> Response:
        """The signed-in person's current token, for GraphiQL's helper (dev only)."""
        if not self.settings.is_dev:
            return PlainTextResponse("only in dev", 404)
        console = request.state.console
        return JSONResponse(
            {"access_token": console.access_token, "subject": console.person.name},
            headers={"Cache-Control": "no-store"},
        )
