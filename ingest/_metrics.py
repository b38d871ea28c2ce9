"""Prometheus metrics of one ingest process, on its own CollectorRegistry."""
from __future__ import annotations

from typing import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily


class IngestMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        r = self.registry = registry or CollectorRegistry()
        p = "fenwei_ingest_"
        self._received: Callable[[], int] = lambda: 0
        self._redelivered: Callable[[], int] = lambda: 0
        r.register(_Received(self))
        self.readings = Counter(p + "readings_stored", "readings written to the store",
                                registry=r)
        self.batches = Counter(p + "batches", "batches written to the store", registry=r)
        self.last_write = Gauge(p + "last_write_timestamp_seconds", "Unix time the store "
                                "last accepted a batch of readings", registry=r)
        self.acks = Counter(p + "acks", "messages acknowledged", registry=r)
        self.write_seconds = Histogram(
            p + "write_seconds", "store write latency per batch (retries included)",
            buckets=(.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120),
            registry=r)
        self.store_retries = Counter(p + "store_retries", "retried store writes", registry=r)
        self.dead_letters = Counter(p + "dead_letters", "dead-lettered messages or readings",
                                    ["reason"], registry=r)
        self.gaps = Counter(p + "missing_seq", "sequence numbers found missing", registry=r)
        self.duplicates = Counter(p + "duplicate_messages", "messages with an already seen seq",
                                  registry=r)
        self.late = Counter(p + "late_readings", "readings older than the newest one seen",
                            registry=r)
        self.buffer_readings = Gauge(p + "buffer_readings", "decoded readings awaiting write",
                                     registry=r)
        self.buffer_messages = Gauge(p + "buffer_messages", "messages awaiting acknowledgement",
                                     registry=r)
        self.connected = Gauge(p + "connected", "1 while connected to the broker", registry=r)
        self.subscribed = Gauge(p + "subscribed", "1 once the broker granted the subscription",
                                registry=r)
        self.store_up = Gauge(p + "store_up", "0 while the store refuses connections",
                              registry=r)
        self.paused = Gauge(p + "paused", "1 while reading is paused by back-pressure",
                            registry=r)
        self.stalled = Gauge(p + "stalled", "1 while a written batch cannot be finished "
                             "(dead-letter insert or tracker save failing): not acknowledged",
                             registry=r)
        self.step_retries = Counter(p + "step_retries", "retried steps after a store write",
                                    ["step"], registry=r)
        self.failed_batches = Counter(p + "failed_batches", "batches abandoned to redelivery "
                                      "(the broker connection dropped)", registry=r)
        self.dead_letters_kept = Gauge(p + "dead_letters_kept", "rows in the dead-letter "
                                       "table (replay or purge to empty it)", registry=r)
        self.fill_gaps = Gauge(p + "fill_gaps", "time gaps in stations' series by fill state "
                               "(open, requested, filled, given_up)", ["state"], registry=r)
        self.fill_requests = Counter(p + "fill_requests", "gap-fill requests published to "
                                     "station agents (retries included)", registry=r)
        self.dead_letters_full = Gauge(p + "dead_letters_full", "1 while the dead-letter "
                                       "table is at dead_letter_max_rows: intake stalls",
                                       registry=r)

    def count_from(self, received: Callable[[], int], redelivered: Callable[[], int]) -> None:
        """``fenwei_ingest_messages_total``/``_redeliveries_total`` read these at scrape time
        (the paho thread only bumps plain ints: no metric lock per message)."""
        self._received, self._redelivered = received, redelivered

    def text(self) -> bytes:
        return generate_latest(self.registry)


class _Received:
    """Collector of the per-message counters kept as plain ints by the service."""

    def __init__(self, m: IngestMetrics) -> None:
        self.m = m

    def collect(self):
        yield CounterMetricFamily("fenwei_ingest_messages", "MQTT messages received",
                                  value=self.m._received())
        yield CounterMetricFamily("fenwei_ingest_redeliveries",
                                  "messages received with DUP set", value=self.m._redelivered())
