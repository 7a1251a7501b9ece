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

Guards against hostile and broken sources: a record updated after the run began is
quarantined (FUTURE_TIMESTAMP) and only accepted records move a stream's cursor
(`Batch.settle`); a batch the database refuses is written again record by record, so one
poison record is quarantined (WRITE_ERROR) and its neighbours commit; a run whose mapping
rejects too much fails without committing the batch (`limits`).

The package: `results` (counts and summaries), `context` (a stream's target and mapping),
`batch` (preparing records), `writer` (writing them), `pipeline` (one batch), `limits`
(rejection limits), `locks`, `runs` (run records and cursors), `runner` (`sync`,
`sync_source`, `run_stream`), `retry` (`retry_quarantine`), `scheduler`. Everything public
is re-exported here.
"""

from __future__ import annotations

from hub.sync.batch import Lookups, Prepared, RejectedRecord, prepare
from hub.sync.context import TARGET_MODELS, RejectionLimits, StreamContext, stream_context
from hub.sync.limits import MAPPING_REASONS, TooManyRejectionsError, check_rejections
from hub.sync.locks import advisory_lock_key, stream_lock
from hub.sync.pipeline import ingest_records
from hub.sync.results import BatchResult, Counts, ProgressCallback, RunSummary
from hub.sync.retry import RetrySummary, retry_quarantine
from hub.sync.runner import connectors_config, failure, log, run_stream, sync, sync_source
from hub.sync.runs import StreamRun, load_cursor, record_skipped, save_cursor
from hub.sync.scheduler import SyncScheduler, due_streams, last_run_started, run_due_syncs
from hub.sync.writer import Outcome, Writer

__all__ = [
    "MAPPING_REASONS",
    "TARGET_MODELS",
    "BatchResult",
    "Counts",
    "Lookups",
    "Outcome",
    "Prepared",
    "ProgressCallback",
    "RejectedRecord",
    "RejectionLimits",
    "RetrySummary",
    "RunSummary",
    "StreamContext",
    "StreamRun",
    "SyncScheduler",
    "TooManyRejectionsError",
    "Writer",
    "advisory_lock_key",
    "check_rejections",
    "connectors_config",
    "due_streams",
    "failure",
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
