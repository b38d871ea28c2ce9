"""Tiny real receivers (HTTP, SMTP) and builders shared by the alert platform tests."""
from __future__ import annotations

import email
import json
import threading
import time
from datetime import datetime, timedelta, timezone
from email import policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path

from core.wire import Reading

T0 = datetime(2026, 1, 10, 2, 0, tzinfo=timezone.utc)  # 10:00 CST


class Receiver:
    """A real HTTP server recording every POST; ``status`` (or a callable) decides the reply."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.status = 200
        self.reply = b'{"errcode":0,"errmsg":"ok"}'
        self.cond = threading.Condition()
        owner = self

        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):  # noqa: N802
                n = int(self.headers.get("Content-Length", 0))
                raw = self.rfile.read(n)
                status = owner.status(self) if callable(owner.status) else owner.status
                if 200 <= status < 300:
                    with owner.cond:
                        owner.requests.append({"path": self.path, "headers": dict(self.headers),
                                               "raw": raw, "at": time.monotonic()})
                        owner.cond.notify_all()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(owner.reply)))
                self.end_headers()
                self.wfile.write(owner.reply)

            def log_message(self, *a):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def bodies(self) -> list[dict]:
        with self.cond:
            return [json.loads(r["raw"]) for r in self.requests
                    if r["headers"].get("Content-Type", "").startswith("application/json")]

    def keys(self) -> list[str]:
        with self.cond:
            return [r["headers"].get("X-Fenwei-Idempotency-Key") for r in self.requests]

    def wait(self, pred, timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        with self.cond:
            while not pred(self):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.cond.wait(left)
            return True

    def wait_count(self, n: int, timeout: float = 10.0) -> bool:
        return self.wait(lambda r: len(r.requests) >= n, timeout)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class SmtpSink:
    """A real aiosmtpd SMTP server (its own thread) keeping parsed messages."""

    def __init__(self) -> None:
        from aiosmtpd.controller import Controller

        from core.localservers import free_port
        self.messages: list = []
        self.cond = threading.Condition()
        owner = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):  # noqa: N802
                msg = email.message_from_bytes(envelope.content, policy=policy.default)
                with owner.cond:
                    owner.messages.append((envelope.rcpt_tos, msg))
                    owner.cond.notify_all()
                return "250 OK"

        self.port = free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)
        self.controller.start()
        self.url = f"smtp://127.0.0.1:{self.port}"

    def wait_count(self, n: int, timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        with self.cond:
            while len(self.messages) < n:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.cond.wait(left)
            return True

    def close(self) -> None:
        self.controller.stop()


def reading(station: str, ts: datetime, pm25: float | None = None, *, flag: str | None = None,
            cat=None, param: str = "pm25", value: float | None = None) -> Reading:
    from core.catalogue import load_catalogue
    st = (cat or load_catalogue()).station(station)
    v = value if value is not None else pm25
    return Reading(st.id, st.city, st.kind, ts, "PT5M", {param: float(v)},
                   {param: flag} if flag and flag != "N" else {})


def series(station: str, start: datetime, values, step=timedelta(minutes=5), **kw):
    return [reading(station, start + i * step, v, **kw) for i, v in enumerate(values)]


PM25_RULES = {
    "escalation": {"red": {"renotify_every": "10m", "ladder": ["30m", "2h"]},
                   "yellow": {"renotify_every": "1h", "ladder": []}},
    "rule": [{
        "id": "pm25-station", "type": "threshold", "kind": "air.realtime",
        "title_zh": "PM2.5 实时浓度超标", "title_en": "PM2.5 exceedance",
        "parameter": "pm25", "per": "station", "duration": "15m", "data_window": "30m",
        "max_gap": "1h",
        "levels": [{"level": "yellow", "above": 150, "clear_below": 100},
                   {"level": "red", "above": 250, "clear_below": 200}],
    }],
}


def recipients_file(tmp: Path, channels: dict[str, list[dict]]) -> Path:
    """The packaged directory with the given channels added per recipient id."""
    doc = json.loads(resources.files("alerts").joinpath("data", "recipients.json").read_text())
    for r in doc["recipients"]:
        if r["id"] in channels:
            r["channels"] = channels[r["id"]]
    extra = [dict(id=rid, **spec) for rid, spec in channels.get("_extra", [])]
    doc["recipients"] += extra
    path = tmp / "recipients.json"
    path.write_text(json.dumps(doc, ensure_ascii=False))
    return path


def wait_until(pred, timeout: float = 10.0, every: float = 0.02) -> bool:
    """Poll a condition that has no event to await (e.g. a database row), bounded."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(every)
    return bool(pred())


def settled(svc) -> bool:
    """Every outbox row delivered or dead."""
    return all(r["status"] in ("delivered", "dead") for r in svc.outbox())
