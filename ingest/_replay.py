"""Replay dead letters: decode each stored payload again and write it the way intake does
(the same decoder, the same bisecting writer, outages retried with the one backoff); rows
whose readings are all stored are removed, the others stay with their reason.

A row stays when its payload was cut at ``dead_letter_payload_bytes`` (it cannot be whole
again), when it still does not decode (malformed, unknown station ...), or when the store
still refuses one of its readings (a type conflict not yet resolved).
"""
from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Callable, Sequence

from core.catalogue import Catalogue
from core.deadletters import DeadLetters
from core.wire import MAX_PAYLOAD_BYTES, Batch, Reading, decode

from ._retry import Backoff
from ._writer import write_bisect

log = logging.getLogger(__name__)
_DURATION = re.compile(r"(\d+)([smhdw])")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


@dataclass
class ReplayResult:
    stored: int = 0          # rows removed: every reading stored
    readings: int = 0        # readings written
    kept: int = 0            # rows still dead: see ``reasons``
    reasons: dict[str, int] | None = None


def parse_since(text: str | None, now: float | None = None) -> float | None:
    """``2024-06-03T08:00:00+08:00`` (ISO 8601, with offset) or an age like ``90m``, ``2h``,
    ``7d``, ``1w2d``; None for None."""
    if text is None:
        return None
    if re.fullmatch(r"(\d+[smhdw])+", text):
        age = sum(int(n) * _UNIT[u] for n, u in _DURATION.findall(text))
        return (time.time() if now is None else now) - age
    ts = datetime.fromisoformat(text)
    if ts.tzinfo is None:
        raise ValueError(f"{text!r}: give a UTC offset (e.g. +08:00) or an age (2h, 7d)")
    return ts.timestamp()


def replay(dead: DeadLetters, write: Callable[[Sequence[Reading]], object], cat: Catalogue, *,
           reason: str | None = None, since: float | None = None, backoff: Backoff | None = None,
           deadline_s: float = 300.0, max_bytes: int = MAX_PAYLOAD_BYTES,
           page: int = 200) -> ReplayResult:
    """Replay the matching rows, oldest first, a page at a time."""
    backoff = backoff or Backoff()
    give_up_at = time.monotonic() + deadline_s

    def write_retrying(rs: Sequence[Reading]) -> None:
        backoff.call(lambda: write(rs), lambda: time.monotonic() > give_up_at)

    res, reasons, after = ReplayResult(), {}, 0
    while rows := dead.rows(reason=reason, since=since, after_id=after, limit=page):
        after = rows[-1]["id"]
        readings: list[Reading] = []
        owner: list[int] = []              # row index of each reading
        ok = [False] * len(rows)
        for i, row in enumerate(rows):
            why = _why_not(row, cat, max_bytes)
            if isinstance(why, Batch):
                readings += why.readings
                owner += [i] * len(why.readings)
                ok[i] = True
            else:
                reasons[why] = reasons.get(why, 0) + 1
        bad = write_bisect(write_retrying, readings) if readings else []
        for j, why, _ in bad:
            if ok[owner[j]]:
                ok[owner[j]] = False
                reasons[why] = reasons.get(why, 0) + 1
        res.readings += len(readings) - len(bad)
        done = [row["id"] for row, good in zip(rows, ok) if good]
        res.stored += dead.remove(done)
        res.kept += len(rows) - len(done)
    res.reasons = reasons
    log.info("replayed dead letters: %d rows stored (%d readings), %d kept %s", res.stored,
             res.readings, res.kept, reasons)
    return res


def _why_not(row: dict, cat: Catalogue, max_bytes: int) -> Batch | str:
    if row["payload_size"] > len(row["payload"]):
        return "payload_truncated"
    got = decode(row["topic"], bytes(row["payload"]), cat, max_bytes=max_bytes, now=time.time())
    return got if type(got) is Batch else got.reason
