"""The dashboard's files as the API serves them, and its pure JavaScript run under Node."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.auth import KeyStore
from api.dashboard import ASSETS, DASHBOARD_DIR, ECHARTS_JS
from core.store import open_store

OWN_FILES = [n for n in ASSETS if not n.startswith("vendor/")]
JS_MODULES = [n for n in OWN_FILES if n.endswith(".js")]


@pytest.fixture(scope="module")
def client(tmp_path_factory, catalogue):
    d = tmp_path_factory.mktemp("dash")
    store = open_store("duckdb://:memory:", catalogue)
    return TestClient(create_app(store, catalogue, KeyStore(f"sqlite:///{d / 'k.db'}")))


def test_page_is_served_without_a_key_and_locks_itself_to_this_origin(client):
    r = client.get("/dashboard/")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    csp = r.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "connect-src 'self'" in csp
    assert '<html lang="zh-CN">' in r.text
    assert client.get("/cities").status_code == 401  # the data still needs a key


def test_bare_path_redirects_to_the_page(client):
    r = client.get("/dashboard", follow_redirects=False)
    assert r.status_code == 308 and r.headers["location"] == "/dashboard/"


@pytest.mark.parametrize("name", sorted(ASSETS))
def test_every_asset_is_served_with_its_type(client, name):
    r = client.get(f"/dashboard/{name}")
    assert r.status_code == 200, f"{name}: {r.text[:200]} (vendor files come from scripts/setup)"
    want = {"html": "text/html", "js": "text/javascript", "css": "text/css"}[name.rsplit(".", 1)[1]]
    assert r.headers["content-type"].startswith(want)
    assert r.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize("path", [
    "/dashboard/nope.js", "/dashboard/_router.py", "/dashboard/__init__.py",
    "/dashboard/package.json", "/dashboard/node_modules/echarts/package.json",
    "/dashboard/..%2Fapp.py", "/dashboard/vendor/../_router.py", "/dashboard/%2e%2e/auth.py",
])
def test_only_listed_files_are_served(client, path):
    assert client.get(path).status_code == 404


def test_echarts_is_installed_locally_at_the_pinned_major():
    pinned = json.loads((DASHBOARD_DIR / "package.json").read_text())["dependencies"]["echarts"]
    installed = json.loads((ECHARTS_JS.parents[1] / "package.json").read_text())["version"]
    assert installed.split(".")[0] == pinned.split(".")[0] == "5"


@pytest.mark.parametrize("name", OWN_FILES)
def test_no_file_reaches_outside(name):
    text = (DASHBOARD_DIR / name).read_text(encoding="utf-8")
    assert not re.search(r"(https?:)?//[a-z0-9.-]+\.[a-z]{2,}/", text, re.I), \
        f"{name} refers to another host: everything must be served from here"


def test_index_references_only_listed_assets(client):
    html = client.get("/dashboard/").text
    refs = re.findall(r'(?:src|href)="/dashboard/([^"]+)"', html)
    assert refs and set(refs) <= set(ASSETS)


def test_modules_import_only_listed_modules():
    for name in JS_MODULES:
        text = (DASHBOARD_DIR / name).read_text(encoding="utf-8")
        for dep in re.findall(r'from "\./([^"]+)"', text):
            assert dep in ASSETS, f"{name} imports {dep}, which is not served"


# --- the page's pure logic, run under Node ------------------------------------------------

NODE = shutil.which("node")
needs_node = pytest.mark.skipif(NODE is None and os.environ.get("CI") != "true",
                                reason="node not installed (scripts/setup installs it)")


def _node(script: str, tz: str = "America/New_York") -> object:
    """Run an ES module snippet in the dashboard folder; it prints JSON."""
    out = subprocess.run([NODE or "node", "--input-type=module", "-e", script],
                         cwd=DASHBOARD_DIR, capture_output=True, text=True, timeout=60,
                         env={**os.environ, "TZ": tz})
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


@needs_node
@pytest.mark.parametrize("name", JS_MODULES)
def test_module_parses(name):
    out = subprocess.run([NODE or "node", "--check", str(DASHBOARD_DIR / name)],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr


# HJ 633: 0-50 #00E400, 51-100 #FFFF00, 101-150 #FF7E00, 151-200 #FF0000,
# 201-300 #99004C, >300 #7E0023; missing data is grey, never green.
COLOURS = [(0, "#00E400"), (50, "#00E400"), (51, "#FFFF00"), (100, "#FFFF00"),
           (101, "#FF7E00"), (150, "#FF7E00"), (151, "#FF0000"), (200, "#FF0000"),
           (201, "#99004C"), (300, "#99004C"), (301, "#7E0023"), (500, "#7E0023"),
           (650, "#7E0023"), (None, "#BBBBBB"), (-1, "#BBBBBB"), ("NaN", "#BBBBBB")]


@needs_node
def test_aqi_colours_follow_the_standard():
    values = json.dumps([v for v, _ in COLOURS])
    got = _node(f"""import {{ aqiColour }} from "./aqi.js";
        const v = {values}.map((x) => x === "NaN" ? NaN : x);
        console.log(JSON.stringify(v.map(aqiColour)));""")
    assert got == [c for _, c in COLOURS]


@needs_node
def test_chart_bands_match_the_marker_colours():
    got = _node("""import { visualPieces, aqiColour } from "./aqi.js";
        const ps = visualPieces();
        const inPiece = (v) => ps.find((p) => (p.gte === undefined || v >= p.gte) &&
          (p.gt === undefined || v > p.gt) && (p.lte === undefined || v <= p.lte));
        const vs = [0, 50, 51, 100, 101, 150, 151, 200, 201, 300, 301, 480];
        console.log(JSON.stringify(vs.map((v) => inPiece(v).color === aqiColour(v))));""")
    assert all(got)


@needs_node
def test_times_show_in_china_standard_time_whatever_the_local_zone():
    got = _node("""import { cstText, cstAxis, timeLeft, toMs } from "./util.js";
        console.log(JSON.stringify([
          cstText("2026-11-20T00:00:00Z"), cstText("2026-11-20T16:30:00Z", "en"),
          new Date(cstAxis("2026-11-20T00:00:00Z")).getUTCHours(),
          timeLeft(Date.parse("2026-11-21T03:05:00Z"), Date.parse("2026-11-20T00:00:00Z")),
          timeLeft(0, 1), timeLeft(toMs(null), 1), cstText(null)]));""")
    assert got == ["2026-11-20 08:00", "2026-11-21 00:30", 8,
                   {"expired": False, "d": 1, "h": 3, "m": 5},
                   {"expired": True, "d": 0, "h": 0, "m": 0}, None, "–"]


@needs_node
def test_both_languages_have_every_label():
    got = _node("""import fs from "node:fs";
        const src = fs.readFileSync("i18n.js", "utf8");
        const body = src.slice(src.indexOf("const TEXT"), src.indexOf("let current"));
        const TEXT = new Function(body.replace("const TEXT =", "return"))();
        const keys = (o, p = "") => Object.entries(o).flatMap(([k, v]) =>
          typeof v === "object" ? keys(v, p + k + ".") : [p + k]).sort();
        console.log(JSON.stringify([keys(TEXT.zh), keys(TEXT.en)]));""")
    assert got[0] == got[1]


@needs_node
@pytest.mark.parametrize("me,alert,can", [
    (None, {"subject": ["xian"], "state": "active"}, True),
    ({"role": "city-team", "scope": "xian"}, {"subject": ["xian"], "state": "active"}, True),
    ({"role": "city-team", "scope": "xian"}, {"subject": ["1462A"], "state": "active"}, True),
    ({"role": "city-team", "scope": "xian"}, {"subject": ["baoji"], "state": "active"}, False),
    ({"role": "city-team", "scope": "xian"}, {"subject": ["xian"], "state": "acknowledged"}, False),
    ({"role": "bureau", "scope": "Shaanxi"}, {"subject": ["baoji"], "state": "active"}, True),
    ({"role": "bureau", "scope": "Shanxi"}, {"subject": ["baoji"], "state": "active"}, False),
    ({"role": "inspector", "scope": None}, {"subject": ["xian"], "state": "active"}, False),
    ({"role": "admin", "scope": None}, {"subject": ["linfen"], "state": "pending"}, True),
    ({"role": "city-team", "scope": "weinan"}, {"subject": ["huaxian"], "state": "active"}, True),
], ids=["no-me-server-decides", "own-city", "own-station", "other-city", "already-acked",
        "bureau-province", "bureau-other-province", "inspector", "admin", "own-section"])
def test_acknowledge_button_follows_the_key(catalogue, me, alert, can):
    cat = {"cities": {k: {"province": c.province} for k, c in catalogue.cities.items()},
           "stations": {k: {"city": s.city} for k, s in catalogue.stations.items()},
           "sections": {k: {"city": s.city} for k, s in catalogue.sections.items()}}
    got = _node(f"""import {{ canAck }} from "./alerts.js";
        console.log(JSON.stringify(canAck({json.dumps(alert)}, {json.dumps(me)},
                                          {json.dumps(cat)})));""")
    assert got is can
