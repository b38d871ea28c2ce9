"""A city team silences its city from the dashboard (headless Chromium) and the silence takes
effect: a matching alert opens with its notification held, the page marks it, and ending the
silence from the page lets the alert service send the held notification at its next tick.

The stack is the real one in-process: an ``AlertService`` on a fresh PostgreSQL database with
an injected clock (no dispatcher or scheduler: the test calls ``ingest`` and ``tick``, so
nothing happens behind its back), the API app served by uvicorn on a loopback port, and the
page in headless Chromium (see tests/api/test_dashboard_browser.py for the browser setup).
"""
from __future__ import annotations

import json
import random
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest

from ._serve import served
from .test_dashboard_browser import _shot, _wait, browser  # noqa: F401  (a fixture)

T0 = datetime(2026, 12, 10, 0, tzinfo=timezone.utc)   # 08:00 CST
# One station rule, as tests/api/test_silence_routes.py: PM2.5 above 300 µg/m³ for an hour is
# red. Hourly readings of 350 arrive live, each 20 min after its hour (the clock at T0+20m,
# T0+1h20m, T0+2h20m: 20 min < RETROSPECTIVE_AFTER, 30 min, so none is retrospective): the
# condition begins at T0 and has held an hour at T0+1h, when the alert becomes active and its
# issue notification is due at once, were it not silenced.
RULES = {"rule": [{"id": "pm25-st", "type": "threshold", "kind": "air.realtime",
                   "parameter": "pm25", "per": "station", "duration": "1h",
                   "levels": [{"level": "red", "above": 300, "clear_below": 200}]}]}
NOW = T0 + timedelta(minutes=20)   # the silence is made now: 00:20Z, 08:20 CST
# The Xi'an team's duty: a weekly rotation of two from Monday 7 December 2026, 09:00 CST.
# NOW is Thursday 10 December 08:20 CST: 3 days 23 h 20 min after the start, less than a week,
# so the first member (张伟) is on duty, until 14 December 09:00 CST, then 李娜.
PEOPLE = [{"id": "zhang-wei", "name_zh": "张伟", "name_en": "Zhang Wei", "channels": []},
          {"id": "li-na", "name_zh": "李娜", "name_en": "Li Na", "channels": []}]
DUTY = [{"team": "team-xian", "rotation": {"start": "2026-12-07", "every": "7d",
                                          "people": ["zhang-wei", "li-na"]}}]
STATION = "1462A"   # a Xi'an station (the catalogue's)

pytestmark = pytest.mark.timeout(240)


@pytest.fixture
def stack(pg_url, catalogue, tmp_path):

    import alerts
    from alerts import AlertService, AlertSettings, ManualClock
    from api.app import create_app
    from api.auth import KeyStore, RateLimiter
    from core.store import open_store

    clock = ManualClock(NOW)
    recipients = json.loads((Path(alerts.__file__).parent / "data" / "recipients.json")
                            .read_text(encoding="utf-8"))
    recipients.update(people=PEOPLE, duty=DUTY)
    rfile = tmp_path / "recipients.json"
    rfile.write_text(json.dumps(recipients, ensure_ascii=False), encoding="utf-8")
    svc = AlertService(AlertSettings(state_url=pg_url, mqtt_enabled=False,
                                     recipients_file=rfile), rules=RULES,
                       clock=clock, rng=random.Random(1))
    svc.start(dispatch=False, schedule=False)
    keys = KeyStore(f"sqlite:///{tmp_path / 'keys.db'}")
    tokens = {"city-team": keys.create("xian-duty", "city-team", "xian")[1]}
    app = create_app(open_store("duckdb://:memory:", catalogue), catalogue, keys,
                     limiter=RateLimiter(1000, 1000), alert_service=svc,
                     clock=lambda: clock.now().timestamp())
    with served(app) as url:
        yield {"api": url, "svc": svc, "clock": clock, "tokens": tokens}
    svc.stop()


def _js(driver, script, *args):
    return driver.execute_script(script, *args)


