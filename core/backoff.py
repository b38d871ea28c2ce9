"""The one backoff policy: exponential from ``initial``, capped at ``maximum``, with jitter.

Attempt 0 waits between half and all of ``initial``, attempt n between half and all of
``min(maximum, initial * 2**n)`` (AWS's "equal jitter": never a zero wait that would hammer a
server that just refused, and retries of many clients spread over the second half). Used by
the edge agent's reconnects, the ingest's store retries, the alert dispatcher's redeliveries
and the stack's restarts of a service.
"""
from __future__ import annotations

import random
from typing import Callable


def backoff_delay(attempt: int, initial: float, maximum: float,
                  rand: Callable[[], float] = random.random) -> float:
    """Seconds to wait before retry ``attempt`` (0 for the first retry)."""
    cap = min(maximum, initial * 2 ** min(max(attempt, 0), 30))
    return cap / 2 + rand() * cap / 2
