"""``/health``, ``/ready`` and ``/metrics`` for a service process (a small HTTP thread).

``/health`` answers 200 with the service's stats as JSON while the process serves; ``/ready``
200 once it is ready (connected, migrated, trained: the service says), else 503; ``/metrics``
the Prometheus text of the given registries (the default registry when none is given).
Bound to loopback by default; port 0 picks a free one (``.port`` tells which).
"""
from __future__ import annotations

import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable, Iterable

from prometheus_client import REGISTRY, generate_latest

log = logging.getLogger(__name__)


class HealthServer:
    def __init__(self, name: str, *, stats: Callable[[], dict] = dict,
                 ready: Callable[[], bool] = lambda: True, registries: Iterable = (),
                 host: str = "127.0.0.1", port: int = 0) -> None:
        self.name, self.stats, self.ready = name, stats, ready
        self.registries = list(registries) or [REGISTRY]
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server's name
                outer._answer(self)

            def log_message(self, *args):
                pass
        self.server = ThreadingHTTPServer((host, port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever,
                                        name=f"{name}-health", daemon=True)

    def start(self) -> "HealthServer":
        self._thread.start()
        return self

    def _answer(self, h: BaseHTTPRequestHandler) -> None:
        path = h.path.split("?", 1)[0]
        try:
            if path == "/metrics":
                body = b"".join(generate_latest(r) for r in self.registries)
                return self._send(h, 200, body, "text/plain; version=0.0.4")
            if path == "/health":
                return self._json(h, 200, {"service": self.name, "status": "ok",
                                           **self.stats()})
            if path == "/ready":
                ok = bool(self.ready())
                return self._json(h, 200 if ok else 503,
                                  {"service": self.name, "ready": ok})
            return self._json(h, 404, {"detail": "not found"})
        except Exception as exc:  # noqa: BLE001 - a probe never kills the service
            log.exception("health endpoint %s failed", path)
            return self._json(h, 500, {"service": self.name, "error": str(exc)})

    def _json(self, h, code: int, doc: dict) -> None:
        self._send(h, code, json.dumps(doc, default=str).encode(), "application/json")

    @staticmethod
    def _send(h, code: int, body: bytes, ctype: str) -> None:
        h.send_response(code)
        h.send_header("Content-Type", ctype)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
