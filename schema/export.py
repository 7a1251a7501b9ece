"""Exports the SDL of the unified schema and of each subgraph, for review and for gateways."""

from __future__ import annotations

import asyncio
from pathlib import Path

from schema.build import SUBGRAPHS, UNIFIED, build_schema

SDL_DIR = Path(__file__).resolve().parent / "sdl"


def subgraph_sdl(name: str) -> str:
    """The federation SDL exactly as `_service { sdl }` serves it, newline-terminated."""
    schema = build_schema(name)
    result = asyncio.run(schema.execute("{ _service { sdl } }"))
    if result.errors or result.data is None:
        raise RuntimeError(f"could not print the {name} schema: {result.errors}")
    return str(result.data["_service"]["sdl"]).rstrip("\n") + "\n"


def render_all() -> dict[str, str]:
    """File name → SDL for the unified schema and every subgraph."""
    return {f"{name}.graphql": subgraph_sdl(name) for name in (UNIFIED, *SUBGRAPHS)}


def export(directory: Path = SDL_DIR) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for filename, sdl in render_all().items():
        path = directory / filename
        path.write_text(sdl, encoding="utf-8")
        written.append(path)
    return written
