"""The dashboard's silence, acknowledgement-progress, grouping and duty logic under Node.

Which alerts a silence holds must be what the alert service holds (docs/services/alerts.md,
"Silences": every matcher given holds; ``city`` is any of the alert's cities; ``*`` globs, as
Python's ``fnmatch.fnmatchcase``), and who may silence where is the API's rule (an admin
anywhere, a city team within its own city, a bureau within its province)."""
from __future__ import annotations

import fnmatch
import json
import warnings

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.api.test_dashboard import _node, needs_node


def _cat(catalogue) -> dict:
    return {"cities": {k: {"province": c.province} for k, c in catalogue.cities.items()},
            "stations": {k: {"city": s.city} for k, s in catalogue.stations.items()},
            "sections": {k: {"id": k, "station": s.station, "city": s.city}
                         for k, s in catalogue.sections.items()}}


def _js(catalogue, expr: str, **values) -> object:
    decl = "".join(f"const {k} = {json.dumps(v)};" for k, v in values.items())
    return _node(f"""import * as S from "./silences.js"; import * as A from "./alerts.js";
        import * as D from "./duty.js";
        const cat = {json.dumps(_cat(catalogue))}; {decl}
        console.log(JSON.stringify({expr}));""")


# --- globs: the page's fnmatch agrees with Python's ------------------------------------------

# pattern characters with a meaning (* ? [ ] ! - ^ and the backslash, literal in fnmatch)
# among a few plain ones; each example is 60 pairs checked in one Node run
ALPHABET = "ab.*?[]!-^\\"
pairs = st.lists(st.tuples(st.text(ALPHABET, max_size=7), st.text("ab.-[]!^\\", max_size=5)),
                 min_size=1, max_size=60)


@needs_node
@settings(max_examples=25, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pairs)
def test_glob_is_fnmatchcase(catalogue, cases):
    with warnings.catch_warnings():   # "[[" is a possible nested set to Python's re
        warnings.simplefilter("ignore", FutureWarning)
        want = [fnmatch.fnmatchcase(text, pattern) for pattern, text in cases]
    got = _js(catalogue, "cases.map(([p, t]) => S.glob(p, t))", cases=cases)
    assert got == want, [(c, g, w) for c, g, w in zip(cases, got, want) if g != w]


@needs_node
@pytest.mark.parametrize("pattern,text,match", [
    ("air.*", "air.realtime", True), ("air.*", "river.low_flow", False),
    ("[!]a]", "]", False), ("[!]a]", "b", True),      # "]" first in a set is one of it
    ("[b-a]x", "ax", False), ("[a-c]", "b", True),      # a reversed range matches nothing
    ("a[", "a[", True), ("x?y", "x.y", True),
], ids=["kind-glob", "kind-glob-no", "negated-bracket", "negated-other", "reversed-range",
        "range", "unclosed-bracket", "question"])
def test_glob_cases_worked_by_hand(catalogue, pattern, text, match):
    assert _js(catalogue, "S.glob(p, t)", p=pattern, t=text) is match


# --- which alerts a silence holds -------------------------------------------------------------

RED_1462A = {"rule": "pm25-st", "kind": "air.realtime", "subject": "station:1462A",
             "cities": ["xian"], "level": "red"}
REGIONAL = {"rule": "regional", "kind": "air.regional", "subject": "region:fenwei",
            "cities": ["xianyang", "xian", "linfen"], "level": "orange"}
GAUGE = {"rule": "flow", "kind": "river.low_flow", "subject": "station:lintong",
         "cities": ["xian"], "level": "yellow"}


