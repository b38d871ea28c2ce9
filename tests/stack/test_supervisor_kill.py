"""kill -9 of ``fenwei stack up`` itself: no service outlives its supervisor (each child is
told SIGTERM by the kernel when the supervisor dies, PR_SET_PDEATHSIG, and drains), so a
restarted stack never finds an orphan holding its ports, its broker session or its store."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time

FENWEI = [sys.executable, "-m", "core.cli"]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:                                   # a zombie (exited, not yet reaped) is not alive
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_services_stop_when_the_supervisor_is_killed(tmp_path, mosquitto, influx_url, pg_url):
    argv = [*FENWEI, "stack", "up", "--api-port", "0", "--mqtt-url", mosquitto.url,
            "--store-url", influx_url, "--state-url", pg_url, "--data-dir", str(tmp_path)]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1",
                                 "FENWEI_FORECAST_REGISTRY_DIR": str(tmp_path / "models")})
    lines: list[str] = []
    ready = threading.Event()

    def read() -> None:
        for line in proc.stdout:
            lines.append(line)
            if line.startswith("API: "):      # printed once every service is ready
                ready.set()
    threading.Thread(target=read, daemon=True).start()
    try:
        assert ready.wait(180), "the stack did not come up:\n" + "".join(lines)
        pids = {m.group(1): int(m.group(2)) for m in
                (re.match(r"^Process (\S+) pid (\d+)$", ln.strip()) for ln in list(lines)) if m}
        assert {"ingest", "aqi", "forecast", "alerts", "api"} <= set(pids), lines
        assert all(_alive(p) for p in pids.values())
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        deadline = time.monotonic() + 90       # each drains and exits on its SIGTERM
        while any(_alive(p) for p in pids.values()) and time.monotonic() < deadline:
            time.sleep(0.2)
        left = {n: p for n, p in pids.items() if _alive(p)}
        assert not left, f"services outlived their supervisor: {left}"
    finally:
        if proc.poll() is None:
            proc.kill()
        for m in (re.match(r"^Process (\S+) pid (\d+)$", ln.strip()) for ln in list(lines)):
            if m and _alive(int(m.group(2))):
                os.kill(int(m.group(2)), signal.SIGKILL)
