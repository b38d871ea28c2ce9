"""``fenwei config check``: validate the settings file, then try every server it names.

One line per check, passwords masked::

    ok   config fenwei.toml
    ok   mqtt  mqtt://ingest:***@127.0.0.1:1883
    FAIL store influxdb://127.0.0.1:8086/fenwei: connection refused

Exit status: 0 all passed, 1 a server check failed, 2 the settings are invalid.
"""
from __future__ import annotations

import os
import smtplib
import socket
import ssl
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional
from urllib.parse import parse_qs, unquote, urlsplit

import typer

from .config import Config, ConfigError, load_config
from .settings import Settings, mask_url

app = typer.Typer(help="Check the settings file and the servers it names.",
                  no_args_is_help=True, add_completion=False)


@dataclass(frozen=True)
class Check:
    """The outcome of trying one server."""

    kind: str            # mqtt, store, state, smtp
    url: str
    ok: bool
    detail: str = ""     # why it failed, or a note when it passed

    def line(self) -> str:
        head = f"{'ok' if self.ok else 'FAIL':<4} {self.kind:<5} {mask_url(self.url)}"
        if not self.detail:
            return head
        return f"{head}: {self.detail}" if not self.ok else f"{head} ({self.detail})"


class CheckFailed(Exception):
    """A server check failed; the message says why (no secrets)."""


def servers(config: Config) -> list[str]:
    """The shared broker, store and state database, then what each section names (deduped);
    builds every section (raises :class:`ConfigError`)."""
    config.validate()
    s = config.settings
    urls = [s.mqtt_url, s.store_url, s.state_url]
    for name in config.names:
        hook = getattr(config.section(name), "servers", None)
        urls += hook() if hook else []
    return list(dict.fromkeys(urls))


def run_checks(config: Config, timeout: float = 5.0) -> list[Check]:
    """Try every server of ``config`` at once, each bounded by ``timeout`` seconds."""
    urls = servers(config)
    with ThreadPoolExecutor(max_workers=max(1, len(urls))) as pool:
        return list(pool.map(lambda u: check_url(u, config.settings, timeout), urls))


def check_url(url: str, settings: Settings, timeout: float = 5.0) -> Check:
    """Try one server named by its URL (the MQTT TLS files come from ``settings``)."""
    scheme = url.split("://", 1)[0]
    kind, func = _CHECKS.get(scheme, ("?", None))
    if func is None:
        return Check(kind, url, False, f"no check for {scheme}:// URLs")
    try:
        note = func(url, settings, timeout)
    except Exception as exc:  # noqa: BLE001 - every failure becomes one line
        return Check(kind, url, False, _reason(exc, url, timeout))
    return Check(kind, url, True, note or "")


def _reason(exc: BaseException, url: str, timeout: float) -> str:
    chain, e = [], exc
    while e is not None and len(chain) < 5:
        chain.append(e)
        e = e.__cause__ or e.__context__
    text = str(exc) or type(exc).__name__
    if any(isinstance(x, ConnectionRefusedError) for x in chain) or \
            "connection refused" in text.lower():
        text = "connection refused"
    elif any(isinstance(x, (TimeoutError, socket.timeout)) for x in chain) or \
            "timed out" in text.lower() or "timeout" in type(exc).__name__.lower():
        text = f"timed out after {timeout:g}s"
    elif any(isinstance(x, socket.gaierror) for x in chain):
        text = f"unknown host {urlsplit(url).hostname!r}"
    secret = urlsplit(url).password
    text = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
    return text.replace(unquote(secret), "***").replace(secret, "***") if secret else text


# -- the checks: each returns an optional note, or raises ----------------------------------

def _mqtt(url: str, settings: Settings, timeout: float) -> str | None:
    import paho.mqtt.client as mqtt

    u = urlsplit(url)
    ws, tls = u.scheme in ("ws", "wss"), u.scheme in ("mqtts", "wss")
    port = u.port or {"mqtt": 1883, "mqtts": 8883, "ws": 80, "wss": 443}[u.scheme]
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, transport="websockets" if ws else "tcp",
                         client_id=f"fenwei-check-{os.getpid()}-{time.monotonic_ns() % 10**6}")
    client.connect_timeout = timeout
    if ws:
        client.ws_set_options(path=u.path or "/mqtt")
    if u.username:
        client.username_pw_set(unquote(u.username), unquote(u.password or ""))
    if tls or settings.mqtt_ca_file:
        client.tls_set(ca_certs=_opt(settings.mqtt_ca_file), certfile=_opt(settings.mqtt_cert_file),
                       keyfile=_opt(settings.mqtt_key_file))
    result: dict = {}
    client.on_connect = lambda _c, _u, _f, rc, _p: result.setdefault("rc", rc)
    client.connect(u.hostname or "127.0.0.1", port, keepalive=max(5, int(timeout) + 5))
    deadline = time.monotonic() + timeout
    try:
        while "rc" not in result and time.monotonic() < deadline:
            if client.loop(timeout=0.1) != mqtt.MQTT_ERR_SUCCESS and "rc" not in result:
                raise CheckFailed("the broker closed the connection before CONNACK")
    finally:
        client.disconnect()
    if "rc" not in result:
        raise CheckFailed(f"no CONNACK within {timeout:g}s")
    if result["rc"].is_failure:
        raise CheckFailed(f"connection refused by the broker: {result['rc']}")
    return None


def _opt(path: Path | None) -> str | None:
    return str(path) if path else None


