"""Retryable or permanent is decided here, and nowhere else, with one backoff policy.

* :class:`~core.store.StoreRejected` is permanent: the batch is bisected (see ``_writer``).
* :class:`~core.store.StoreUnavailable` and any other error are retried with exponential
  backoff with jitter, until they succeed or the caller's ``give_up`` says stop. The steps
  after a store write (dead-letter insert, tracker save) use the same policy: an error there
  (a locked or full state file) is an outage of that step, never a reason to skip it.
"""
from __future__ import annotations

import logging
import random
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, TypeVar

from core.backoff import backoff_delay
from core.store import StoreRejected, StoreUnavailable

log = logging.getLogger(__name__)
T = TypeVar("T")


class GaveUp(Exception):
    """Retrying stopped because the service is shutting down past its drain deadline."""


def is_permanent(exc: BaseException) -> bool:
    return isinstance(exc, StoreRejected)


@dataclass
class Backoff:
    """The one backoff policy (:func:`core.backoff.backoff_delay`), cut short by ``wake``."""

    initial: float = 0.2
    maximum: float = 5.0
    rand: Callable[[], float] = field(default=random.random)
    wake: threading.Event = field(default_factory=threading.Event)  # set to cut a sleep short

    def delay(self, attempt: int) -> float:
        return backoff_delay(attempt, self.initial, self.maximum, self.rand)

    def call(self, fn: Callable[[], T], give_up: Callable[[], bool],
             on_retry: Callable[[BaseException], None] = lambda e: None,
             what: str = "store write") -> T:
        """Call ``fn`` until it returns; permanent errors propagate at once."""
        attempt = 0
        while True:
            try:
                return fn()
            except Exception as exc:  # noqa: BLE001 - classified below
                if is_permanent(exc):
                    raise
                if give_up():
                    raise GaveUp(str(exc)) from exc
                on_retry(exc)
                if attempt == 0 or attempt % 20 == 0:
                    level = logging.WARNING if isinstance(exc, StoreUnavailable) else logging.ERROR
                    log.log(level, "%s failed (attempt %d), retrying: %s",
                            what, attempt + 1, exc, exc_info=not isinstance(exc, StoreUnavailable))
                self.wake.wait(max(self.delay(attempt), 0.01))
                attempt += 1


def monotonic() -> float:
    return time.monotonic()