@needs_node
@pytest.mark.parametrize("silence,alert,held", [
    ({"city": "xian", "kind": "air.*"}, RED_1462A, True),
    ({"city": "baoji", "kind": "air.*"}, RED_1462A, False),
    ({"city": "xian", "kind": "river.*"}, RED_1462A, False),
    ({"city": "xian", "level": "yellow"}, RED_1462A, False),
    ({"city": "xian", "station": "1462A"}, RED_1462A, True),
    ({"city": "xian", "station": "1463A"}, RED_1462A, False),
    ({"city": "x*"}, RED_1462A, True),
    ({"city": "linfen"}, REGIONAL, True),        # any of the alert's cities
    ({"station": "*"}, REGIONAL, False),         # a regional alert has no station
    ({"section": "lintong"}, GAUGE, True),       # the Lintong gauge is the Lintong section's
    ({"rule": "pm25-st", "subject": "station:1462A"}, RED_1462A, True),
    ({}, RED_1462A, True),                       # no matcher: everything
], ids=["city-and-kind", "other-city", "other-kind", "other-level", "station", "other-station",
        "city-glob", "regional-any-city", "regional-no-station", "gauge-section",
        "rule-and-subject", "match-all"])
def test_which_alerts_a_silence_holds(catalogue, silence, alert, held):
    s = {"id": "s1", "status": "active", "created_at": "2026-12-10T00:20:00+00:00", **silence}
    got = _js(catalogue, "S.silenceFor(alert, [s], cat)?.id ?? null", alert=alert, s=s)
    assert got == ("s1" if held else None)


@needs_node
def test_only_a_silence_in_force_holds_and_the_oldest_is_named(catalogue):
    ss = [{"id": "later", "status": "active", "created_at": "2026-12-10T01:00:00+00:00",
           "city": "xian"},
          {"id": "to-come", "status": "pending", "created_at": "2026-12-10T00:00:00+00:00",
           "city": "xian"},
          {"id": "ended", "status": "expired", "created_at": "2026-12-09T00:00:00+00:00",
           "city": "xian"},
          {"id": "first", "status": "active", "created_at": "2026-12-10T00:30:00+00:00",
           "kind": "air.*"}]
    assert _js(catalogue, "[S.silenceFor(alert, ss, cat)?.id, S.silenceFor(alert, "
               "ss.slice(1, 3), cat)]", alert=RED_1462A, ss=ss) == ["first", None]


# --- who may silence where (the API's table, tests/api/test_silence_routes.py) ----------------

@needs_node
@pytest.mark.parametrize("me,city,may", [
    ({"role": "admin", "scope": None}, "baoji", True),
    ({"role": "admin", "scope": None}, None, True),
    ({"role": "city-team", "scope": "xian"}, "xian", True),
    ({"role": "city-team", "scope": "xian"}, "baoji", False),
    ({"role": "city-team", "scope": "xian"}, None, False),
    ({"role": "bureau", "scope": "Shaanxi"}, "baoji", True),
    ({"role": "bureau", "scope": "Shaanxi"}, "linfen", False),   # Linfen is in Shanxi
    ({"role": "inspector", "scope": None}, "xian", False),
    (None, "xian", False),
], ids=["admin-city", "admin-anywhere", "team-own", "team-other", "team-no-city",
        "bureau-province", "bureau-other-province", "inspector", "no-me"])
def test_who_may_silence_where(catalogue, me, city, may):
    assert _js(catalogue, "S.canSilence(me, city, cat)", me=me, city=city) is may


@needs_node
def test_the_form_offers_the_keys_cities(catalogue):
    got = _js(catalogue, "[S.silenceCities(team, cat), S.silenceCities(bureau, cat).sort(), "
              "S.silenceCities(insp, cat), S.silenceCities(admin, cat).length]",
              team={"role": "city-team", "scope": "xian"},
              bureau={"role": "bureau", "scope": "Shanxi"},
              insp={"role": "inspector", "scope": None}, admin={"role": "admin"})
    shanxi = sorted(k for k, c in catalogue.cities.items() if c.province == "Shanxi")
    assert got == [["xian"], shanxi, [], len(catalogue.cities) + 1]   # admin: + "no city"


# --- acknowledgement progress, notification groups, the duty roster ---------------------------

