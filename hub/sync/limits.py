"""A run that rejects too much fails, instead of quarantining a whole source and moving on.

Mapping reasons (SCHEMA_ERROR, INVALID_ID_NUMBER, UNREADABLE) say the records do not fit
the stream's mapping; when they are most of a batch, the mapping (a wrong path, a date
format) or the export (a wrong encoding) is broken, not the records. Per stream:

- a batch fails when more than `max_rejected_batch` (0.5) of its records are rejected for
  mapping reasons;
- the run fails when more than `max_rejected_run` (0.2) of what it has read so far was;

each judged once at least `min_rejected` (5) such records are in that batch or run. The
failing batch is not committed, so nothing of it is written, quarantined or passed by the
cursor: fix the mapping and the next plain run reads the same records again.
UNMATCHED_RESIDENT (the police register has not created the person yet), CONFLICT,
FUTURE_TIMESTAMP and WRITE_ERROR are about single records and never count.
`hub sync --accept-rejections` lifts the limits for one run.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from hub.quarantine import Rejected
from hub.storage.models import QuarantineReason
from hub.sync.context import StreamContext
from hub.sync.results import BatchResult, Counts

MAPPING_REASONS = frozenset(
    {QuarantineReason.SCHEMA_ERROR, QuarantineReason.INVALID_ID_NUMBER, QuarantineReason.UNREADABLE}
)
_SHOWN_REASONS = 3


class TooManyRejectionsError(Exception):
    """The batch at hand is rolled back and the run fails; the message says why and what next."""


def mapping_rejections(counts: Counts) -> int:
    return sum(counts.reasons[reason.value] for reason in MAPPING_REASONS)


def check_rejections(context: StreamContext, batch: BatchResult, run: Counts) -> None:
    """Raise TooManyRejectionsError when the batch, or the run with it, rejects too much."""
    limits = context.limits
    rejected, read = mapping_rejections(batch.counts), batch.counts.read
    if rejected >= limits.minimum and rejected > limits.batch * read:
        scope = f"{rejected} of the {read} records of one batch"
        raise TooManyRejectionsError(
            _message(context, scope, limits.batch, "max_rejected_batch", batch.rejected)
        )
    total, total_read = rejected + mapping_rejections(run), read + run.read
    if total >= limits.minimum and total > limits.run * total_read:
        scope = f"{total} of the {total_read} records read in this run"
        raise TooManyRejectionsError(
            _message(context, scope, limits.run, "max_rejected_run", batch.rejected)
        )


def _message(
    context: StreamContext, scope: str, limit: float, setting: str, rejected: list[Rejected]
) -> str:
    name = context.connector
    return (
        f"{scope} did not fit the mapping (limit {limit:.0%}, {setting}): "
        f"{top_reasons(rejected)}. Nothing of this batch was written or quarantined and the "
        f"cursor did not move. Fix the mapping (`hub connectors check {name} --sample 20` "
        f"shows what it makes of the source), then run `hub sync {name}`; "
        f"`hub sync {name} --accept-rejections` quarantines them instead, for one run"
    )


def top_reasons(rejected: Iterable[Rejected]) -> str:
    """The commonest reasons, each with its field and an example: `SCHEMA_ERROR at x ×48 (…)`."""
    groups: Counter[tuple[str, str]] = Counter()
    examples: dict[tuple[str, str], str] = {}
    for item in rejected:
        if item.reason not in MAPPING_REASONS:
            continue
        key = (item.reason.value, _field(item))
        groups[key] += 1
        examples.setdefault(key, _example(item))
    shown = [
        f"{reason}{f' at {field}' if field else ''} ×{count} ({examples[reason, field]})"
        for (reason, field), count in groups.most_common(_SHOWN_REASONS)
    ]
    return "; ".join(shown) or "no mapping reasons in this batch"


def _field(item: Rejected) -> str:
    if isinstance(item.detail, list) and item.detail:
        first = item.detail[0]
        if isinstance(first, dict) and "loc" in first:
            return ".".join(map(str, first["loc"]))
    return ""


def _example(item: Rejected) -> str:
    if isinstance(item.detail, list) and item.detail and isinstance(item.detail[0], dict):
        text = str(item.detail[0].get("msg", item.message))
    else:
        text = item.message
    return text if len(text) <= 120 else f"{text[:117]}…"
