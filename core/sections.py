"""The settings sections without a service package of their own: ``[aqi]``, ``[api]``,
``[clock]`` and ``[stack]`` (registered in the ``fenwei.settings`` entry-point group like the
services' sections; see :mod:`core.config`)."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from .timeutil import CST, parse_duration


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _duration(v: str) -> str:
    parse_duration(v)
    return v


def _instant(v: float | datetime | str | None) -> float | datetime | None:
    """Epoch seconds, or an ISO 8601 instant (no offset: China Standard Time)."""
    if v is None or isinstance(v, (int, float)):
        return v
    if isinstance(v, str):
        try:
            return float(v)
        except ValueError:
            try:
                v = datetime.fromisoformat(v.strip())
            except ValueError:
                raise ValueError(f"{v!r} is neither epoch seconds nor an ISO 8601 instant") \
                    from None
    return v if v.tzinfo else v.replace(tzinfo=CST)


def _epoch(v: float | datetime | None) -> float | None:
    return v.timestamp() if isinstance(v, datetime) else v


class AqiSection(_Section):
    """``[aqi]``: the periodic AQI computation."""

    every: str = "5m"      # how often hourly/daily AQI is recomputed
    lookback: str = "2d"   # how far back each pass recomputes (late data)

    _check = field_validator("every", "lookback")(_duration)

    @property
    def every_s(self) -> float:
        return parse_duration(self.every).total_seconds()

    @property
    def lookback_td(self) -> timedelta:
        return parse_duration(self.lookback)


class ApiSection(_Section):
    """``[api]``: the HTTP API server."""

    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    workers: int = Field(1, ge=1)
    max_concurrent: int = Field(0, ge=0)   # read by api._settings (FENWEI_API_MAX_CONCURRENT)


class ClockSection(_Section):
    """``[clock]``: the wall clock, or a warped clock at ``start`` when the wall reaches
    ``anchor`` and ``speed`` times faster from then (see :mod:`core.clock`)."""

    mode: Literal["wall", "warped"] = "wall"
    start: float | datetime | str | None = None   # clock time at the anchor (warped)
    speed: float = Field(1.0, gt=0)                # clock seconds per wall second
    anchor: float | datetime | str | None = None   # wall epoch seconds, ISO instant or @FILE

    @field_validator("start", mode="before")
    @classmethod
    def _start(cls, v):
        return _instant(v)

    @field_validator("anchor", mode="before")
    @classmethod
    def _anchor(cls, v):
        return v if isinstance(v, str) and v.startswith("@") else _instant(v)

    @model_validator(mode="after")
    def _warped_needs_start(self) -> "ClockSection":
        if self.mode == "warped" and self.start is None:
            raise ValueError("mode = \"warped\" needs start")
        return self

    @property
    def start_epoch(self) -> float | None:
        return _epoch(self.start)  # type: ignore[arg-type]

    @property
    def anchor_epoch(self) -> float | None:
        """``anchor`` as wall epoch seconds (None: not set, or an ``@FILE`` anchor)."""
        return None if isinstance(self.anchor, str) else _epoch(self.anchor)

    def clock_values(self) -> dict[str, object]:
        """The keys as ``core.clock.clock_from`` takes them (epoch seconds, ``@FILE``)."""
        out: dict[str, object] = {"mode": self.mode, "speed": self.speed}
        if self.start is not None:
            out["start"] = self.start_epoch
        if self.anchor is not None:
            out["anchor"] = self.anchor if isinstance(self.anchor, str) else \
                repr(self.anchor_epoch)
        return out


class StackSection(_Section):
    """``[stack]``: the single-process stack (``stack/``)."""

    hj212_port: int = Field(9212, ge=0, le=65535)   # field listener ports (0: any free port)
    sl651_port: int = Field(9651, ge=0, le=65535)
    notify_webhook: str | None = None               # http(s) URL alerts are posted to
    restart_backoff_max: str = "30s"                # a failed stage restarts, backing off up to

    _check = field_validator("restart_backoff_max")(_duration)

    @field_validator("notify_webhook")
    @classmethod
    def _webhook(cls, v: str | None) -> str | None:
        if v and not v.startswith(("http://", "https://")):
            raise ValueError("notify_webhook must be an http:// or https:// URL")
        return v or None

    @property
    def restart_backoff_max_s(self) -> float:
        return parse_duration(self.restart_backoff_max).total_seconds()


__all__ = ["AqiSection", "ApiSection", "ClockSection", "StackSection"]
