"""Running streams: one stream, one source, or every configured connector (`hub sync`)."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from connectors.base import Source, Stream
from connectors.config import ConnectorsConfig, load_config
from connectors.errors import ConfigError, ConnectorError, FatalError, RetriableError
from connectors.registry import build_source, select_connectors
from hub.config import Settings
from hub.storage.models import RunStatus
from hub.sync.context import StreamContext, stream_context
from hub.sync.limits import TooManyRejectionsError
from hub.sync.locks import stream_lock
from hub.sync.results import ProgressCallback, RunSummary
from hub.sync.runs import StreamRun, record_skipped, runaway_watermark

log = logging.getLogger("hub.sync")


async def run_stream(
    engine: AsyncEngine,
    source: Source,
    stream: Stream[Any],
    *,
    full: bool = False,
    accept_rejections: bool = False,
    progress: ProgressCallback | None = None,
) -> RunSummary:
    """Run one stream of an opened source to its end (or its first fatal error)."""
    context = StreamContext.of(source, stream)
    async with stream_lock(engine, source.name, stream.name) as acquired:
        if not acquired:
            return await record_skipped(engine, context, "another process is running this stream")
        run = StreamRun(engine, context, full=full, accept_rejections=accept_rejections)
        cursor = await run.start()
        try:
            _refuse_runaway(cursor, run, source.name)
            async for batch in stream.read(cursor):
                await run.write(batch)
                if progress is not None:
                    progress(source.name, stream.name, run.counts)
        except (ConnectorError, TooManyRejectionsError) as error:
            return await run.finish(RunStatus.FAILED, failure(error, source.name))
        except asyncio.CancelledError:
            hint = f"cancelled; {_RESUMES.format(name=source.name)}"
            await asyncio.shield(run.finish(RunStatus.FAILED, hint))
            raise
        except (
            Exception
        ) as error:  # a bug or a database failure: record it, keep other streams going
            log.exception("sync %s/%s failed", source.name, stream.name)
            return await run.finish(RunStatus.FAILED, failure(error, source.name))
        return await run.finish(RunStatus.SUCCEEDED)


def _refuse_runaway(cursor: Any, run: StreamRun, name: str) -> None:
    watermark = runaway_watermark(cursor, limit=run.started_at + run.context.future_tolerance)
    if watermark is not None:
        raise FatalError(
            f"the stream's watermark {watermark} lies after this run's start, so it would read "
            "nothing (a record dated in the future moved it before such records were refused); "
            f"run `hub sync {name} --full` once to read everything again (upserts keep that "
            "idempotent)"
        )


_RESUMES = "batches already written stay, and `hub sync {name}` resumes after the last of them"


def failure(error: BaseException, name: str) -> str:
    """The reason a run failed, and how to recover from it."""
    if isinstance(error, TooManyRejectionsError):
        return str(error)  # it names its own fix
    resumes = _RESUMES.format(name=name)
    if isinstance(error, RetriableError):
        return f"{error}. To recover: nothing is lost; {resumes} once the source answers again"
    if isinstance(error, FatalError):
        return (
            f"{error}. To recover: fix that (`hub connectors check {name}` checks the file), "
            f"then run `hub sync {name}`; {resumes}"
        )
    return (
        f"{type(error).__name__}: {error}. To recover: an unexpected error, logged with its "
        f"traceback; {resumes}"
    )


async def sync_source(
    engine: AsyncEngine,
    source: Source,
    *,
    streams: Sequence[str] | None = None,
    full: bool = False,
    accept_rejections: bool = False,
    progress: ProgressCallback | None = None,
) -> list[RunSummary]:
    """Open the source once and run its streams (all, or those named) one after another."""
    chosen = [s for name, s in source.streams.items() if streams is None or name in streams]
    try:
        await source.open()
    except ConnectorError as error:
        await source.close()
        reason = failure(error, source.name)
        return [await _failed_to_open(engine, source, s, reason) for s in chosen]
    options: dict[str, Any] = {"full": full, "accept_rejections": accept_rejections}
    try:
        return [await run_stream(engine, source, s, progress=progress, **options) for s in chosen]
    finally:
        await source.close()


async def _failed_to_open(
    engine: AsyncEngine, source: Source, stream: Stream[Any], error: str
) -> RunSummary:
    run = StreamRun(engine, StreamContext.of(source, stream), full=False)
    await run.start()
    return await run.finish(RunStatus.FAILED, error)


def connectors_config(settings: Settings) -> ConnectorsConfig:
    """The validated connectors file named by HUB_CONNECTORS."""
    if settings.connectors is None:
        raise ConfigError(
            "HUB_CONNECTORS is not set; point it at the connectors TOML (see connectors/README.md)"
        )
    return load_config(settings.connectors)


async def sync(
    settings: Settings,
    engine: AsyncEngine,
    *,
    connectors: Sequence[str] = (),
    full: bool = False,
    accept_rejections: bool = False,
    progress: ProgressCallback | None = None,
    config: ConnectorsConfig | None = None,
    env: Mapping[str, str] | None = None,
) -> list[RunSummary]:
    """Run every stream of the named connectors (all enabled ones when none are named)."""
    config = config or connectors_config(settings)
    environment = os.environ if env is None else env
    summaries: list[RunSummary] = []
    for name in select_connectors(config, connectors):
        summaries += await _sync_configured(
            engine, config, name, environment,
            full=full, accept_rejections=accept_rejections, progress=progress,
        )  # fmt: skip
    return summaries


async def _sync_configured(
    engine: AsyncEngine,
    config: ConnectorsConfig,
    name: str,
    env: Mapping[str, str],
    *,
    streams: Sequence[str] | None = None,
    full: bool = False,
    accept_rejections: bool = False,
    progress: ProgressCallback | None = None,
) -> list[RunSummary]:
    """Build and run one connector; one that cannot be built (a missing secret) fails alone."""
    try:
        source = build_source(config, name, env=env)
    except FatalError as error:
        chosen = streams if streams is not None else list(config.connectors[name].streams)
        reason = failure(error, name)
        return [await _record_failure(engine, config, name, stream, reason) for stream in chosen]
    return await sync_source(
        engine, source, streams=streams, full=full,
        accept_rejections=accept_rejections, progress=progress,
    )  # fmt: skip


async def _record_failure(
    engine: AsyncEngine, config: ConnectorsConfig, name: str, stream: str, error: str
) -> RunSummary:
    context = stream_context(config, name, stream)
    assert context is not None
    run = StreamRun(engine, context, full=False)
    await run.start()
    return await run.finish(RunStatus.FAILED, error)
