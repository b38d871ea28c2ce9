"""Prometheus metrics of the API: requests by route template and status, latency histogram.

Each app has its own :class:`CollectorRegistry` (``app.state.metrics``), so two apps in one
process (tests, the demo) never share counters. ``GET /metrics`` needs an admin key:
scrape with ``authorization: {credentials_file: ...}`` in the Prometheus job.
"""
from __future__ import annotations

import time

from fastapi import APIRouter, FastAPI, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram
from prometheus_client import generate_latest

from ..deps import Admin

router = APIRouter(tags=["ops"])
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1.0, 2.5, 5.0, 10.0)
UNMATCHED = "<unmatched>"  # unknown paths share one label: label sets stay bounded
METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}


class ApiMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter("fenwei_api_requests_total", "HTTP requests answered",
                                ["method", "route", "status"], registry=self.registry)
        self.latency = Histogram("fenwei_api_request_seconds", "Time to the response head",
                                 ["method", "route"], buckets=BUCKETS, registry=self.registry)

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        method = method if method in METHODS else "OTHER"
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route).observe(seconds)


def install(app: FastAPI) -> None:
    """Give ``app`` its registry and the middleware that counts every request."""
    app.state.metrics = ApiMetrics()
    app.add_middleware(_Count, metrics=app.state.metrics)


class _Count:
    """Pure ASGI (a ``BaseHTTPMiddleware`` runs every response through a task group and a
    memory stream: 1-2 ms of CPU per request under load, more per streamed chunk)."""

    def __init__(self, app, metrics: ApiMetrics) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        t = time.perf_counter()
        head = [500, None]

        async def watched(message):
            if message["type"] == "http.response.start" and head[1] is None:
                head[0], head[1] = message["status"], time.perf_counter() - t
            await send(message)
        try:
            await self.app(scope, receive, watched)
        finally:
            route = getattr(scope.get("route"), "path", UNMATCHED)
            took = head[1] if head[1] is not None else time.perf_counter() - t
            self.metrics.observe(scope["method"], route, head[0], took)


@router.get("/metrics", response_class=Response,
            responses={200: {"content": {CONTENT_TYPE_LATEST.split(";")[0]: {}},
                             "description": "Prometheus text exposition format"}})
def metrics(request: Request, _: Admin) -> Response:
    """Prometheus text format: ``fenwei_api_requests_total{method,route,status}`` and
    ``fenwei_api_request_seconds`` (histogram). Admin key required."""
    return Response(generate_latest(request.app.state.metrics.registry),
                    media_type=CONTENT_TYPE_LATEST)
