"""Limits state shared by every worker and replica: cost buckets, daily harvest counts and
failed client logins."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, Float, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from hub.storage.base import Base, UtcDateTime


class RateBucket(Base):
    """A token bucket (`client:<id>` by cost, `address:<ip>` by request), refilled lazily.

    `refilled_at` is seconds since the epoch (a float, so the refill is plain arithmetic in
    SQL on both backends). Workers write their spending behind (hub/limits/budgets.py).
    """

    __tablename__ = "rate_buckets"

    key: Mapped[str] = mapped_column(String(160), primary_key=True)
    tokens: Mapped[float] = mapped_column(Float)
    refilled_at: Mapped[float] = mapped_column(Float)


class HarvestRead(Base):
    """One resident whose PII or sensitive fields one client read on one (local) day."""

    __tablename__ = "harvest_reads"

    client_key: Mapped[str] = mapped_column(String(160), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    resident_id: Mapped[str] = mapped_column(String(36), primary_key=True)


class HarvestAlert(Base):
    """The day a client first ran into its harvest quota (one alert event per client and day)."""

    __tablename__ = "harvest_alerts"

    client_key: Mapped[str] = mapped_column(String(160), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime())


class LoginFailures(Base):
    """Failed client authentications at the token endpoint under one throttle key
    (`pair:<client id>|<address>`, `address:<ip>`, `client:<id>`) in the window that began
    at `since` (seconds since the epoch). Workers write theirs behind (hub/auth/oauth/throttle.py).
    """

    __tablename__ = "login_failures"

    key: Mapped[str] = mapped_column(String(160), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer)
    since: Mapped[float] = mapped_column(Float)