def test_city_team_silences_its_city_from_the_dashboard(stack, browser):   # noqa: F811
    api, svc, clock, tokens = stack["api"], stack["svc"], stack["clock"], stack["tokens"]
    team = {"Authorization": f"Bearer {tokens['city-team']}"}
    browser.get(f"{api}/dashboard/?key={tokens['city-team']}&lang=zh")
    _wait(lambda: _js(browser, "return document.body.dataset.ready === '1'"), 30,
          "the dashboard to load")
    _wait(lambda: _js(browser, "return !document.getElementById('silence-form').hidden"), 10,
          "the new-silence form (a city team may silence its city)")
    assert browser.find_element("css selector", ".silences-panel h2").text == "静默（维护窗口）"
    # who is on duty for the key's team (GET /duty?team=team-xian): 张伟 until 14 December
    # 09:00 CST, then 李娜
    panel = browser.find_element("id", "duty").text
    assert panel.split("\n") == ["西安市应急指挥部办公室", "张伟 · 至 2026-12-14 09:00",
                                  "下一班: 李娜"], panel
    # the city team is offered its own city only (the API refuses any other: 403)
    city = _js(browser, "const s = document.querySelector('#silence-form [name=city]');"
                        "return [[...s.options].map((o) => o.value), s.disabled]")
    assert city == [["xian"], True], city
    assert _js(browser, "return document.querySelectorAll('#silences tr[data-silence-id]')"
                        ".length") == 0
    # fill the form as a user would: kind air.*, the station's matcher left out, 4 hours
    form = browser.find_element("id", "silence-form")
    form.find_element("name", "kind").send_keys("air.*")
    _js(browser, "const d = document.querySelector('#silence-form [name=duration]');"
                 "d.value = '240'; d.dispatchEvent(new Event('change'));")
    form.find_element("name", "reason").send_keys("1462A 站点校准维护")
    form.find_element("css selector", "button[type=submit]").click()
    sid = _wait(lambda: _js(browser, """
        const r = document.querySelector('#silences tr[data-silence-id][data-status="active"]');
        return r && r.dataset.silenceId;"""), 15, "the new silence to be listed in force")
    assert not browser.find_element("id", "silence-status").text
    # the API has it as the page sent it, made by the team's key
    (s,) = httpx.get(f"{api}/silences", headers=team).json()
    assert (s["id"], s["city"], s["kind"], s["station"], s["level"], s["created_by"],
            s["reason"]) == (sid, "xian", "air.*", None, None, "key:xian-duty", "1462A 站点校准维护")
    # 240 minutes from the API's clock (NOW = 2026-12-10 00:20Z): 00:20Z to 04:20Z
    assert datetime.fromisoformat(s["starts_at"]) == NOW
    assert datetime.fromisoformat(s["ends_at"]) == NOW + timedelta(minutes=240)
    row = browser.find_element("css selector", f'#silences tr[data-silence-id="{sid}"]')
    # CST on the page: 00:20Z is 08:20, 04:20Z is 12:20 on 10 December
    assert "2026-12-10 08:20 – 2026-12-10 12:20" in row.text, row.text
    assert "1462A 站点校准维护" in row.text and "key:xian-duty" in row.text

    # the silence takes effect: a red PM2.5 alert at a Xi'an station opens, its issue is held
    from core.wire import Reading
    for h in range(3):
        clock.set(T0 + timedelta(hours=h, minutes=20))
        svc.ingest([Reading(STATION, "xian", "air", T0 + timedelta(hours=h), "PT1H",
                            {"pm25": 350.0})])
    (alert,) = svc.alerts(open_only=True)
    assert (alert["state"], alert["level"], alert["notified"], alert["held"],
            alert["retrospective"]) == ("active", "red", False, "issued", False)
    assert svc.outbox(alert_id=alert["id"]) == [], "nothing sent while silenced"
    held = [r for r in svc.audit(alert["id"]) if r["action"] == "suppressed"]
    assert len(held) == 1 and sid in held[0]["reason"], held
    # the page shows the alert active and held by that silence
    browser.find_element("id", "refresh").click()
    _wait(lambda: _js(browser, "const r = document.querySelector(`#alerts tr[data-alert-id="
                               "\"${arguments[0]}\"]`); return r && r.dataset.silenced",
                      alert["id"]) == sid, 15, "the alert to show as silenced")
    badge = browser.find_element("css selector",
                                 f'#alerts tr[data-alert-id="{alert["id"]}"] .silenced')
    assert badge.text.startswith("已静默") and "2026-12-10 12:20" in badge.text, badge.text
    assert browser.find_element("css selector", f'#alerts tr[data-alert-id="{alert["id"]}"]'
                                ).get_attribute("data-state") == "active"
    # its details: the held notification in the audit trail; the team adds a note there
    browser.find_element("css selector", f'button.details[data-alert-id="{alert["id"]}"]').click()
    _wait(lambda: _js(browser, "return document.querySelectorAll(`tr[data-detail-of=\""
                               "${arguments[0]}\"] tr[data-action=suppressed]`).length",
                      alert["id"]) == 1, 15, "the audit trail with the held notification")
    note = browser.find_element("css selector", f'form.note-form[data-alert-id="{alert["id"]}"]')
    note.find_element("name", "note").send_keys("已通知运维，校准后复核")
    note.find_element("css selector", "button[type=submit]").click()
    _wait(lambda: _js(browser, "return document.querySelectorAll(`tr[data-detail-of=\""
                               "${arguments[0]}\"] tr[data-action=note]`).length",
                      alert["id"]) == 1, 15, "the note in the audit trail")
    notes = [r for r in httpx.get(f"{api}/alerts/{alert['id']}", headers=team).json()["audit"]
             if r["action"] == "note"]
    assert [(r["actor"], r["reason"]) for r in notes] == [("key:xian-duty",
                                                           "已通知运维，校准后复核")]
    _shot(browser, "dashboard-silenced.png")
    # the same in English
    browser.find_element("id", "lang").click()
    _wait(lambda: browser.find_element("css selector", ".silences-panel h2").text
          == "Silences (maintenance windows)", 5, "English labels")
    assert browser.find_element("css selector", f'#alerts tr[data-alert-id="{alert["id"]}"] '
                                ".silenced").text.startswith("silenced")
    assert browser.find_element("css selector", f'button.expire[data-silence-id="{sid}"]'
                                ).text == "End silence"
    assert browser.find_element("id", "duty").text.split("\n") == [
        "Xi'an emergency team", "Zhang Wei · until 2026-12-14 09:00", "next: Li Na"]

    # ended from the page: the silence is over, the page no longer marks the alert
    clock.advance(timedelta(minutes=10))
    browser.find_element("css selector", f'button.expire[data-silence-id="{sid}"]').click()
    _wait(lambda: not _js(browser, "return document.querySelector("
                                   "`#silences tr[data-silence-id=\"${arguments[0]}\"]`)", sid),
          15, "the ended silence to leave the list of silences in force")
    assert _js(browser, "return document.querySelector(`#alerts tr[data-alert-id="
                        "\"${arguments[0]}\"]`).dataset.silenced", alert["id"]) == ""
    (s,) = httpx.get(f"{api}/silences", params={"all": "true"}, headers=team).json()
    assert s["status"] == "expired" and s["expired_by"] == "key:xian-duty", s
    # ended at the clock's now: T0+2h20m + 10 min = 02:30Z
    assert datetime.fromisoformat(s["ends_at"]) == T0 + timedelta(hours=2, minutes=30)
    trail = httpx.get(f"{api}/silences/{sid}/audit", headers=team).json()
    assert [(r["action"], r["actor"]) for r in trail] == [
        ("silence_created", "key:xian-duty"), ("silence_expired", "key:xian-duty")]
    # the alert is still active: the held issue goes out at the service's next tick
    svc.tick()
    (alert,) = svc.alerts(open_only=True)
    assert (alert["state"], alert["notified"], alert["held"]) == ("active", True, None)
    sent = svc.outbox(alert_id=alert["id"])
    assert sent and {r["event"] for r in sent} == {"issued"}, sent
    _shot(browser, "dashboard-silence-ended.png")
    browser.find_element("id", "lang").click()   # back to Chinese for the next test