def _influx(url: str, _settings: Settings, timeout: float) -> str | None:
    import httpx

    u = urlsplit(url)
    base = f"{'https' if u.scheme.endswith('s') else 'http'}://{u.hostname}:{u.port or 8086}"
    db = unquote(u.path.lstrip("/")) or "fenwei"
    v2 = u.scheme.startswith("influxdb2")
    headers = {"Authorization": f"Token {unquote(u.password or '')}"} if v2 else {}
    auth = (unquote(u.username), unquote(u.password or "")) if u.username and not v2 else None
    with httpx.Client(base_url=base, timeout=timeout, headers=headers, auth=auth) as http:
        ping = http.get("/ping")
        if ping.status_code != 204:
            raise CheckFailed(f"/ping answered HTTP {ping.status_code}, not InfluxDB?")
        if v2:
            org = parse_qs(u.query).get("org", ["fenwei"])[0]
            r = http.get("/api/v2/buckets", params={"name": db, "org": org})
            _status(r)
            if not r.json().get("buckets"):
                raise CheckFailed(f"bucket {db!r} does not exist in org {org!r}")
            return None
        r = http.get("/query", params={"q": "SHOW DATABASES"})
        _status(r)
        series = (r.json().get("results") or [{}])[0].get("series") or [{}]
        names = {row[0] for row in series[0].get("values") or []}
        if db not in names:
            raise CheckFailed(f"database {db!r} does not exist")
    return None


def _status(r) -> None:
    if r.status_code in (401, 403):
        raise CheckFailed(f"authentication failed (HTTP {r.status_code})")
    if r.status_code >= 300:
        raise CheckFailed(f"HTTP {r.status_code}: {r.text[:120]}")


def _writable(folder: Path) -> str:
    """The nearest existing folder of ``folder`` accepts a new file, else CheckFailed."""
    existing = folder.resolve()
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    try:
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as exc:
        raise CheckFailed(f"folder {existing} is not writable: {exc.strerror}") from exc
    return f"folder {folder} writable" if existing == folder.resolve() else \
        f"folder {folder} will be created under {existing}"


def _duckdb(url: str, _settings: Settings, _timeout: float) -> str | None:
    path = unquote(url[len("duckdb://"):]) or ":memory:"
    if path == ":memory:":
        return "in memory"
    if Path(path).exists() and not os.access(path, os.W_OK):
        raise CheckFailed(f"file {path} is not writable")
    return _writable(Path(path).parent)


def _state(url: str, _settings: Settings, timeout: float) -> str | None:
    import sqlalchemy as sa
    from sqlalchemy.pool import NullPool

    if url.startswith("sqlite"):
        path = sa.engine.make_url(url).database or ":memory:"
        if path == ":memory:":
            return "in memory"
        if not Path(path).exists():
            return f"{_writable(Path(path).parent)}; the file will be created"
        args: dict = {"timeout": timeout}
    else:
        url = url.replace("postgresql://", "postgresql+psycopg2://", 1)
        args = {"connect_timeout": max(1, round(timeout))}
    engine = sa.create_engine(url, connect_args=args, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except sa.exc.DBAPIError as exc:
        raise CheckFailed(str(exc.orig).strip().splitlines()[0]) from None
    finally:
        engine.dispose()
    return None


def _smtp(url: str, _settings: Settings, timeout: float) -> str | None:
    u = urlsplit(url)
    cls = smtplib.SMTP_SSL if u.scheme == "smtps" else smtplib.SMTP
    with cls(u.hostname or "127.0.0.1", u.port or (465 if u.scheme == "smtps" else 25),
             timeout=timeout) as smtp:
        code, _msg = smtp.ehlo()
        if code != 250:
            raise CheckFailed(f"EHLO answered {code}")
        if u.scheme == "smtp+starttls":
            smtp.starttls(context=ssl.create_default_context())
    return None


_CHECKS: dict[str, tuple[str, Callable | None]] = {
    **{s: ("mqtt", _mqtt) for s in ("mqtt", "mqtts", "ws", "wss")},
    **{s: ("store", _influx) for s in ("influxdb", "influxdbs", "influxdb2", "influxdb2s")},
    "duckdb": ("store", _duckdb),
    **{s: ("state", _state) for s in ("sqlite", "postgresql", "postgresql+psycopg2")},
    **{s: ("smtp", _smtp) for s in ("smtp", "smtps", "smtp+starttls")},
}


# -- the command ----------------------------------------------------------------------------

@app.callback()
def _main() -> None:
    """Check the settings file and the servers it names."""


@app.command("check")
def check(config: Optional[Path] = typer.Option(None, "--config", help="Settings file "
                                                "(default $FENWEI_CONFIG)."),
          timeout: float = typer.Option(5.0, help="Seconds each server check may take.")) -> None:
    """Validate the settings (every section and key), then try every server they name."""
    where = str(config or os.environ.get("FENWEI_CONFIG") or "(no file: defaults and FENWEI_*)")
    try:
        cfg = load_config(config)
        cfg.validate()
    except ConfigError as exc:
        for problem in exc.problems:
            typer.echo(f"FAIL config {problem}")
        raise typer.Exit(2) from None
    typer.echo(f"ok   config {where}")
    results = run_checks(cfg, timeout)
    for result in results:
        typer.echo(result.line())
    raise typer.Exit(0 if all(r.ok for r in results) else 1)


__all__ = ["Check", "app", "check_url", "run_checks", "servers"]
