"""Gap filling state machine: open -> requested -> filled / given_up, worked by hand.

The gap filler is driven with an injected clock and a publish seam that records what would go
on the fill topic; the tracker and the state file are the real ones.
"""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from typer.testing import CliRunner

from core.deadletters import connect
from core.wire import Reading, fill_topic
from ingest import Tracker
from ingest._gaps import GapBook, GapFiller, list_gaps, missing_runs
from ingest.cli import app

H = 3600
T = datetime(2026, 12, 11, 0, 0, tzinfo=timezone.utc)
T0 = int(T.timestamp())


@pytest.mark.parametrize("hours, max_span_h, runs", [
    pytest.param([0, 1, 2, 9, 10], 24, [(3, 8)], id="one-six-hour-hole"),
    pytest.param([0, 1, 2], 24, [], id="no-hole"),
    pytest.param([0, 3, 5], 24, [(1, 2), (4, 4)], id="two-holes"),
    # 4 missing hours (1..4) in runs of at most 2 hours: 1..2 and 3..4
    pytest.param([0, 5], 2, [(1, 2), (3, 4)], id="split-by-max-span"),
    # 5 missing hours (1..5) in runs of at most 2: 1..2, 3..4, 5..5
    pytest.param([0, 6], 2, [(1, 2), (3, 4), (5, 5)], id="split-uneven"),
    pytest.param([7], 24, [], id="one-slot-no-bounds"),
])
def test_missing_runs(hours, max_span_h, runs):
    slots = [T0 + h * H for h in hours]
    got = missing_runs(slots, H, max_span_h * H)
    assert [((a - T0) // H, (b - T0) // H) for a, b in got] == runs


class Clock:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


class Half:
    """Jitter fixed at one half: backoff_delay(n, i, m) = cap/2 + cap/4 = 0.75 cap."""

    @staticmethod
    def random() -> float:
        return 0.5


def _hour(station: str, h: int, kind: str = "air", period: str = "PT1H") -> Reading:
    return Reading(station, "xian", kind, T + timedelta(hours=h), period, {"pm25": 10.0})


def _filler(catalogue, tracker, db, clock, sent) -> GapFiller:
    def publish(topic: str, payload: bytes) -> bool:
        sent.append((topic, json.loads(payload)))
        return True
    return GapFiller(catalogue, tracker, GapBook(db), publish, clock=clock, grace_s=1800,
                     retry_initial_s=H, retry_max_s=2 * H, max_attempts=3,
                     min_interval_s=600, max_span_s=24 * H, rng=Half())


def test_open_requested_filled_and_given_up(catalogue, tmp_path):
    state = tmp_path / "state.sqlite"
    db = connect(state)
    clock = Clock(T0 + 14 * H)
    tr = Tracker(catalogue, clock=clock)
    # 1462A: hours 0-2, 9, 10, 13 -> gaps 3..8 (6 h) and 11..12 (2 h)
    tr.observe("1462A", 0, [_hour("1462A", h) for h in (0, 1, 2, 9, 10, 13)])
    sent: list = []
    f = _filler(catalogue, tr, db, clock, sent)

    f.scan()                                     # found: open, nothing sent within the grace
    gaps = list_gaps(db)
    assert [(g.state, (g.start - T0) // H, (g.end - T0) // H) for g in gaps] == [
        ("open", 3, 8), ("open", 11, 12)]
    assert sent == []
    clock.t += 1799
    f.scan()
    assert sent == []                            # grace 1800 s not over

    clock.t += 1                                 # T+14.5h: the grace is over for both gaps,
    f.scan()                                     # but one request per station per 600 s
    st = catalogue.stations["1462A"]
    assert [(t, m["start"], m["end"], m["attempt"]) for t, m in sent] == [
        (fill_topic(st.city, st.kind, st.id), "2026-12-11T11:00:00+08:00",
         "2026-12-11T16:00:00+08:00", 1)]
    assert sent[0][0] == "fenwei/v1/xian/air/1462A/fill"
    assert sent[0][1]["period"] == "PT1H" and sent[0][1]["id"] == \
        "1462A/2026-12-11T11:00:00+08:00/2026-12-11T16:00:00+08:00"
    clock.t += 599
    f.scan()
    assert len(sent) == 1                        # rate limit: 599 s < 600 s
    clock.t += 1
    f.scan()
    assert [m["start"] for _, m in sent[1:]] == ["2026-12-11T19:00:00+08:00"]

    tr.observe("1462A", 1, [_hour("1462A", h) for h in (11, 12)])   # the logger answers gap 2
    f.scan()
    assert [g.state for g in list_gaps(db)] == ["requested", "filled"]

    # gap 1 retries: attempt 0 was sent at T+14.5h; backoff_delay(0, 3600, 7200) with jitter
    # one half = 1800 + 900 = 2700 s -> retry at T+14.5h+2700 s
    clock.t = T0 + 14.5 * H + 2699
    f.scan()
    assert len(sent) == 2
    clock.t += 1
    f.scan()
    assert sent[-1][1]["attempt"] == 2 and sent[-1][1]["id"] == sent[0][1]["id"]
    # backoff_delay(1, 3600, 7200): cap 7200 -> 3600 + 1800 = 5400 s
    clock.t += 5400
    f.scan()
    assert sent[-1][1]["attempt"] == 3
    # third request sent: max_attempts = 3; backoff_delay(2, ...) = 5400 s again, then give up
    clock.t += 5400
    f.scan()
    g1 = list_gaps(db, state="given_up")
    assert len(g1) == 1 and g1[0].attempts == 3 and g1[0].missing == 6
    assert "6 slots still missing after 3 requests" in g1[0].detail
    assert len(sent) == 4

    # restart on the same state file: the given-up gap is not found again, nothing is sent
    f2 = _filler(catalogue, tr, connect(state), clock, sent)
    clock.t += 3600
    f2.scan()
    assert len(sent) == 4
    assert [g.state for g in list_gaps(db)] == ["given_up", "filled"]

    out = CliRunner().invoke(app, ["gaps", "--state-path", str(state)])
    assert out.exit_code == 0, out.output
    lines = out.stdout.strip().splitlines()
    assert "given_up" in lines[0] and "missing 6/6" in lines[0] and "requests 3" in lines[0]
    assert "filled" in lines[1] and "missing 0/2" in lines[1]
    js = CliRunner().invoke(app, ["gaps", "--state-path", str(state), "--json",
                                  "--state", "filled"])
    rows = [json.loads(x) for x in js.stdout.strip().splitlines()]
    assert [(r["station"], r["start"], r["state"]) for r in rows] == [
        ("1462A", "2026-12-11T19:00:00+08:00", "filled")]

    # closed gaps are listed 30 days after they closed, then forgotten
    closed = {g.start: g.closed_at for g in list_gaps(db)}
    clock.t = min(closed.values()) + 30 * 86400 - 1
    f2.scan()
    assert len(list_gaps(db)) == 2
    clock.t = max(closed.values()) + 30 * 86400 + 1
    f2.scan()
    assert list_gaps(db) == []


def test_gauge_instant_readings_on_the_hour_form_its_series(catalogue):
    """An SL 651 gauge's hourly reports are instantaneous (PT0S) at the top of the hour: they
    are its series; an off-grid instant reading is not."""
    clock = Clock(T0 + 12 * H)
    tr = Tracker(catalogue, clock=clock)
    rows = [Reading("lintong", "xian", "hydro", T + timedelta(hours=h), "PT0S", {"stage": 1.0})
            for h in (0, 1, 2, 9)]
    rows.append(Reading("lintong", "xian", "hydro", T + timedelta(hours=5, minutes=5), "PT0S",
                        {"stage": 1.0}))
    tr.observe("lintong", 0, rows)
    period, slots = tr.series("lintong")
    assert period == H and [(s - T0) // H for s in slots] == [0, 1, 2, 9]
    assert missing_runs(slots, period, 24 * H) == [(T0 + 3 * H, T0 + 8 * H)]


def test_gap_left_outside_the_window_is_given_up(catalogue, tmp_path):
    clock = Clock(T0 + 10 * H)
    tr = Tracker(catalogue, window_s=86_400, clock=clock)
    tr.observe("1462A", 0, [_hour("1462A", h) for h in (0, 5)])
    sent: list = []
    f = _filler(catalogue, tr, connect(tmp_path / "s.sqlite"), clock, sent)
    f.scan()
    clock.t = T0 + 25 * H + 1           # the gap's first hour (1) is now older than 24 h
    f.scan()
    (g,) = list_gaps(f.book.db)
    assert g.state == "given_up" and g.detail == "left the completeness window"
