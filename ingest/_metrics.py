"""Prometheus metrics of one ingest process, on its own CollectorRegistry."""
from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest


class IngestMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        r = self.registry = registry or CollectorRegistry()
        p = "fenwei_ingest_"
        self.messages = Counter(p + "messages", "MQTT messages received", registry=r)
        self.redeliveries = Counter(p + "redeliveries", "messages received with DUP set",
                                    registry=r)
        self.readings = Counter(p + "readings_stored", "readings written to the store",
                                registry=r)
        self.batches = Counter(p + "batches", "batches written to the store", registry=r)
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

    def text(self) -> bytes:
        return generate_latest(self.registry)
