"""The dashboard in headless Chromium against ``fenwei demo``, driven as a user would.

Needs Debian ``chromium`` and ``chromium-driver`` (scripts/setup installs them) and the
``selenium`` bindings; Selenium is pointed at those binaries so nothing is downloaded. Under
CI=true a missing browser is a failure, never a skip. Screenshots go to test-artifacts/.

The demo runs the packaged winter episode joined on its third day (the same episode, the
scenario's start moved to 2026-12-13 00:00 CST; the simulator's six-day spin-up has built the
basin's pollution by then) without training a forecast model (``--no-forecast-model``): the
warning rules grade persistence forecasts of the stored data, so the first warnings come once
about a simulated day has been stored, i.e. a little while after the page is open, and not
after minutes of model training (see docs/services/dashboard.md, "Tests").
"""
from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from .test_demo import _read_until, _start

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
IN_CI = os.environ.get("CI", "").lower() == "true"
# Simulated seconds per real second: a simulated day of data (what persistence needs before
# it grades) takes ~50 s, long enough for the page to be open before the first warning.
SPEED = os.environ.get("FENWEI_DASHBOARD_TEST_SPEED", "1800")
WINTER = Path(__file__).resolve().parents[2] / "firmware_sim" / "scenarios" / "winter-episode.toml"
JOIN_AT = "2026-12-13T00:00:00+08:00"
STATIONS = 17
# The first warnings come about 25 simulated hours in (~50 s at 1800); on a CPU-starved machine
# the periodic rules lag the simulated clock, hence the margin. The wait ends at the event.
LIVE_WAIT_S = float(os.environ.get("FENWEI_DASHBOARD_TEST_WAIT", "180"))
GREY = "#BBBBBB"
BANDS = [(50, "#00E400"), (100, "#FFFF00"), (150, "#FF7E00"), (200, "#FF0000"),
         (300, "#99004C"), (float("inf"), "#7E0023")]

pytestmark = pytest.mark.timeout(300)


def _need(ok: bool, what: str) -> None:
    if ok:
        return
    if IN_CI:
        pytest.fail(f"{what} (scripts/setup installs it)", pytrace=False)
    pytest.skip(f"{what}; run scripts/setup")


def aqi_colour(aqi) -> str:
    """The standard's colour for an AQI value, computed here independently of the page."""
    if aqi is None:
        return GREY
    return next(c for top, c in BANDS if aqi <= top)


def _hex(colour: str | None) -> str | None:
    """'rgb(0, 228, 0)' or '#00e400' -> '#00E400'."""
    if not colour:
        return None
    m = re.fullmatch(r"rgba?\((\d+),\s*(\d+),\s*(\d+)(?:,\s*[\d.]+)?\)", colour.strip())
    if m:
        return "#" + "".join(f"{int(v):02X}" for v in m.groups())
    return colour.strip().upper()


def winter_joined_on_day_three(folder: Path) -> Path:
    """The packaged winter episode, its start moved to JOIN_AT (onset kept where it was)."""
    text = WINTER.read_text(encoding="utf-8")
    start = re.search(r'^start = "([^"]+)"$', text, re.M).group(1)
    onset_h = int(re.search(r'^onset = "\+(\d+)h"', text, re.M).group(1))
    from datetime import datetime, timedelta
    onset = (datetime.fromisoformat(start) + timedelta(hours=onset_h)).isoformat()
    for rx, repl in ((r'^name = "[^"]+"$', 'name = "winter-episode-day3"'),
                     (r'^start = "[^"]+"$', f'start = "{JOIN_AT}"'),
                     (r'^duration = "7d"$', 'duration = "5d"'),
                     (r'^onset = "[^"]+"', f'onset = "{onset}"')):
        text, n = re.subn(rx, repl, text, count=1, flags=re.M)
        assert n == 1, f"{WINTER} changed: no line matches {rx}"
    path = folder / "winter-episode-day3.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("dashdemo")
    # one air station per city (the simulator's first 17 are those, no river gauges): every
    # city has data and the demo does the least work, so its rules keep up with the clock
    proc = _start(tmp, "--stations", str(STATIONS), "--speed", SPEED, "--seed", "5",
                  "--scenario", str(winter_joined_on_day_three(tmp)), "--no-forecast-model")
    seen: list[str] = []
    try:
        api = _read_until(proc, r"^API: (http://\S+)", 60, seen).group(1)
        m = None
        try:
            m = _read_until(proc, r"^Dashboard: (http://\S+)", 5, seen)
        except AssertionError:
            pass
        keys_line = next((ln for ln in seen if ln.startswith("Keys: ")), None)
        keys_path = keys_line.split(" ", 1)[1].strip() if keys_line else \
            _read_until(proc, r"^Keys: (\S+)", 30, seen).group(1)
        keys = json.loads(Path(keys_path).read_text())
        # the demo's output goes on being read into ``seen`` (_read_until's reader): a full
        # pipe would block whichever of its threads writes next and stall the chain
        yield {"api": api, "dashboard": m.group(1) if m else None, "keys": keys, "seen": seen}
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:  # the test is over; do not wait on a slow shutdown
            proc.kill()
            proc.wait(timeout=10)


