"""deploy/: the systemd units pass `systemd-analyze verify`, and the command line each one
runs is one the installed `fenwei` accepts.

`systemd-analyze verify` refuses an ExecStart binary that does not exist, so the units are
copied into a temporary directory with /opt/fenwei/venv/bin/fenwei replaced by this checkout's
.venv/bin/fenwei; nothing else is changed. It does not look the User= up (systemd 252 accepts
an unknown user at verify time; the user is resolved when the service starts), so the units
keep `User=fenwei` and no user is created. Every warning it prints (an unknown key, a bad
value) counts as a failure: it exits 0 on those.

The tool comes with Debian's `systemd` package (scripts/setup installs it). Without it the
verify test is skipped on a developer machine and fails under CI=true.
"""
from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
FENWEI = Path(sys.executable).parent / "fenwei"
INSTALLED = "/opt/fenwei/venv/bin/fenwei"
SERVICES = ("edge", "ingest", "alerts", "aqi", "forecast", "api")
UNITS = sorted(p.name for p in DEPLOY.glob("fenwei*.service")) + ["fenwei.target"]


def _systemd_analyze() -> str:
    tool = shutil.which("systemd-analyze")
    if tool is None:
        if os.environ.get("CI") == "true":
            pytest.fail("systemd-analyze is missing (Debian package systemd; scripts/setup)")
        pytest.skip("systemd-analyze is missing (Debian package systemd; scripts/setup)")
    return tool


def _directives(text: str) -> list[tuple[str, str]]:
    """(key, value) pairs of a unit file, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n\s*", " ", text)
    return [tuple(part.strip() for part in line.split("=", 1)) for line in text.splitlines()
            if "=" in line and not line.lstrip().startswith(("#", ";"))]


def _exec_start(unit: str) -> list[str]:
    [cmd] = [v for k, v in _directives((DEPLOY / unit).read_text()) if k == "ExecStart"]
    return shlex.split(cmd.replace("%i", "1"))


def test_one_unit_per_service_and_a_target():
    for name in SERVICES:
        assert f"fenwei-{name}.service" in UNITS
    assert "fenwei-ingest@.service" in UNITS and "fenwei.target" in UNITS


@pytest.mark.parametrize("unit", [u for u in UNITS if u.endswith(".service")])
def test_service_unit_runs_as_fenwei_with_hardening(unit):
    d = dict(_directives((DEPLOY / unit).read_text()))
    args = _exec_start(unit)
    assert args[0] == INSTALLED and args[2] == "run"
    assert args[args.index("--config") + 1] == "/etc/fenwei/fenwei.toml"
    expected = {"User": "fenwei", "Group": "fenwei", "Restart": "on-failure",
                "KillSignal": "SIGTERM", "StateDirectory": "fenwei", "NoNewPrivileges": "yes",
                "ProtectSystem": "strict", "ReadWritePaths": "/var/lib/fenwei",
                "PrivateTmp": "yes", "ProtectHome": "yes", "PartOf": "fenwei.target",
                "WantedBy": "fenwei.target"}
    assert {k: d.get(k) for k in expected} == expected
    assert "RestartSec" in d and int(d["TimeoutStopSec"].rstrip("s")) >= 30
    assert "network-online.target" in d["After"] and "network-online.target" in d["Wants"]
    assert "-/etc/fenwei/fenwei.env" in [v for k, v in _directives(
        (DEPLOY / unit).read_text()) if k == "EnvironmentFile"]


@pytest.fixture(scope="module")
def units_here(tmp_path_factory) -> Path:
    """The units with ExecStart pointing at this checkout's fenwei (see the docstring)."""
    assert FENWEI.is_file(), f"{FENWEI} is missing: run scripts/setup"
    out = tmp_path_factory.mktemp("units")
    for unit in UNITS:
        (out / unit).write_text((DEPLOY / unit).read_text().replace(INSTALLED, str(FENWEI)))
    # an instance of the template, as `systemctl start fenwei-ingest@1` would load it
    shutil.copyfile(out / "fenwei-ingest@.service", out / "fenwei-ingest@1.service")
    return out


@pytest.mark.parametrize("unit", [*UNITS, "fenwei-ingest@1.service"])
def test_systemd_analyze_verify(units_here, unit):
    tool = _systemd_analyze()
    res = subprocess.run([tool, "verify", "--man=no", str(units_here / unit)],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 0 and not res.stderr.strip() and not res.stdout.strip(), \
        f"systemd-analyze verify {unit}:\n{res.stdout}{res.stderr}"


# Parses each unit's arguments with the real CLI, in one interpreter: `--help` at the end
# stops before anything runs, but an option the command does not have still fails.
ARGS_CHECKER = """
import json, sys
import typer.main
from click.testing import CliRunner
import core.cli
cmds = json.loads(sys.stdin.read())
sys.argv = ["fenwei", "--help"]
try:
    core.cli.main()            # registers every sub-command
except SystemExit:
    pass
root = typer.main.get_command(core.cli.app)
for args in cmds:
    res = CliRunner().invoke(root, [*args, "--help"], prog_name="fenwei")
    print(json.dumps({"args": args, "code": res.exit_code, "out": res.output}))
"""


def test_every_exec_start_is_accepted_by_the_cli():
    cmds = [_exec_start(u)[1:] for u in UNITS if u.endswith(".service")]
    res = subprocess.run([sys.executable, "-c", ARGS_CHECKER], input=json.dumps(cmds),
                         capture_output=True, text=True, timeout=180, cwd=ROOT)
    assert res.returncode == 0, res.stderr
    results = [json.loads(line) for line in res.stdout.splitlines() if line.startswith("{")]
    assert len(results) == len(cmds)
    bad = [f"fenwei {' '.join(r['args'])}:\n{r['out']}" for r in results if r["code"] != 0]
    assert not bad, "\n".join(bad)


def test_sample_settings_file_is_valid():
    """deploy/fenwei.toml passes `fenwei config check` as far as the file goes: exit 2 means
    invalid settings; 1 (a server it names is not there, as on a test machine) is fine."""
    res = subprocess.run([str(FENWEI), "config", "check", "--config", str(DEPLOY / "fenwei.toml"),
                          "--timeout", "1"], capture_output=True, text=True, timeout=180,
                         cwd=DEPLOY, env={k: v for k, v in os.environ.items()
                                          if not k.startswith("FENWEI_")})
    assert res.returncode in (0, 1), res.stdout + res.stderr
    assert res.stdout.startswith("ok   config"), res.stdout + res.stderr
