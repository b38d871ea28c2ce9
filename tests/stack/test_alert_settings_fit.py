"""The stack's alert settings (stack.services.fit_alert_settings): grouping fitted to a warped
clock, the catch-all grouped and a city warning covering its city's real-time alerts unless
the settings say otherwise."""
from __future__ import annotations

import pytest

from alerts import AlertSettings
from stack.services import fit_alert_settings


@pytest.mark.parametrize("speed, wait, interval, want_wait, want_interval", [
    # real time: the settings as given
    (1.0, "30s", "5m", "30s", "5m"),
    # 3600x: 30 s would be 8.3 ms of real time; one real second is 3600 simulated seconds,
    # and the interval (5 min = 300 s) is raised to the wait
    (3600.0, "30s", "5m", "3600s", "3600s"),
    # 1200x: one real second is 1200 s; an interval of 2 h (7200 s) is already longer
    (1200.0, "30s", "2h", "1200s", "7200s"),
    # a wait longer than a real second stays: 2 h at 3600x is 2 real seconds
    (3600.0, "2h", "5m", "7200s", "7200s"),
    # grouping off stays off
    (3600.0, "0s", "5m", "0s", "5m"),
], ids=["real-time", "3600x", "1200x-long-interval", "3600x-long-wait", "off"])
def test_group_wait_fitted_to_speed(speed, wait, interval, want_wait, want_interval):
    s = fit_alert_settings(AlertSettings(group_wait=wait, group_interval=interval), speed)
    assert (s.group_wait, s.group_interval) == (want_wait, want_interval)


def test_defaults_catch_all_grouped_and_city_warning_covers_real_time():
    s = fit_alert_settings(AlertSettings(), 1.0)
    assert s.group_catchall is True
    (rule,) = s.inhibit
    assert (rule.source, rule.target, rule.equal) == (
        {"kind": "air.warning"}, {"kind": "air.realtime"}, ["city"])


def test_settings_that_name_them_win(monkeypatch):
    s = fit_alert_settings(AlertSettings(group_catchall=False, inhibit=[]), 3600.0)
    assert s.group_catchall is False and s.inhibit == []
    monkeypatch.setenv("FENWEI_ALERTS_GROUP_CATCHALL", "false")
    monkeypatch.setenv("FENWEI_ALERTS_INHIBIT", '[{"source": {"kind": "liveness.*"}, '
                                                '"target": {"subject": "station:*"}}]')
    s = fit_alert_settings(AlertSettings(), 3600.0)
    assert s.group_catchall is False
    assert [(r.source, r.target) for r in s.inhibit] == [
        ({"kind": "liveness.*"}, {"subject": "station:*"})]
