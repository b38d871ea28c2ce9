"""The wheel, installed into a fresh virtual environment, runs every command and draws charts.

One module-scoped fixture copies the working tree (no tests, no build/ left-overs, only
ECharts from node_modules), builds the wheel from the copy with pip (setup.py copies ECharts
into the package), makes a venv and installs the wheel there, dependencies from the package
index (pip's cache makes it quick after the first time). Everything then runs from a
directory outside the source tree, so nothing can be imported from the checkout.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import tomllib
import zipfile
from pathlib import Path

import httpx
import pytest

from core.localservers import free_port

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

ROOT = Path(__file__).resolve().parents[1]
NPM_ECHARTS = ROOT / "api" / "dashboard" / "node_modules" / "echarts"
ECHARTS_FILES = ("dist/echarts.min.js", "package.json", "LICENSE", "NOTICE")
SKIP = shutil.ignore_patterns(".git", ".venv", "build", "dist", "*.egg-info", "__pycache__",
                              "tests", "node_modules", "vendor", ".pytest_cache",
                              ".hypothesis", "test-artifacts", "*.duckdb", "*.duckdb.wal")

# Walks the installed CLI in one interpreter (each `fenwei` start imports every service,
# several seconds on a busy machine) and prints a JSON line per command: its --help result.
HELP_WALKER = """
import json, sys
import click, typer.main
from click.testing import CliRunner
import core.cli
sys.argv = ["fenwei", "--help"]
try:
    core.cli.main()            # registers every sub-command, prints the top-level help
except SystemExit:
    pass
runner = CliRunner()
root = typer.main.get_command(core.cli.app)
def walk(cmd, path):
    res = runner.invoke(root, [*path, "--help"], prog_name="fenwei")
    print(json.dumps({"path": path, "code": res.exit_code, "out": res.output}))
    for name, sub in sorted(getattr(cmd, "commands", {}).items()):
        walk(sub, [*path, name])
