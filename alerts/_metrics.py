"""Prometheus metrics of one alert service, on its own CollectorRegistry.

``fenwei_alerts_intake_stalled`` is 1 while a batch of readings cannot be evaluated (its
messages stay unacknowledged and the batch is retried); ``fenwei_alerts_dead_notifications``
counts the outbox rows that gave up (``fenwei alerts dead-letters redrive`` sends them again).
"""
from __future__ import annotations

from typing import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest


class AlertMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        r = self.registry = registry or CollectorRegistry()
        p = "fenwei_alerts_"
        self.messages = Counter(p + "reading_messages", "readings messages evaluated and "
                                "acknowledged", registry=r)
        self.rejected = Counter(p + "rejected_messages", "readings messages that did not "
                                "decode", registry=r)
        self.intake_failures = Counter(p + "intake_failures", "failed evaluations of a batch "
                                       "of readings (each is retried)", registry=r)
        self.intake_stalled = Gauge(p + "intake_stalled", "1 while a batch of readings cannot "
                                    "be evaluated and intake waits for it", registry=r)
        self.dead = Gauge(p + "dead_notifications", "notifications dead-lettered and not "
                          "redriven", registry=r)

    def count_dead_from(self, count: Callable[[], int]) -> None:
        """The dead-notification gauge reads ``count()`` at scrape time."""
        self.dead.set_function(count)

    def text(self) -> bytes:
        return generate_latest(self.registry)
