"""The shared clock: wall, warped with an anchor instant, warped with an anchor file, held."""
from __future__ import annotations

import time

import pytest

from core.clock import Clock, ClockError, clock_from, write_anchor


def test_wall_clock_by_default(monkeypatch):
    for k in ("MODE", "START", "SPEED", "ANCHOR"):
        monkeypatch.delenv(f"FENWEI_CLOCK_{k}", raising=False)
    c = clock_from()
    assert not c.warped and abs(c.now() - time.time()) < 1 and c.started()


def test_warped_clock_maps_wall_time_onto_simulated_time():
    # anchored 10 real seconds ago at 3600x: 10 simulated hours after the start
    c = clock_from({"mode": "warped", "start": "2026-12-10T00:00:00+08:00",
                    "speed": "3600", "anchor": str(time.time() - 10)})
    start = 1796832000.0   # 2026-12-10 00:00 CST = 2026-12-09 16:00 UTC: 1767225600 (2026-01-01) + 342 d + 16 h
    assert c.start == start
    assert c.now() - start == pytest.approx(36000, abs=3600 * 0.5)


def test_an_instant_without_offset_is_china_standard_time():
    c = clock_from({"mode": "warped", "start": "2026-12-10T00:00:00", "anchor": "0"})
    assert c.start == 1796832000.0


def test_anchor_file_stands_still_until_written_then_moves_and_holds(tmp_path):
    anchor = tmp_path / "clock.anchor"
    c = clock_from({"mode": "warped", "start": "1000", "speed": "100", "anchor": f"@{anchor}"})
    assert c.now() == 1000.0 and not c.started()
    write_anchor(anchor, time.time() - 2)          # two real seconds ago
    assert c.now() == pytest.approx(1200, abs=60) and c.started()
    other = clock_from(c.env() | {})  # a child process's clock from the same variables
    assert isinstance(other, Clock)
    (tmp_path / "clock.hold").write_text("1100")
    c._next_check = 0.0
    assert c.now() == 1100.0                        # held at the end of a replay


@pytest.mark.parametrize("values, needle", [
    ({"mode": "sideways"}, "FENWEI_CLOCK_MODE"),
    ({"mode": "warped"}, "FENWEI_CLOCK_START"),
    ({"mode": "warped", "start": "0", "speed": "fast"}, "FENWEI_CLOCK_SPEED"),
    ({"mode": "warped", "start": "0", "speed": "-1"}, "FENWEI_CLOCK_SPEED"),
    ({"mode": "warped", "start": "yesterday"}, "FENWEI_CLOCK_START"),
])
def test_bad_clock_settings_are_named(values, needle, monkeypatch):
    for k in ("MODE", "START", "SPEED", "ANCHOR"):
        monkeypatch.delenv(f"FENWEI_CLOCK_{k}", raising=False)
    with pytest.raises(ClockError, match=needle):
        clock_from(values)
