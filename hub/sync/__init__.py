"""Runs connector streams and is the only writer of what they read.

Per batch: map and validate each raw record → normalise its ID number → resolve the
resident (creating streams create or update residents) → upsert by (source,
source_record_id), never letting an older `source_updated_at` overwrite newer data →
quarantine what cannot be accepted → store the stream's new cursor and the run's counts —
all in ONE transaction. A process killed anywhere resumes from the last committed cursor;
upserts are idempotent, so a batch read again after a crash changes nothing twice.

A stream runs under a lock (a PostgreSQL session advisory lock, so replicas never run the
same stream at once; a process-local lock on SQLite); a stream whose lock is held is
recorded as SKIPPED. `SyncScheduler` runs due streams in the background of `hub serve`.

The package: `results` (counts and summaries), `context` (a stream's target and mapping),
`batch` (preparing records), `writer` (writing them), `pipeline` (one batch), `locks`, `runs`
(run records and cursors), `runner` (`sync`, `sync_source`, `run_stream`), `retry`
(`retry_quarantine`), `scheduler`. Everything public is re-exported here.
"""

from __future__ import annotations

from hub.sync.batch import Lookups, Prepared, RejectedRecord, prepare
from hub.sync.context import TARGET_MODELS, StreamContext, stream_context
from hub.sync.locks import advisory_lock_key, stream_lock
from hub.sync.pipeline import ingest_records
from hub.sync.results import Counts, ProgressCallback, RunSummary
from hub.sync.retry import RetrySummary, retry_quarantine
from hub.sync.runner import connectors_config, log, run_stream, sync, sync_source
from hub.sync.runs import StreamRun, load_cursor, record_skipped, save_cursor
from hub.sync.scheduler import SyncScheduler, due_streams, last_run_started, run_due_syncs
from hub.sync.writer import Outcome, Writer

__all__ = [
    "TARGET_MODELS",
    "Counts",
    "Lookups",
    "Outcome",
    "Prepared",
    "ProgressCallback",
    "RejectedRecord",
    "RetrySummary",
    "RunSummary",
    "StreamContext",
    "StreamRun",
    "SyncScheduler",
    "Writer",
    "advisory_lock_key",
    "connectors_config",
    "due_streams",
    "ingest_records",
    "last_run_started",
    "load_cursor",
    "log",
    "prepare",
    "record_skipped",
    "retry_quarantine",
    "run_due_syncs",
    "run_stream",
    "save_cursor",
    "stream_context",
    "stream_lock",
    "sync",
    "sync_source",
]