@needs_node
@pytest.mark.parametrize("alert,done,pending", [
    ({**REGIONAL, "state": "active", "acknowledged_cities": []}, [],
     ["xianyang", "xian", "linfen"]),
    ({**REGIONAL, "state": "active", "acknowledged_cities": ["xian"]}, ["xian"],
     ["xianyang", "linfen"]),
    ({**REGIONAL, "state": "acknowledged", "acknowledged_by": "x",
      "acknowledged_cities": ["xian"]}, ["xianyang", "xian", "linfen"], []),
], ids=["none", "xian-done", "all-done"])
def test_ack_progress_per_city(catalogue, alert, done, pending):
    assert _js(catalogue, "A.ackProgress(a)", a=alert) == {"done": done, "pending": pending}


@needs_node
def test_alerts_group_by_rule_city_and_level(catalogue):
    # 3 Xi'an stations red under one rule are one group; the same rule at orange and the same
    # rule in Baoji are groups of their own; groups keep the list's (newest first) order
    rows = [{**RED_1462A, "id": "a"}, {**RED_1462A, "id": "b", "subject": "station:1463A"},
            {**RED_1462A, "id": "c", "level": "orange"},
            {**RED_1462A, "id": "d", "cities": ["baoji"], "subject": "station:1477A"},
            {**RED_1462A, "id": "e", "subject": "station:1464A"}]
    got = _js(catalogue, "A.groupAlerts(rows).map((g) => g.items.map((a) => a.id))", rows=rows)
    assert got == [["a", "b", "e"], ["c"], ["d"]]


# AlertState.duty()'s row (alerts/_state.py), as the duty route is expected to answer
DUTY_ROW = {"team": "team-xian", "name_zh": "西安市应急指挥部办公室", "name_en": "Xi'an emergency team",
            "role": "city_team", "city": "xian", "province": "Shaanxi",
            "at": "2026-12-10T10:00:00+08:00",
            "on_duty": {"id": "zhang", "name_zh": "张伟", "name_en": "Zhang Wei",
                        "source": "override", "since": "2026-12-10T09:00:00+08:00",
                        "until": "2026-12-11T09:00:00+08:00", "reason": "调班"},
            "next": {"id": "li", "name_zh": "李娜", "name_en": "Li Na", "source": "rotation",
                     "since": "2026-12-11T09:00:00+08:00", "until": None, "reason": ""}}


@needs_node
@pytest.mark.parametrize("doc,rows", [
    (None, []),
    ([DUTY_ROW], [{"team": "team-xian", "teamName": "西安市应急指挥部办公室", "person": "张伟",
                   "source": "override", "until": "2026-12-11T09:00:00+08:00",
                   "reason": "调班", "next": "李娜"}]),
    ({**DUTY_ROW, "on_duty": None, "next": None},
     [{"team": "team-xian", "teamName": "西安市应急指挥部办公室"}]),
    ({"team": "team-xian", "person": "王五"}, [{"team": "team-xian", "person": "王五"}]),
], ids=["missing", "state-rows", "nobody-on-duty", "plain-person"])
def test_duty_answers_read(catalogue, doc, rows):
    got = _js(catalogue, "D.dutyEntries(doc)", doc=doc)
    assert [{k: v for k, v in r.items() if v is not None} for r in got] == rows


@needs_node
def test_a_city_team_follows_its_own_roster(catalogue):
    assert _js(catalogue, "[D.dutyTeam(team), D.dutyTeam(admin)]",
               team={"role": "city-team", "scope": "xian"}, admin={"role": "admin"}) == [
        "team-xian", None]   # the recipients file's id of the Xi'an team; admin: every team


@needs_node
def test_silence_body_leaves_empty_matchers_out(catalogue):
    got = _node("""import { silenceBody } from "./silences.js";
        const f = (v) => ({ value: v });
        const form = { elements: { reason: f(" 校准 "), duration: f("240"), city: f("xian"),
          kind: f(""), station: f("1462A"), level: f("") } };
        console.log(JSON.stringify(silenceBody(form)));""")
    assert got == {"reason": "校准", "duration_minutes": 240, "city": "xian",
                   "station": "1462A"}
