"""``[stack] restart_backoff_max`` (``FENWEI_STACK_RESTART_BACKOFF_MAX``) caps the delay
before a crashed service is started again."""
from __future__ import annotations

import sys
import time

import pytest
from typer.testing import CliRunner

import stack.supervisor as sup
from core.settings import load_settings


def _stack(tmp_path, backoff_max: float) -> sup.Stack:
    settings = load_settings(None, mqtt_url="mqtt://127.0.0.1:1",
                             store_url="influxdb://127.0.0.1:1/x",
                             state_url=f"sqlite:///{tmp_path / 'state.db'}")
    return sup.Stack(settings=settings, data_dir=tmp_path, api_port=0, hj212_port=0,
                     sl651_port=0, notify_webhook=None, scenario=None, speed=1.0,
                     duration=None, seed=0, stations=None, config=None,
                     restart_backoff_max=backoff_max)


def test_a_crashing_service_is_restarted_within_the_configured_maximum(tmp_path):
    st = _stack(tmp_path, 2.0)
    assert {s.backoff_max for s in st.services.values()} == {2.0}
    svc = st.services["ingest"]
    svc.argv = [sys.executable, "-c", "raise SystemExit(3)"]    # dies at once, every time
    delays = []
    for _ in range(8):       # 0.5 s doubling: without the cap the 8th would wait up to 64 s
        svc.start()
        assert svc.proc.wait(30) == 3
        before = time.monotonic()
        svc.died()
        delays.append(svc.next_start - before)
    assert svc.restarts == 8
    assert max(delays) <= 2.0 + 0.05, delays
    # the delays grew to the cap: half of it at least, once the doubling passed it
    assert min(delays[3:]) >= 1.0 - 0.05, delays


@pytest.mark.parametrize("how", ["env", "file"])
def test_stack_up_passes_the_setting_to_every_service(tmp_path, monkeypatch, how):
    seen = {}

    def up(self) -> int:                 # no processes: only the wiring is under test
        seen.update({n: s.backoff_max for n, s in self.services.items()})
        return 0
    monkeypatch.setattr(sup.Stack, "up", up)
    args = ["--store-url", "influxdb://127.0.0.1:1/x", "--mqtt-url", "mqtt://127.0.0.1:1",
            "--state-url", f"sqlite:///{tmp_path / 'state.db'}", "--data-dir",
            str(tmp_path / "data")]
    if how == "env":
        monkeypatch.setenv("FENWEI_STACK_RESTART_BACKOFF_MAX", "5s")
    else:
        cfg = tmp_path / "fenwei.toml"
        cfg.write_text('[stack]\nrestart_backoff_max = "5s"\n')
        args += ["--config", str(cfg)]
    r = CliRunner().invoke(sup.app, args)
    assert r.exit_code == 0, r.output
    assert seen and set(seen.values()) == {5.0}, seen


def test_a_bad_restart_backoff_max_is_refused_by_name(tmp_path, monkeypatch):
    monkeypatch.setenv("FENWEI_STACK_RESTART_BACKOFF_MAX", "soon")
    r = CliRunner().invoke(sup.app, ["--store-url", "influxdb://127.0.0.1:1/x",
                                     "--data-dir", str(tmp_path)])
    assert r.exit_code == 2 and "FENWEI_STACK_RESTART_BACKOFF_MAX" in r.output, r.output
