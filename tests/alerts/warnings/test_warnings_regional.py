"""Fen-Wei regional joint warning: N cities in overlapping windows → one grouped alert to every
affected team and provincial bureau, a minimum level on each city; API-style prompts."""
from __future__ import annotations

from datetime import timedelta

import pytest

from tests.alerts.platform.alerts_platform_helpers import recipients_file, settled, wait_until

from .helpers import seq

RULES = {"rule": [
    {"id": "air-regional", "type": "air_regional", "kind": "air.regional",
     "title_zh": "汾渭平原区域应急联动", "title_en": "Fen-Wei regional joint warning"},
    {"id": "air-warning", "type": "air_warning", "kind": "air.warning",
     "title_zh": "重污染天气预警", "title_en": "Heavy-pollution warning"},
]}
HOOKED = ["team-xian", "team-weinan", "team-linfen", "team-xianyang", "env-shaanxi",
          "env-shanxi", "env-henan", "fenwei-coordinator"]


@pytest.fixture
def hooked(tmp_path, receiver):
    return recipients_file(tmp_path, {r: [{"type": "webhook", "url": receiver.url}]
                                      for r in HOOKED})


def regional(svc):
    return [a for a in svc.alerts(open_only=True) if a["kind"] == "air.regional"]


def city_level(svc, city):
    rows = [a for a in svc.alerts(open_only=True, rule_id="air-warning")
            if a["subject"] == f"city:{city}"]
    return rows[0]["level"] if rows else None


def test_three_cities_raise_one_grouped_regional_warning(pg_url, make_service, forecasts,
                                                        receiver, hooked):
    # one body per alert and recipient: notification grouping (default 30 s) is another test's
    svc = make_service(RULES, state_url=pg_url, recipients=hooked, dispatch=True,
                       group_wait="0s", link_base_url="https://fenwei.example/api")
    forecasts.set("xian", seq((100, 24), (201, 48)))      # orange
    forecasts.set("weinan", seq((100, 30), (201, 24)))    # yellow, overlapping
    forecasts.set("linfen", seq((100, 20), (201, 60)))    # orange
    svc.run_periodic()
    (reg,) = regional(svc)
    assert (reg["level"], sorted(reg["cities"])) == ("orange", ["linfen", "weinan", "xian"])
    ev = reg["evidence"]
    assert ev["levels"] == {"linfen": "orange", "weinan": "yellow", "xian": "orange"}
    assert ev["forecasts"]["xian"]["model_id"] == "test-model-v1"
    # the minimum level reaches Weinan's own warning in the same run
    assert city_level(svc, "weinan") == "orange"
    (wn,) = [a for a in svc.alerts(rule_id="air-warning") if a["subject"] == "city:weinan"]
    assert wn["evidence"]["basis"] == "regional" and wn["evidence"]["own_level"] == "yellow"
    assert city_level(svc, "xianyang") is None
    assert wait_until(lambda: settled(svc) and len(svc.outbox()) > 0)
    got = [b for b in receiver.bodies() if b["alert_id"] == reg["id"]]
    assert sorted(b["recipient"]["id"] for b in got) == [
        "env-shaanxi", "env-shanxi", "fenwei-coordinator", "team-linfen", "team-weinan",
        "team-xian"]
    assert {b["event"] for b in got} == {"issued"} and len({b["seq"] for b in got}) == 1
    assert all("Ⅱ级" in b["text_zh"] and "临汾" in b["text_zh"] for b in got)
    # the city warnings link to the regional one: Weinan's was raised by it (own: yellow),
    # Xi'an's orange equals it; Xianyang is not part of it
    city = {b["subject"]["id"]: b for b in receiver.bodies() if b["rule"] == "air-warning"}
    assert city["city:weinan"]["regional"] == {
        "alert_id": reg["id"], "level": "orange", "subject": "region:fenwei", "source": "forecast",
        "issued_by": None, "raised": True,
        "url": f"https://fenwei.example/api/alerts/{reg['id']}"}
    assert city["city:xian"]["regional"]["alert_id"] == reg["id"]
    assert city["city:xian"]["regional"]["raised"] is False
    assert all(b["regional"] is None for b in got)        # the regional alert itself


@pytest.mark.parametrize("setup", [
    {"xian": seq((201, 48)), "linfen": seq((201, 48))},                        # only 2
    {"xian": seq((201, 48)), "linfen": seq((201, 48)),
     "weinan": seq((100, 72), (201, 24))},       # onset 72-23 = hour 49 > end 48: apart
], ids=["two cities", "windows apart"])
def test_no_regional_warning(make_service, forecasts, setup):
    svc = make_service(RULES)
    for city, aqi in setup.items():
        forecasts.set(city, aqi)
    svc.run_periodic()
    assert regional(svc) == []
    assert city_level(svc, "xian") == "orange"


def test_regional_lifts_with_its_cities(make_service, forecasts, clock):
    svc = make_service(RULES)
    for city in ("xian", "weinan", "linfen"):
        forecasts.set(city, seq((201, 24)))            # 24 ends = 47 h > 200: yellow
    svc.run_periodic()
    assert regional(svc)[0]["level"] == "yellow"
    forecasts.clear()                                      # clean for all 96 h
    clock.advance(timedelta(hours=1))
    svc.run_periodic()
    assert regional(svc) == [] and city_level(svc, "xian") is None


def test_prompt_has_the_same_effect(make_service, forecasts, clock, receiver, hooked):
    svc = make_service(RULES, recipients=hooked, dispatch=True, group_wait="0s")
    alert = svc.regional_prompt(level="orange", cities=["xian", "xianyang", "weinan"],
                                issued_by="汾渭平原大气污染防治协作小组办公室",
                                note="区域重污染过程", valid_hours=48)
    assert (alert["kind"], alert["level"], alert["state"]) == ("air.regional", "orange",
                                                               "active")
    assert alert["evidence"]["source"] == "prompt"
    assert wait_until(lambda: settled(svc) and len(svc.outbox()) > 0)
    got = [b for b in receiver.bodies() if b["alert_id"] == alert["id"]]
    assert sorted(b["recipient"]["id"] for b in got) == [
        "env-shaanxi", "fenwei-coordinator", "team-weinan", "team-xian", "team-xianyang"]
    assert "区域应急联动提示" in got[0]["text_zh"] and "Ⅱ级" in got[0]["text_zh"]
    svc.run_periodic()                                     # forecasts are clean everywhere
    assert {c: city_level(svc, c) for c in ("xian", "xianyang", "weinan", "linfen")} == \
        {"xian": "orange", "xianyang": "orange", "weinan": "orange", "linfen": None}
    clock.advance(timedelta(hours=49))                     # the prompt expires
    svc.run_periodic()
    assert regional(svc) == [] and city_level(svc, "xian") is None
    assert svc.alert(alert["id"])["state"] == "resolved"


def test_prompt_is_checked(make_service):
    svc = make_service(RULES)
    with pytest.raises(ValueError):
        svc.regional_prompt("purple", ["xian"], "x")
    with pytest.raises(ValueError):
        svc.regional_prompt("orange", ["atlantis"], "x")