def _demo_tail(demo, n: int = 12) -> str:
    """The demo's last summary line and its last other lines (errors, warnings)."""
    lines = list(demo["seen"])
    summary = [ln for ln in lines if ln.startswith("sim ")][-1:]
    return "".join([ln for ln in lines if not ln.startswith("sim ")][-n:] + summary)


@pytest.fixture(scope="module")
def browser():
    _need(Path(CHROMIUM).exists(), f"no Chromium at {CHROMIUM}")
    _need(Path(CHROMEDRIVER).exists(), f"no chromedriver at {CHROMEDRIVER}")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        _need(False, "the selenium package is not installed")
    os.environ.setdefault("SE_OFFLINE", "true")  # Selenium Manager must never download
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1600,1500", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--disable-quic",
                "--disable-extensions", "--lang=zh-CN"):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    # a browser far from Beijing: every time on the page must still read as CST
    service = Service(CHROMEDRIVER, env={**os.environ, "TZ": "America/New_York"})
    driver = webdriver.Chrome(service=service, options=opts)
    driver.set_script_timeout(20)
    yield driver
    driver.quit()


def _wait(predicate, timeout: float, what: str, interval: float = 0.5):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what} (last: {last!r})")


def _shot(driver, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    driver.save_screenshot(str(path))
    return path


def _open(driver, demo, role: str) -> str:
    url = demo["dashboard"] or f"{demo['api']}/dashboard/"
    driver.get(f"{url}?key={demo['keys'][role]}")
    _wait(lambda: driver.execute_script("return document.body.dataset.ready === '1'"), 30,
          "the dashboard to load")
    marker = secrets.token_hex(4)  # survives only while the page is not reloaded
    driver.execute_script("window.__notReloaded = arguments[0]", marker)
    return marker


def _fills_at(driver, x: float, y: float) -> list[str]:
    return driver.execute_script("""
        return document.elementsFromPoint(arguments[0], arguments[1])
          .filter((e) => e instanceof SVGElement)
          .map((e) => e.getAttribute('fill') || getComputedStyle(e).fill);""", x, y)


def test_demo_prints_the_dashboard_address(demo):
    assert demo["dashboard"] == f"{demo['api']}/dashboard/", "".join(demo["seen"])


# The live test runs before the markers test on purpose: its page must be open before the
# scenario's first warning is raised (about a simulated day after the demo starts).
FIND_NEW_XIAN_WARNING = """
    const [before] = arguments;
    const cards = [...document.querySelectorAll('#warnings .warning[data-alert-id]')];
    return cards.map((n) => window.fenwei.state.alerts.find((a) => a.id === n.dataset.alertId))
      .filter((a) => a && a.state === 'active' && !before.includes(a.id)
              && a.kind === 'air.warning'   // Xi'an's own (a regional one needs every city)
              && window.fenwei.alertCities(a).includes('xian')
              && window.fenwei.state.events.some((e) => e.alert_id === a.id))
      .map((a) => a.id);"""


def _events_for(driver, alert_id: str) -> list[str]:
    return driver.execute_script(
        "return window.fenwei.state.events.filter((e) => e.alert_id === arguments[0])"
        ".map((e) => e.event)", alert_id)


def _click(browser, selector, attempts=5):
    """Click what `selector` finds; the page redraws a row whose alert changed (a level up
    arrives live), so a handle can go stale between finding and clicking: find it again."""
    for attempt in range(attempts):
        try:
            browser.find_element("css selector", selector).click()
            return
        except Exception as exc:  # selenium is imported lazily (the test skips without it)
            if type(exc).__name__ != "StaleElementReferenceException" or attempt == attempts - 1:
                raise


def test_warning_appears_live_and_city_team_acknowledges_it(demo, browser):
    api, keys = demo["api"], demo["keys"]
    team = {"Authorization": f"Bearer {keys['city-team']}"}
    me = httpx.get(f"{api}/me", headers=team).json()
    assert (me["role"], me["scope"]) == ("city-team", "xian"), me
    marker = _open(browser, demo, "city-team")
    _wait(lambda: browser.execute_script("return document.body.dataset.stream") == "live", 30,
          "the event stream to connect")
    before = browser.execute_script("return window.fenwei.state.alerts.map((a) => a.id)")
    t0 = time.monotonic()
    # a warning covering Xi'an (the key's city) arrives by the event stream, page not reloaded
    try:
        ids = _wait(lambda: browser.execute_script(FIND_NEW_XIAN_WARNING, before),
                    LIVE_WAIT_S, "a new warning covering Xi'an to appear live", interval=1.0)
    except AssertionError as exc:
        try:
            served = [(a["kind"], a["subject"], a["level"], a["state"], a["id"] in before)
                      for a in httpx.get(f"{api}/alerts", params={"state": "all"}, timeout=30,
                                         headers=team).json() if "xian" in a["cities"]]
        except httpx.HTTPError as err:
            served = f"not served ({err!r})"
        raise AssertionError(f"{exc}\nXi'an alerts served (kind, subject, level, state, "
                             f"already there when the page opened): {served}\ndemo output:\n"
                             + _demo_tail(demo)) from None
    alert_id = ids[0]
    print(f"warning {alert_id} shown {time.monotonic() - t0:.0f} s after the page opened")
    assert browser.execute_script("return window.__notReloaded") == marker, "page was reloaded"
    assert set(_events_for(browser, alert_id)) & {"issued", "updated", "escalated"}
    alert = browser.execute_script(
        "return window.fenwei.state.alerts.find((a) => a.id === arguments[0])", alert_id)
    assert alert["kind"] in ("air.warning", "air.regional"), alert
    # the warnings panel: its level and the time left
    # read the card and the row in one script: the page re-renders them live, so element
    # handles taken one call apart may already be stale
    snap = browser.execute_script("""
        const id = arguments[0];
        const card = document.querySelector(`#warnings [data-alert-id="${id}"]`);
        const row = document.querySelector(`#alerts tr[data-alert-id="${id}"]`);
        return {level: card && card.dataset.level,
                chip: card && card.querySelector('.chip').textContent.trim(),
                left: card && card.querySelector('.time-left').textContent.trim(),
                rowState: row && row.dataset.state};""", alert_id)
    assert snap["level"] == alert["level"], snap
    assert alert["level"] in ("yellow", "orange", "red")
    chip = snap["chip"]
    assert chip == {"yellow": "黄色", "orange": "橙色", "red": "红色"}[alert["level"]], chip
    assert alert["expires_at"], f"a warning carries its expected end: {alert}"
    left = snap["left"]
    assert re.fullmatch(r"\d+天\d+小时|\d+小时\d+分|\d+分", left), \
        f"a warning shows its time left (not expired, not unknown), got {left!r}"
    # the alert list has the row with an acknowledge button for this key
    assert snap["rowState"] == "active", snap
    # the 7-day chart (Xi'an by default) follows the data clock, not the page's opening: it
    # shows the hours stored since, up to the simulated now
    _wait(lambda: browser.execute_script(
        "const h = document.getElementById('history');"
        "return Number(h.dataset.points) > 0 && document.getElementById('history-empty').hidden"
        " && Date.parse(h.dataset.now) >= Date.parse(arguments[0])", alert["observed_at"]),
        30, "the 7-day chart to show Xi'an's hours up to the warning's time")
    _shot(browser, "dashboard-warning.png")
    # a key without the right is refused by the API (and never offered the button, below)
    refused = httpx.post(f"{api}/alerts/{alert_id}/ack", json={"responder": "x"},
                         headers={"Authorization": f"Bearer {keys['inspector']}"})
    assert refused.status_code == 403, refused.text
    # acknowledge in the page as the Xi'an city team
    browser.find_element("id", "responder").clear()
    browser.find_element("id", "responder").send_keys("张值班")
    _click(browser, f'button.ack[data-alert-id="{alert_id}"]')
    try:
        _wait(lambda: browser.execute_script(
            "const a = window.fenwei.state.alerts.find((x) => x.id === arguments[0]);"
            "return a ? a.state : 'gone'", alert_id) == "acknowledged", 30,
            "the page to show the warning acknowledged")
    except AssertionError as exc:   # what the page says went wrong
        raise AssertionError(f"{exc}; row status: " + str(browser.execute_script(
            "return [window.fenwei.state.rowStatus[arguments[0]] || null, "
            "window.fenwei.state.alerts.find((x) => x.id === arguments[0])]", alert_id))
            + f"; API: {httpx.get(f'{api}/alerts/{alert_id}', headers=team).json()['audit']}"
        ) from None
    assert not browser.find_elements("css selector", f'button.ack[data-alert-id="{alert_id}"]')
    assert browser.execute_script(
        "return window.fenwei.state.rowStatus[arguments[0]] || null", alert_id) is None
    acked = browser.find_element("css selector", f'#alerts tr[data-alert-id="{alert_id}"] .acked')
    assert "张值班" in acked.text, acked.text
    # (the "acknowledged" event reaches other viewers through the dispatcher's outbox, behind
    # every delivery queued before it: on a busy machine that takes longer than this test)
    assert browser.execute_script("return window.__notReloaded") == marker, "page was reloaded"
    _shot(browser, "dashboard-acknowledged.png")
    # the API agrees, with the key's identity in the audit trail
    detail = httpx.get(f"{api}/alerts/{alert_id}", headers=team).json()
    assert detail["acknowledged_by"] == f"张值班 (key {me['name']})", detail["acknowledged_by"]
    trail = [r for r in detail["audit"] if r["action"] == "acknowledged"]
    assert len(trail) == 1 and trail[0]["to_state"] == "acknowledged", detail["audit"]
    assert me["name"] in trail[0]["actor"] and "api:key:" in trail[0]["actor"], trail
    # the scenario runs on: a higher level since the acknowledgement needs a new one (the
    # platform re-activates it), and the audit trail says so; otherwise it stays acknowledged
    after = detail["audit"][detail["audit"].index(trail[0]) + 1:]
    if detail["state"] != "acknowledged":
        assert detail["state"] == "active" and any(
            r["action"] == "level_up" and r["to_state"] == "active" for r in after), detail
    # an inspector sees the alerts but no acknowledge button anywhere
    _open(browser, demo, "inspector")
    rows = browser.find_elements("css selector", "#alerts tr[data-alert-id]")
    assert rows, "the inspector sees the open alerts"
    assert not browser.find_elements("css selector", "button.ack")
    assert browser.find_element("css selector", f'#alerts tr[data-alert-id="{alert_id}"]'
                                ).get_attribute("data-state") == detail["state"]


def test_station_markers_in_the_standards_colours(demo, browser):
    api, key = demo["api"], demo["keys"]["city-team"]
    auth = {"Authorization": f"Bearer {key}"}
    air = {s["id"] for s in httpx.get(f"{api}/stations", params={"kind": "air"},
                                      headers=auth).json()}
    current = httpx.get(f"{api}/aqi/current", params={"scope": "station"}, headers=auth)
    if current.status_code == 200:  # wait until the derived AQI covers the demo's stations
        _wait(lambda: len(httpx.get(f"{api}/aqi/current", params={"scope": "station"},
                                    headers=auth).json()) >= STATIONS - 2, 60, "current AQI")
    _open(browser, demo, "city-team")
    assert "?key=" not in browser.current_url, "the key must leave the address bar"
    # the page's own data, then what is drawn at each station's place
    page_aqi = browser.execute_script(
        "return Object.fromEntries(Object.entries(window.fenwei.state.aqiStation)"
        ".map(([k, v]) => [k, v.aqi]))")
    markers = browser.execute_script("return window.fenwei.markers()")
    assert {m["id"] for m in markers} == air
    coloured = 0
    for m in markers:
        want = aqi_colour(page_aqi.get(m["id"]))
        assert _hex(m["colour"]) == want, (m, page_aqi.get(m["id"]))
        fills = {_hex(f) for f in _fills_at(browser, m["x"], m["y"])}
        assert want in fills, f"{m['id']}: nothing drawn in {want} at its place, only {fills}"
        coloured += want != GREY
    if current.status_code == 200:
        served = {r["id"]: r for r in current.json()}
        assert coloured >= STATIONS - 2, "the demo's stations show a category, not 'no data'"
        for sid, row in served.items():  # the API's own colour agrees with the standard
            assert _hex(row.get("colour")) == aqi_colour(row["aqi"]), row
    # times on the page are China Standard Time although the browser runs in New York
    assert browser.execute_script("return new Date().getTimezoneOffset()") in (240, 300)
    assert browser.find_element("id", "clock").text.endswith("CST")
    got = browser.execute_async_script("""const done = arguments[arguments.length - 1];
        import('/dashboard/util.js').then((u) => done(u.cstText('2026-11-20T00:00:00Z')));""")
    assert got == "2026-11-20 08:00"
    # nothing is fetched from anywhere else
    origins = browser.execute_script(
        "return performance.getEntriesByType('resource').map((e) => new URL(e.name).origin)")
    assert set(origins) <= {api}, origins
    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"
              and "Failed to load resource" not in e["message"]]  # optional endpoints may 404
    assert not errors, errors
    assert browser.find_element("tag name", "h1").text.startswith("汾渭平原")
    _shot(browser, "dashboard.png")
    browser.find_element("id", "lang").click()
    _wait(lambda: browser.find_element("tag name", "h1").text.startswith("Fen-Wei"), 5,
          "English labels")
    _shot(browser, "dashboard-en.png")
    browser.find_element("id", "lang").click()
