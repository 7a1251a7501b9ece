"""Which stream a record belongs to and where it is written: the pipeline's view of a stream."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from connectors.base import Source, Stream
from connectors.config import ConnectorsConfig, StreamBase
from connectors.mapping import RecordMapping, parse_timezone
from hub.storage.models import (
    AssistanceGrant,
    ChronicCondition,
    FamilyDoctorContract,
    HouseholdRegistration,
    InsuranceEnrollment,
    PersonFlag,
    ResidencePermit,
    SchoolEnrollment,
    SourceRecord,
    Vaccination,
)

# One line per target named in connectors/targets.py.
TARGET_MODELS: dict[str, type[SourceRecord]] = {
    "family_doctor_contract": FamilyDoctorContract,
    "vaccination": Vaccination,
    "chronic_condition": ChronicCondition,
    "insurance_enrollment": InsuranceEnrollment,
    "assistance_grant": AssistanceGrant,
    "school_enrollment": SchoolEnrollment,
    "household_registration": HouseholdRegistration,
    "residence_permit": ResidencePermit,
    "person_flag": PersonFlag,
}


@dataclass(frozen=True)
class RejectionLimits:
    """When mapping rejections fail a run (see hub/sync/limits.py); the stream's settings."""

    batch: float = 0.5
    run: float = 0.2
    minimum: int = 5

    @classmethod
    def of(cls, config: StreamBase) -> RejectionLimits:
        return cls(config.max_rejected_batch, config.max_rejected_run, config.min_rejected)


@dataclass(frozen=True)
class StreamContext:
    """What the pipeline needs to know about a stream (built from a Source, or from config for retry)."""

    connector: str
    stream: str
    source: str
    model: type[SourceRecord]
    mapping: RecordMapping
    future_tolerance: timedelta = timedelta(minutes=5)
    limits: RejectionLimits = field(default_factory=RejectionLimits)

    @classmethod
    def of(cls, source: Source, stream: Stream[Any]) -> StreamContext:
        model = TARGET_MODELS[stream.config.target]
        return cls(
            source.name, stream.name, source.source, model, stream.mapping,
            future_tolerance=source.config.future_tolerance,
            limits=RejectionLimits.of(stream.config),
        )  # fmt: skip


def stream_context(config: ConnectorsConfig, connector: str, stream: str) -> StreamContext | None:
    """A stream's pipeline context straight from config: no clients, so no secrets needed."""
    source = config.connectors.get(connector)
    stream_config = source.streams.get(stream) if source else None
    if source is None or stream_config is None:
        return None
    zone = parse_timezone(source.timezone)
    mapping = RecordMapping(stream_config, code_tables=config.code_tables, zone=zone)
    model = TARGET_MODELS[stream_config.target]
    return StreamContext(
        connector, stream, source.source or connector, model, mapping,
        future_tolerance=source.future_tolerance, limits=RejectionLimits.of(stream_config),
    )  # fmt: skip