walk(root, [])
"""


def _run(args, **kw) -> subprocess.CompletedProcess:
    kw.setdefault("timeout", 300)
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, **kw)


def _check(res: subprocess.CompletedProcess, what: str) -> str:
    assert res.returncode == 0, f"{what} failed ({res.returncode}):\n{res.stdout}\n{res.stderr}"
    return res.stdout


def _copy_source(dst: Path, with_echarts: bool = True) -> Path:
    shutil.copytree(ROOT, dst, ignore=SKIP)
    if with_echarts:
        for name in ECHARTS_FILES:
            target = dst / "api" / "dashboard" / "node_modules" / "echarts" / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(NPM_ECHARTS / name, target)
    return dst


def _build_wheel(src: Path, out: Path) -> subprocess.CompletedProcess:
    return _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", out, src])


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    missing = [n for n in ECHARTS_FILES if not (NPM_ECHARTS / n).is_file()]
    assert not missing, f"ECharts not installed in {NPM_ECHARTS} ({missing}): run scripts/setup"
    tmp = tmp_path_factory.mktemp("packaging")
    src = _copy_source(tmp / "src")
    _check(_build_wheel(src, tmp / "wheels"), "building the wheel")
    wheel = next((tmp / "wheels").glob("fenwei-*.whl"))
    venv = tmp / "venv"
    _check(_run([sys.executable, "-m", "venv", venv]), "python -m venv")
    _check(_run([venv / "bin" / "python", "-m", "pip", "install", "-q", "--no-compile", wheel],
                timeout=480), "pip install of the wheel")
    outside = tmp / "elsewhere"
    outside.mkdir()
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME") and not k.startswith("FENWEI_")}
    env.update(PATH=f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}", COLUMNS="200",
               FENWEI_STORE_URL=f"duckdb:///{tmp}/f.duckdb", FENWEI_STATE_URL=f"sqlite:///{tmp}/s.db")
    return {"wheel": wheel, "venv": venv, "cwd": outside, "env": env, "tmp": tmp}


def _in_venv(installed, *args, **kw) -> subprocess.CompletedProcess:
    return _run(args, cwd=installed["cwd"], env=installed["env"], **kw)


def test_wheel_carries_echarts_and_no_node_modules(installed):
    names = zipfile.ZipFile(installed["wheel"]).namelist()
    assert not [n for n in names if "node_modules" in n]
    for name in ECHARTS_FILES:
        assert f"api/dashboard/vendor/echarts/{name}" in names
    for data in ("alerts/migrations/versions/0001_initial.py", "alerts/data/CAP-v1.2.xsd",
                 "firmware_sim/scenarios/winter-episode.toml", "core/aqi/breakpoints.json",
                 "api/dashboard/index.html", "api/dashboard/app.js", "api/dashboard/style.css"):
        assert data in names


def test_packages_are_imported_from_the_venv_not_the_checkout(installed):
    code = ("import json, importlib; print(json.dumps({m: importlib.import_module(m).__file__ "
            "for m in ['core', 'edge', 'ingest', 'alerts', 'forecasting', 'api', "
            "'firmware_sim', 'stack', 'stack.demo']}))")
    files = json.loads(_check(_in_venv(installed, installed["venv"] / "bin" / "python", "-c",
                                       code), "imports"))
    venv = installed["venv"].resolve()
    for module, file in files.items():
        path = Path(file).resolve()
        assert path.is_relative_to(venv), f"{module} imported from {path}, not the venv"
        assert not path.is_relative_to(ROOT), f"{module} imported from the checkout"


def test_every_command_answers_help(installed):
    fenwei = installed["venv"] / "bin" / "fenwei"
    top = _check(_in_venv(installed, fenwei, "--help"), "fenwei --help")
    assert "demo" in _check(_in_venv(installed, fenwei, "demo", "--help"), "fenwei demo --help")
    doc = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    for name in doc["project"]["entry-points"]["fenwei.commands"]:
        assert re.search(rf"│ {re.escape(name)} ", top), f"`fenwei {name}` missing from --help"
    walked = [json.loads(line) for line in _check(
        _in_venv(installed, installed["venv"] / "bin" / "python", "-c", HELP_WALKER),
        "walking the CLI").splitlines() if line.startswith("{")]
    assert len(walked) > 20, walked
    bad = [f"fenwei {' '.join(w['path'])}: exit {w['code']}\n{w['out']}" for w in walked
           if w["code"] != 0 or "unavailable" in w["out"] or "cannot load" in w["out"]]
    assert not bad, "\n".join(bad)


def test_api_serves_the_dashboard_with_packaged_echarts(installed):
    port = free_port()
    log = (installed["tmp"] / "api.log").open("w")
    proc = subprocess.Popen([installed["venv"] / "bin" / "fenwei", "api", "run", "--port",
                             str(port)], cwd=installed["cwd"], env=installed["env"],
                            stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            assert proc.poll() is None, (installed["tmp"] / "api.log").read_text()
            try:
                if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the API did not answer /health in 90 s"
            time.sleep(0.5)
        page = httpx.get(f"{base}/dashboard/", timeout=10)
        assert page.status_code == 200
        src = re.search(r'<script src="([^"]*echarts[^"]*)"', page.text)
        assert src, page.text
        js = httpx.get(base + src.group(1), timeout=30)
        assert js.status_code == 200, js.text
        assert len(js.content) > 500_000 and b"echarts" in js.content
        assert js.content == (NPM_ECHARTS / "dist" / "echarts.min.js").read_bytes()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


def test_build_without_echarts_fails_saying_so(installed):
    src = _copy_source(installed["tmp"] / "src-no-echarts", with_echarts=False)
    res = _build_wheel(src, installed["tmp"] / "wheels-no-echarts")
    assert res.returncode != 0
    assert "ECharts for the dashboard is missing" in res.stdout + res.stderr
