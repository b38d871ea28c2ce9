"""Who is on duty: a weekly rotation handing over at 09:00 China Standard Time, a date list,
overrides that win, and a notification reaching the person on duty beside the team channel
(injected clock)."""
from __future__ import annotations

import json
from pathlib import Path
from datetime import datetime, timedelta, timezone

import jsonschema
import pytest

from alerts import load_directory
from alerts.errors import ConfigError

from alerts_platform_helpers import PM25_RULES, T0, recipients_file, series, settled, wait_until

UTC = timezone.utc
PEOPLE = [{"id": "p-wang", "name_zh": "王伟", "name_en": "Wang Wei"},
          {"id": "p-li", "name_zh": "李娜", "name_en": "Li Na"},
          {"id": "p-zhao", "name_zh": "赵强", "name_en": "Zhao Qiang"}]
# 2026-01-05 is a Monday (1 January 2026 was a Thursday: +4 days); handover 09:00 CST
# = 01:00 UTC. Week k (k = 0, 1, ...) runs from 5 Jan + 7k days 09:00 CST: Wang, Li, Wang, ...
WEEKLY = {"team": "team-xian", "handover": "09:00",
          "rotation": {"start": "2026-01-05", "every": "7d", "people": ["p-wang", "p-li"]},
          "overrides": [{"start": "2026-01-13T18:00:00+08:00", "end": "2026-01-14",
                         "person": "p-zhao", "reason": "李娜 sick"}]}
SHIFTS = {"team": "team-baoji", "handover": "08:30",
          "shifts": [{"start": "2026-02-16", "person": "p-li"},     # Spring Festival week
                     {"start": "2026-02-20T12:00:00+08:00", "person": "p-wang"}]}


def with_duty(path, people=PEOPLE, duty=(WEEKLY, SHIFTS)):
    doc = json.loads(path.read_text())
    doc["people"], doc["duty"] = list(people), list(duty)
    path.write_text(json.dumps(doc, ensure_ascii=False))
    return path


@pytest.fixture
def directory(tmp_path, catalogue):
    return load_directory(with_duty(recipients_file(tmp_path, {})), catalogue)


@pytest.mark.parametrize("at,who,source", [
    (datetime(2026, 1, 5, 0, 59, 59, tzinfo=UTC), None, None),      # 08:59:59 CST: not begun
    (datetime(2026, 1, 5, 1, 0, tzinfo=UTC), "p-wang", "rotation"),  # 09:00 CST Mon: week 0
    (datetime(2026, 1, 12, 0, 59, 59, tzinfo=UTC), "p-wang", "rotation"),  # 08:59:59 CST
    (datetime(2026, 1, 12, 1, 0, tzinfo=UTC), "p-li", "rotation"),   # 09:00 CST: week 1
    # 11 Jan 23:30 UTC is already Monday 07:30 in CST but before the handover: still Wang
    (datetime(2026, 1, 11, 23, 30, tzinfo=UTC), "p-wang", "rotation"),
    (datetime(2026, 1, 13, 9, 59, tzinfo=UTC), "p-li", "rotation"),  # 17:59 CST Tue
    (datetime(2026, 1, 13, 10, 0, tzinfo=UTC), "p-zhao", "override"),  # 18:00 CST: override
    (datetime(2026, 1, 14, 0, 59, tzinfo=UTC), "p-zhao", "override"),  # 08:59 CST Wed
    (datetime(2026, 1, 14, 1, 0, tzinfo=UTC), "p-li", "rotation"),   # "2026-01-14" = 09:00
    (datetime(2026, 1, 19, 1, 0, tzinfo=UTC), "p-wang", "rotation"),  # week 2: 2 mod 2 = 0
], ids=["before start", "first handover", "last second of week 0", "week 1 handover",
        "CST Monday before handover", "Tuesday evening", "override starts",
        "override last minute", "override ended", "week 2"])
def test_weekly_rotation_and_override(directory, at, who, source):
    d = directory.on_duty("team-xian", at)
    assert (d.person if d else None, d.source if d else None) == (who, source)


def test_rotation_shift_times(directory):
    d = directory.on_duty("team-xian", datetime(2026, 1, 15, tzinfo=UTC))
    # week 1: 12 Jan 09:00 CST = 12 Jan 01:00 UTC .. 19 Jan 01:00 UTC
    assert (d.since, d.until) == (datetime(2026, 1, 12, 1, tzinfo=UTC),
                                  datetime(2026, 1, 19, 1, tzinfo=UTC))


@pytest.mark.parametrize("at,who", [
    (datetime(2026, 2, 16, 0, 29, tzinfo=UTC), None),          # 08:29 CST: before the list
    (datetime(2026, 2, 16, 0, 30, tzinfo=UTC), "p-li"),         # 08:30 CST handover
    (datetime(2026, 2, 20, 3, 59, tzinfo=UTC), "p-li"),         # 11:59 CST on the 20th
    (datetime(2026, 2, 20, 4, 0, tzinfo=UTC), "p-wang"),        # 12:00 CST: next shift
    (datetime(2026, 6, 1, tzinfo=UTC), "p-wang"),               # the last shift runs on
], ids=["before", "first", "end of first", "second", "open end"])
def test_date_list(directory, at, who):
    d = directory.on_duty("team-baoji", at)
    assert (d.person if d else None) == who


