"""The clock every service and the simulator share: the wall clock, or a warped clock.

A warped clock (drills, replays, tests) maps wall time onto simulated time::

    now = start + max(0, wall - anchor) * speed

``start`` is the simulated instant at the anchor, ``speed`` simulated seconds per real second.
Until the anchor is reached the clock stands at ``start``. The anchor is a wall instant
(epoch seconds or ISO 8601), or the name of a file that will hold one: a stack of separate
processes starts with the anchor file missing (each service waits at ``start`` while it gets
ready), and the supervisor writes the file once all are ready, so every process's clock moves
from the same wall instant. Everything sent while the clock is warped is an exercise.

Settings (environment, or ``[clock]`` in fenwei.toml): ``FENWEI_CLOCK_MODE`` (``wall`` or
``warped``), ``FENWEI_CLOCK_START``, ``FENWEI_CLOCK_SPEED``, ``FENWEI_CLOCK_ANCHOR`` (epoch
seconds, ISO instant, or ``@/path/to/file``).
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Mapping

from .timeutil import CST


class ClockError(ValueError):
    """A clock setting is missing or invalid; the message names it."""


def _instant(text: str, name: str) -> float:
    try:
        return float(text)
    except ValueError:
        pass
    try:
        t = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ClockError(f"{name}: {text!r} is neither epoch seconds nor an ISO 8601 "
                         "instant") from None
    return (t if t.tzinfo else t.replace(tzinfo=CST)).timestamp()


@dataclass
class Clock:
    """``clock()`` (or ``.now()``) gives epoch seconds; ``speed`` 1.0 on the wall clock."""

    start: float | None = None          # None: the wall clock
    speed: float = 1.0
    anchor: float | None = None
    anchor_file: Path | None = None
    held: float | None = None
    _next_check: float = 0.0

    @property
    def warped(self) -> bool:
        return self.start is not None

    def _anchor(self) -> float | None:
        if self.anchor is None and self.anchor_file is not None:
            try:
                self.anchor = float(self.anchor_file.read_text().strip())
            except (OSError, ValueError):
                return None
        return self.anchor

    def _hold(self) -> float | None:
        """A ``.hold`` file beside the anchor file stops the clock at the simulated instant
        it holds (the end of a replayed period: its silence is not an outage)."""
        if self.held is None and self.anchor_file is not None:
            mono = time.monotonic()
            if mono >= self._next_check:
                self._next_check = mono + 0.5
                try:
                    self.held = float(self.anchor_file.with_suffix(".hold").read_text())
                except (OSError, ValueError):
                    pass
        return self.held

    def now(self) -> float:
        if self.start is None:
            return time.time()
        anchor = self._anchor()
        if anchor is None:
            return self.start
        t = self.start + max(0.0, time.time() - anchor) * self.speed
        held = self._hold()
        return t if held is None else min(t, held)

    __call__ = now

    def started(self) -> bool:
        """True once the warped clock moves (always on the wall clock)."""
        return self.start is None or (self._anchor() is not None
                                      and time.time() >= self.anchor)

    def datetime(self) -> datetime:
        return datetime.fromtimestamp(self.now(), timezone.utc)

    def env(self) -> dict[str, str]:
        """The environment variables giving a child process this clock."""
        if self.start is None:
            return {"FENWEI_CLOCK_MODE": "wall"}
        anchor = f"@{self.anchor_file}" if self.anchor_file is not None else str(self.anchor)
        return {"FENWEI_CLOCK_MODE": "warped", "FENWEI_CLOCK_START": repr(self.start),
                "FENWEI_CLOCK_SPEED": repr(self.speed), "FENWEI_CLOCK_ANCHOR": anchor}


WALL = Clock()


def clock_from(values: Mapping[str, object] | None = None) -> Clock:
    """The clock named by ``values`` (keys mode, start, speed, anchor) or, for keys not
    given, the FENWEI_CLOCK_* environment variables. Raises :class:`ClockError`."""
    values = dict(values or {})
    get = lambda k: values.get(k) if values.get(k) not in (None, "") else \
        os.environ.get(f"FENWEI_CLOCK_{k.upper()}")  # noqa: E731
    mode = str(get("mode") or "wall").lower()
    if mode == "wall":
        return Clock()
    if mode != "warped":
        raise ClockError(f"FENWEI_CLOCK_MODE: {mode!r}: use 'wall' or 'warped'")
    start, speed, anchor = get("start"), get("speed"), get("anchor")
    if start is None:
        raise ClockError("FENWEI_CLOCK_START: a warped clock needs its simulated start")
    try:
        speed_f = float(speed) if speed is not None else 1.0
    except (TypeError, ValueError):
        raise ClockError(f"FENWEI_CLOCK_SPEED: {speed!r} is not a number") from None
    if not speed_f > 0:
        raise ClockError(f"FENWEI_CLOCK_SPEED: must be positive, got {speed_f}")
    start_f = start if isinstance(start, float) else _instant(str(start), "FENWEI_CLOCK_START")
    if anchor is None:
        return Clock(start_f, speed_f, anchor=time.time())
    text = str(anchor)
    if text.startswith("@"):
        return Clock(start_f, speed_f, anchor_file=Path(text[1:]))
    return Clock(start_f, speed_f, anchor=_instant(text, "FENWEI_CLOCK_ANCHOR"))


def write_anchor(path: Path, at: float | None = None) -> float:
    """Start every clock anchored on ``path``: write the wall instant atomically."""
    at = time.time() if at is None else at
    tmp = path.with_suffix(".tmp")
    tmp.write_text(repr(at))
    os.replace(tmp, path)
    return at
