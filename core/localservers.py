"""Throwaway Mosquitto and InfluxDB server processes on free loopback ports.

Used by the test harness and the benchmarks (which need servers they can stop and restart).
The binaries come from Debian's ``mosquitto`` and ``influxdb`` packages (scripts/setup).
"""
from __future__ import annotations

import atexit
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import weakref
from pathlib import Path

import httpx


class ServerError(RuntimeError):
    """A server binary is missing or the server did not come up."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, timeout: float = 15.0, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise ServerError(f"server exited with {proc.returncode} before listening on {port}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise ServerError(f"nothing listening on 127.0.0.1:{port} after {timeout}s")


def _which(name: str, extra: tuple[str, ...] = ("/usr/sbin", "/usr/bin")) -> str:
    found = shutil.which(name) or next(
        (f"{d}/{name}" for d in extra if os.access(f"{d}/{name}", os.X_OK)), None)
    if not found:
        raise ServerError(f"{name} not installed: run scripts/setup (Debian package)")
    return found


_RUNNING: "weakref.WeakSet[_Server]" = weakref.WeakSet()


@atexit.register
def _stop_leftovers() -> None:
    """Servers still running when the interpreter exits (a run interrupted before its
    fixtures' teardown) are stopped: they run in their own session, so no terminal signal
    reaches them."""
    for server in list(_RUNNING):
        try:
            server.stop(kill=True)
        except Exception:  # noqa: BLE001 - best effort at exit
            pass


class _Server:
    name = "server"

    def __init__(self, workdir: Path | None = None, port: int | None = None) -> None:
        self.dir = Path(workdir or tempfile.mkdtemp(prefix=f"fenwei-{self.name}-"))
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.proc: subprocess.Popen | None = None
        self.log = self.dir / f"{self.name}.log"

    def _argv(self) -> list[str]:
        raise NotImplementedError

    def start(self, timeout: float = 20.0) -> "_Server":
        if self.running:
            return self
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(self._argv(), stdout=log, stderr=subprocess.STDOUT,
                                         start_new_session=True)
        _RUNNING.add(self)
        try:
            self._wait_ready(timeout)
        except ServerError as exc:
            self.stop()
            tail = self.log.read_text(errors="replace")[-1500:]
            raise ServerError(f"{self.name} did not start: {exc}\n{tail}") from None
        return self

    def _wait_ready(self, timeout: float) -> None:
        wait_port(self.port, timeout, self.proc)

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, kill: bool = False) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None
        _RUNNING.discard(self)

    def restart(self) -> None:
        self.stop()
        self.start()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


class Mosquitto(_Server):
    """A Mosquitto broker with persistence, anonymous access unless given password/ACL files."""

    name = "mosquitto"

    def __init__(self, workdir=None, port=None, *, password_file: Path | None = None,
                 acl_file: Path | None = None, max_queued: int = 1_000_000) -> None:
        super().__init__(workdir, port)
        self.password_file, self.acl_file, self.max_queued = password_file, acl_file, max_queued

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def _argv(self) -> list[str]:
        conf = self.dir / "mosquitto.conf"
        lines = [f"listener {self.port} 127.0.0.1", "persistence true",
                 f"persistence_location {self.dir}/", "autosave_interval 1",
                 f"max_queued_messages {self.max_queued}", "max_inflight_messages 1000",
                 "log_dest stderr", "log_type error", "log_type warning"]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            # as root, mosquitto switches to user "mosquitto", which cannot write the
            # persistence file in our temp dir: persistence silently fails
            lines.append("user root")
        if self.password_file:
            lines += ["allow_anonymous false", f"password_file {self.password_file}"]
        else:
            lines.append("allow_anonymous true")
        if self.acl_file:
            lines.append(f"acl_file {self.acl_file}")
        conf.write_text("\n".join(lines) + "\n")
        return [_which("mosquitto"), "-c", str(conf)]


class InfluxDB(_Server):
    """An InfluxDB 1.x server (Debian's influxd) with its data in a temp directory."""

    name = "influxdb"

    def __init__(self, workdir=None, port=None) -> None:
        super().__init__(workdir, port)
        self.rpc_port = free_port()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def store_url(self, db: str = "fenwei") -> str:
        return f"influxdb://127.0.0.1:{self.port}/{db}"

    def _argv(self) -> list[str]:
        conf = self.dir / "influxdb.conf"
        d = self.dir
        conf.write_text(f"""reporting-disabled = true
bind-address = "127.0.0.1:{self.rpc_port}"
[meta]
  dir = "{d}/meta"
[data]
  dir = "{d}/data"
  wal-dir = "{d}/wal"
  query-log-enabled = false
  cache-max-memory-size = "1g"
  index-version = "inmem"
[coordinator]
  max-select-point = 0
  max-select-series = 0
[http]
  enabled = true
  bind-address = "127.0.0.1:{self.port}"
  log-enabled = false
  max-row-limit = 0
  max-body-size = 0
  max-concurrent-write-limit = 0
[monitor]
  store-enabled = false
[continuous_queries]
  enabled = false
[logging]
  level = "warn"
""")
        return [_which("influxd"), "-config", str(conf)]

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise ServerError(f"influxd exited with {self.proc.returncode}")
            try:
                if httpx.get(f"{self.url}/ping", timeout=0.5).status_code == 204:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise ServerError(f"influxd not answering /ping after {timeout}s")