@pytest.mark.parametrize("duty,match", [
    ([{"team": "team-atlantis", "rotation": {"start": "2026-01-05", "people": ["p-wang"]}}],
     "unknown team"),
    ([{"team": "team-xian", "rotation": {"start": "2026-01-05", "people": ["p-nobody"]}}],
     "unknown people"),
    ([{"team": "team-xian", "overrides": [{"start": "2026-01-05", "end": "2026-01-04",
                                           "person": "p-wang"}]}], "ends before"),
    ([{"team": "team-xian", "rotation": {"start": "2026-01-05", "people": ["p-wang"]},
       "shifts": [{"start": "2026-01-05", "person": "p-li"}]}], "not both"),
    ([{"team": "team-xian", "rotation": {"start": "2026-01-05", "people": []}}],
     "at least one"),
], ids=["unknown team", "unknown person", "override backwards", "both plans", "empty"])
def test_bad_plans_are_refused(tmp_path, catalogue, duty, match):
    path = with_duty(recipients_file(tmp_path, {}), duty=duty)
    with pytest.raises(ConfigError, match=match):
        load_directory(path, catalogue)


def test_notification_reaches_the_person_on_duty_and_the_team(sqlite_url, make_service, clock,
                                                              receiver, receiver2, tmp_path):
    """T0 = Saturday 10 Jan 10:00 CST: week 0, Wang on duty. The team's webhook and Wang's
    both get the alert; after Monday's 09:00 CST handover a new alert goes to Li instead."""
    people = [{**PEOPLE[0], "channels": [{"type": "webhook", "url": receiver2.url}]},
              {**PEOPLE[1], "channels": [{"type": "webhook", "url": receiver2.url}]},
              PEOPLE[2]]
    rcpts = with_duty(recipients_file(tmp_path, {"team-xian": [{"type": "webhook",
                                                                "url": receiver.url}]}),
                      people=people, duty=[WEEKLY])
    svc = make_service(sqlite_url, rules=PM25_RULES, recipients=rcpts, group_wait="0s")
    svc.ingest(series("1462A", T0 - timedelta(minutes=20), [300] * 5))
    svc.dispatch_once()
    assert wait_until(lambda: settled(svc))
    team = [b["recipient"]["id"] for b in receiver.bodies()]
    person = [(b["recipient"]["id"], b["recipient"]["role"]) for b in receiver2.bodies()]
    assert team == ["team-xian"] and person == [("p-wang", "on_call")]
    schema = json.loads((Path(__file__).resolve().parents[3] / "docs" /
                         "webhook.schema.json").read_text())
    jsonschema.validate(receiver2.bodies()[0], schema)     # the documented body
    # Monday 12 Jan 09:00 CST = 01:00 UTC; the first alert cleared, a new one at another station
    monday = datetime(2026, 1, 12, 1, 5, tzinfo=UTC)
    clock.set(monday)
    svc.ingest(series("1463A", monday - timedelta(minutes=20), [300] * 5))
    svc.dispatch_once()
    assert wait_until(lambda: settled(svc))
    new = [b["recipient"]["id"] for b in receiver2.bodies() if b["subject"]["id"] ==
           "station:1463A"]
    assert new == ["p-li"]


def test_duty_rows(sqlite_url, make_service, clock, tmp_path):
    svc = make_service(sqlite_url, rules=PM25_RULES,
                       recipients=with_duty(recipients_file(tmp_path, {})))
    clock.set(datetime(2026, 1, 13, 10, 0, tzinfo=UTC))            # 18:00 CST Tuesday
    (row,) = svc.duty("team-xian")
    assert row["on_duty"]["id"] == "p-zhao" and row["on_duty"]["source"] == "override"
    assert row["on_duty"]["until"] == "2026-01-14T09:00:00+08:00"
    assert row["next"]["id"] == "p-li"               # week 1 resumes after the override
    assert [r["team"] for r in svc.duty()] == ["team-baoji", "team-xian"]
    assert svc.duty()[0]["on_duty"] is None           # Baoji's list starts in February


def test_duty_command(tmp_path):
    from typer.testing import CliRunner

    from alerts.cli import app
    path = with_duty(recipients_file(tmp_path, {}))
    args = ["duty", "--recipients", str(path), "--state-url", f"sqlite:///{tmp_path / 's.db'}"]
    r = CliRunner().invoke(app, args + ["--team", "team-xian", "--at", "2026-01-13T18:00:00"])
    assert r.exit_code == 0, r.output                  # 18:00 CST (no offset): the override
    assert json.loads(r.output)["on_duty"]["id"] == "p-zhao"
    r = CliRunner().invoke(app, args + ["--team", "team-yanan"])
    assert r.exit_code == 2 and "no duty plan" in r.output
