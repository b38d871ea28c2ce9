"""Throwaway Mosquitto, InfluxDB and PostgreSQL server processes on free loopback ports.

Used by the test harness and the benchmarks (which need servers they can stop and restart).
The binaries come from Debian's ``mosquitto``, ``influxdb`` and ``postgresql`` packages
(scripts/setup).
"""
from __future__ import annotations

import atexit
import os
import pwd
import random
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


def _ephemeral_range() -> tuple[int, int]:
    try:
        lo, hi = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(lo), int(hi)
    except (OSError, ValueError):
        return 32768, 60999


def free_port() -> int:
    """A loopback port free now, for a server started next.

    Chosen at random below the kernel's ephemeral range: a port from that range (what
    binding port 0 gives) can be taken by any outgoing connection before the server binds
    it, which busy test runs hit; below it only another chosen port can collide.
    """
    lo = _ephemeral_range()[0]
    rng = random.SystemRandom()
    for _ in range(200) if lo > 11000 else ():
        port = rng.randrange(10000, lo)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
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


def which(name: str, extra: tuple[str, ...] = ("/usr/sbin", "/usr/bin")) -> str:
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
    """A Mosquitto broker with persistence, anonymous access unless given password/ACL files.

    ``extra_config`` lines go at the end of ``mosquitto.conf``: e.g. another ``listener``
    with its TLS settings (the first listener, on ``port``, stays plain MQTT).
    """

    name = "mosquitto"

    def __init__(self, workdir=None, port=None, *, password_file: Path | None = None,
                 acl_file: Path | None = None, max_queued: int = 1_000_000,
                 extra_config: tuple[str, ...] | list[str] = ()) -> None:
        super().__init__(workdir, port)
        self.password_file, self.acl_file, self.max_queued = password_file, acl_file, max_queued
        self.extra_config = list(extra_config)

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
        lines += self.extra_config
        conf.write_text("\n".join(lines) + "\n")
        return [which("mosquitto"), "-c", str(conf)]


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
        return [which("influxd"), "-config", str(conf)]

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


def pg_bindir() -> Path:
    """The directory of PostgreSQL's server binaries (initdb, postgres): on PATH, else
    Debian's newest ``/usr/lib/postgresql/<version>/bin``."""
    found = shutil.which("initdb")
    if found:
        return Path(found).parent

    def version(initdb: Path) -> tuple[int, ...]:
        return tuple(int(p) for p in initdb.parts[-3].split(".") if p.isdigit())

    installed = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=version)
    if not installed:
        raise ServerError("PostgreSQL not installed: run scripts/setup (Debian package postgresql)")
    return installed[-1].parent


class PostgreSQL(_Server):
    """A PostgreSQL cluster of its own: trust authentication, listening on 127.0.0.1 only,
    fsync off. ``url`` is the server's base URL, without a database.

    initdb and postgres refuse to run as root: as root both run as ``run_as`` (the user
    Debian's package creates), and the cluster lives in a temp directory of its own owned by
    that user (removed with this object), since the work directory is usually out of its
    reach (pytest's are mode 0700). Otherwise the cluster is ``<workdir>/data``.
    """

    name = "postgresql"

    def __init__(self, workdir=None, port=None, *, run_as: str = "postgres") -> None:
        super().__init__(workdir, port)
        self.user = None
        self.data = self.dir / "data"
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            try:
                self.user = pwd.getpwnam(run_as)
            except KeyError:
                raise ServerError(f"running as root, PostgreSQL needs the user {run_as!r}: "
                                  "run scripts/setup (Debian package postgresql)") from None
            self.data = Path(tempfile.mkdtemp(prefix="fenwei-postgresql-"))
            os.chown(self.data, self.user.pw_uid, self.user.pw_gid)
            weakref.finalize(self, shutil.rmtree, self.data, ignore_errors=True)

    @property
    def url(self) -> str:
        return f"postgresql+psycopg2://postgres@127.0.0.1:{self.port}"

    def _as_user(self, argv: list[str]) -> list[str]:
        if self.user is None:
            return argv
        return [which("setpriv"), f"--reuid={self.user.pw_uid}", f"--regid={self.user.pw_gid}",
                "--clear-groups", "--", *argv]

    def _initdb(self) -> None:
        self.data.mkdir(parents=True, exist_ok=True)
        argv = [str(pg_bindir() / "initdb"), "-D", str(self.data), "-U", "postgres",
                "--auth=trust", "--encoding=UTF8", "--locale=C.UTF-8", "--no-sync"]
        with open(self.log, "ab") as log:
            done = subprocess.run(self._as_user(argv), stdout=log, stderr=subprocess.STDOUT,
                                  cwd=self.data)
        if done.returncode:
            tail = self.log.read_text(errors="replace")[-1500:]
            raise ServerError(f"initdb exited with {done.returncode}\n{tail}")

    def _argv(self) -> list[str]:
        if not (self.data / "PG_VERSION").exists():
            self._initdb()
        settings = {"listen_addresses": "127.0.0.1", "port": self.port,
                    "unix_socket_directories": self.data, "fsync": "off",
                    "synchronous_commit": "off", "full_page_writes": "off"}
        options = [arg for k, v in settings.items() for arg in ("-c", f"{k}={v}")]
        return self._as_user([str(pg_bindir() / "postgres"), "-D", str(self.data), *options])

    def _wait_ready(self, timeout: float) -> None:
        import psycopg2  # a dependency of fenwei's state store; only this class needs it here

        deadline = time.monotonic() + timeout
        while True:
            if self.proc is not None and self.proc.poll() is not None:
                raise ServerError(f"postgres exited with {self.proc.returncode}")
            try:
                psycopg2.connect(host="127.0.0.1", port=self.port, user="postgres",
                                 dbname="postgres", connect_timeout=2).close()
                return
            except psycopg2.OperationalError as exc:
                if time.monotonic() > deadline:
                    raise ServerError(f"postgres not accepting connections after {timeout}s: "
                                      f"{str(exc).strip()}") from None
            time.sleep(0.1)

    def stop(self, kill: bool = False) -> None:
        """Fast shutdown (SIGINT: sessions are ended, then a checkpoint), or with ``kill`` an
        immediate one (SIGQUIT); the base class's SIGTERM would wait for every client to leave."""
        if self.running:
            self.proc.send_signal(signal.SIGQUIT if kill else signal.SIGINT)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)  # its backends too (own session)
        super().stop(kill=True)
