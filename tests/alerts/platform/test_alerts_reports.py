"""Bulletins that arrive by themselves: the Monday eco-flow list and the monthly bulletin reach
a bureau's inbox on a real SMTP server (aiosmtpd) at 09:00 China Standard Time of the
service's injected clock, with CSV and PDF attached; a WeCom robot gets the Markdown; nothing
is sent twice; the daily air-quality summary from stored daily AQI, open warnings and the
forecast. Expected values are worked by hand below."""
from __future__ import annotations

import csv
import io
import json
import random
from datetime import date, datetime, timedelta, timezone

import pytest

from alerts import AlertService, AlertSettings, ManualClock
from alerts._reports import last_due
from core.ecoflow import TargetTable, parse_target
from core.store import open_store
from core.wire import Reading

from alerts_platform_helpers import PM25_RULES, recipients_file, wait_until

UTC = timezone.utc
JAN1_CST = datetime(2025, 12, 31, 16, tzinfo=UTC)       # 1 January 2026 00:00 CST
LOW = {date(2026, 1, 7): 8.0, date(2026, 1, 8): 8.0,    # 2 m3/s below the 10 m3/s target
       date(2026, 1, 20): 9.5, date(2026, 1, 21): 9.5}  # 0.5 m3/s below
NORMAL = 11.0


def _flow(day: date) -> float:
    return LOW.get(day, NORMAL)


@pytest.fixture
def store(tmp_path, catalogue):
    """Huaxian's gauge every hour of January 2026 (CST days): 11 m3/s, except the LOW days."""
    s = open_store(f"duckdb://{tmp_path / 'store.duckdb'}", catalogue)
    rows = []
    for h in range(31 * 24):
        t = JAN1_CST + timedelta(hours=h)
        rows.append(Reading("huaxian", "weinan", "hydro", t, "PT1H",
                            {"discharge": _flow((t + timedelta(hours=8)).date())}))
    s.write(rows)
    yield s
    s.close()


@pytest.fixture
def targets(catalogue):
    return TargetTable([parse_target({"section": "huaxian", "valid_from": "2020-01-01",
                                      "target_m3s": 10.0, "source": "test"}, catalogue)])


@pytest.fixture
def service(tmp_path, catalogue, store, targets, smtp, receiver):
    made = []

    def make(clock, **settings):
        rcpts = recipients_file(tmp_path, {
            "water-shaanxi": [{"type": "email", "to": ["duty@water.shaanxi.example"]}],
            "team-weinan": [{"type": "wecom", "url": receiver.url}]})
        doc = json.loads(rcpts.read_text())
        for r in doc["recipients"]:
            if r["id"] == "water-shaanxi":
                r["reports"] = ["monday", "monthly"]
            if r["id"] == "team-weinan":
                r["reports"] = [{"report": "monday", "channels": ["wecom"]}]
        rcpts.write_text(json.dumps(doc, ensure_ascii=False))
        settings = {"smtp_url": smtp.url, **settings}
        s = AlertSettings(state_url=f"sqlite:///{tmp_path / 'state.db'}", mqtt_enabled=False,
                          mqtt_url="mqtt://127.0.0.1:1", smtp_from="bulletins@fenwei.example",
                          schedule_speed=60, tick_interval_s=600, **settings)
        svc = AlertService(s, rules=PM25_RULES, recipients=rcpts, clock=clock,
                           rng=random.Random(1), store=store, targets=targets)
        made.append(svc)
        return svc

    yield make
    for svc in made:
        svc.stop()


def attachments(msg) -> dict[str, tuple[str, bytes]]:
    return {p.get_filename(): (p.get_content_type(), p.get_payload(decode=True))
            for p in msg.iter_attachments()}


def csv_rows(data: bytes) -> list[dict]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))


def checks_pass(svc, n: int) -> bool:
    start = svc.reporter.checks
    return wait_until(lambda: svc.reporter.checks >= start + n, timeout=20)


@pytest.mark.parametrize("kind,now_cst,due_cst,period", [
    ("monday", datetime(2026, 1, 12, 8, 59), datetime(2026, 1, 5, 9), "2026-01-05"),
    ("monday", datetime(2026, 1, 12, 9, 0), datetime(2026, 1, 12, 9), "2026-01-12"),
    ("monday", datetime(2026, 1, 18, 23, 0), datetime(2026, 1, 12, 9), "2026-01-12"),
    ("monthly", datetime(2026, 2, 1, 9, 0), datetime(2026, 2, 1, 9), "2026-01"),
    ("monthly", datetime(2026, 1, 1, 8, 0), datetime(2025, 12, 1, 9), "2025-11"),
    ("yearly", datetime(2026, 1, 1, 9, 30), datetime(2026, 1, 1, 9), "2025"),
    ("daily", datetime(2026, 1, 10, 7, 59), datetime(2026, 1, 9, 8), "2026-01-08"),
    ("daily", datetime(2026, 1, 10, 8, 0), datetime(2026, 1, 10, 8), "2026-01-09"),
], ids=["monday before 09:00", "monday 09:00", "sunday night", "monthly on the 1st",
        "1st before time", "yearly", "daily before 08:00", "daily 08:00"])
def test_schedule(kind, now_cst, due_cst, period):
    at = {"daily": "08:00"}.get(kind, "09:00")
    cst = timezone(timedelta(hours=8))
    due, got = last_due(kind, now_cst.replace(tzinfo=cst).astimezone(UTC), at)
    assert (due, got) == (due_cst.replace(tzinfo=cst), period)


def test_monday_list_and_monthly_bulletin_arrive_on_schedule(service, smtp, receiver):
    # Monday 12 January 2026 08:59 CST = 00:59 UTC: the Monday list is due at 09:00 CST
    clock = ManualClock(datetime(2026, 1, 12, 0, 59, tzinfo=UTC))
    svc = service(clock)
    svc.start(dispatch=False, schedule=True)
    assert checks_pass(svc, 2)
    assert smtp.messages == [] and receiver.requests == []
    clock.set(datetime(2026, 1, 12, 1, 0, tzinfo=UTC))        # 09:00 CST
    assert smtp.wait_count(1, timeout=20) and receiver.wait_count(1, timeout=20)
    rcpt, msg = smtp.messages[0]
    assert rcpt == ["duty@water.shaanxi.example"]
    assert msg["Subject"] == "生态流量周处置清单（2026-01-12）"
    assert msg["X-Fenwei-Report"] == "monday 2026-01-12"
    files = attachments(msg)
    assert sorted(files) == ["monday-2026-01-12.csv", "monday-2026-01-12.pdf"]
    ctype, data = files["monday-2026-01-12.csv"]
    assert ctype == "text/csv"
    # week 5-11 January: Huaxian 8 m3/s on the 7th and 8th, below its 10 m3/s target;
    # deficit (10 - 8) m3/s x 86 400 s x 2 days = 345 600 m3; no other section has a target
    assert csv_rows(data) == [{
        "section": "huaxian", "name_zh": "华县", "name_en": "Huaxian",
        "week_start": "2026-01-05", "days_missed": "2",
        "days_missed_list": "2026-01-07,2026-01-08", "days_unknown": "0",
        "deficit_m3": "345600.0", "min_q_m3s": "8.0"}]
    ctype, pdf = files["monday-2026-01-12.pdf"]
    assert ctype == "application/pdf" and pdf.startswith(b"%PDF-") and b"%%EOF" in pdf[-32:]
    assert b"FontFile2" in pdf or b"/Helvetica" in pdf     # Chinese needs an embedded font
    body = msg.get_body(("plain",)).get_content()
    assert "华县" in body and "Huaxian" in body and "| 2 |" in body
    robot = json.loads(receiver.requests[0]["raw"])
    assert robot["msgtype"] == "markdown" and "华县" in robot["markdown"]["content"]
    assert "345,600" in robot["markdown"]["content"]
    # later checks of the same Monday send nothing again
    assert checks_pass(svc, 2)
    assert len(smtp.messages) == 1 and len(receiver.requests) == 1

    # Sunday 1 February 2026 09:00 CST: January's bulletin (not a Monday: no list)
    clock.set(datetime(2026, 2, 1, 1, 0, tzinfo=UTC))
    assert smtp.wait_count(2, timeout=20)
    _, msg = smtp.messages[1]
    assert msg["X-Fenwei-Report"] == "monthly 2026-01"
    rows = {r["section"]: r for r in csv_rows(attachments(msg)["monthly-2026-01.csv"][1])}
    # 31 days, 4 below target (7, 8, 20, 21 Jan): 27 met; 27/31 = 87.0968 % -> 87.1 < 90:
    # fails; deficit 2 x 2 x 86 400 + 2 x 0.5 x 86 400 = 345 600 + 86 400 = 432 000 m3
    hx = rows["huaxian"]
    assert (hx["days"], hx["met"], hx["missed"], hx["unknown"]) == ("31", "27", "4", "0")
    assert (hx["compliance_pct"], hx["passes"], hx["complete"]) == ("87.1", "false", "true")
    assert hx["deficit_m3"] == "432000.0" and hx["benchmark_pct"] == "90.0"
    assert attachments(msg)["monthly-2026-01.pdf"][1].startswith(b"%PDF-")
    assert checks_pass(svc, 2) and len(smtp.messages) == 2 and len(receiver.requests) == 1


def test_a_failed_delivery_is_retried(service, smtp, receiver):
    clock = ManualClock(datetime(2026, 1, 12, 1, 0, tzinfo=UTC))
    svc = service(clock, smtp_url="smtp://127.0.0.1:1")          # nobody listens there
    svc.start(dispatch=False, schedule=False)
    assert svc.run_reports() == 1                                  # the robot; e-mail refused
    assert svc.reporter.sent == [("monday", "2026-01-12", "team-weinan", "wecom")]
    svc.settings.smtp_url = smtp.url
    svc._mailer = None
    assert svc.run_reports() == 1 and smtp.wait_count(1)          # sent at the next check
    assert svc.run_reports() == 0 and len(receiver.requests) == 1


@pytest.mark.parametrize("now,sent", [
    (datetime(2026, 1, 13, 1, 0, tzinfo=UTC), 2),          # 24 h after 09:00 CST Monday
    (datetime(2026, 1, 13, 1, 0, 1, tzinfo=UTC), 0),       # 1 s past the 1-day limit
], ids=["at the limit", "too late"])
def test_a_late_bulletin_is_skipped(service, smtp, now, sent):
    svc = service(ManualClock(now))
    svc.start(dispatch=False, schedule=False)
    assert svc.run_reports() == sent


def test_daily_summary(tmp_path, catalogue, store):
    """Xi'an on 9 January 2026: every national station PM2.5 156, PM10 100, SO2 10, NO2 30,
    CO 0.5 mg/m3, O3 60 all day. HJ 633-2012 24 h rows: PM2.5 156 lies in 150..250 ug/m3,
    IAQI 200..300: (300-200)/(250-150) x (156-150) + 200 = 206 (DOMAIN.md's worked value); PM10 100 -> (100-50)/(150-50) x 50 + 50 = 75;
    SO2 10 -> 10; NO2 30 -> 37.5 -> 38; CO 0.5 -> 12.5 -> 13; O3 8 h 60 -> 30. AQI 206,
    primary PM2.5, category V 重度污染. Forecast for 11 January (sent on the 10th): the
    window starting 11 Jan 00:00 CST has AQI 160 -> category IV 中度污染."""
    from core.aqi import recompute
    from tests.alerts.warnings.helpers import SeqForecast
    six = {"pm25": 156.0, "pm10": 100.0, "so2": 10.0, "no2": 30.0, "co": 0.5, "o3": 60.0}
    day0 = datetime(2026, 1, 8, 16, tzinfo=UTC)                   # 9 Jan 00:00 CST
    ids = [s.id for s in catalogue.aqi_stations() if s.city == "xian"]
    store.write([Reading(i, "xian", "air", day0 + timedelta(hours=h), "PT1H", six)
                 for i in ids for h in range(-24, 48)])
    recompute(store, catalogue, day0, day0 + timedelta(days=1))
    now = datetime(2026, 1, 10, 0, 0, tzinfo=UTC)                 # 10 Jan 08:00 CST
    issue = datetime(2026, 1, 9, 23, tzinfo=UTC)
    # hour k of the sequence is issue + k h; the window starting 11 Jan 00:00 CST
    # (10 Jan 16:00 UTC) ends at hour index 17 + 23 = 40
    aqi = [100.0] * 96
    aqi[40] = 160.0

    def forecasts(_store, city, _now):
        return SeqForecast(city, issue, aqi)
    s = AlertSettings(state_url=f"sqlite:///{tmp_path / 'state.db'}", mqtt_enabled=False,
                      mqtt_url="mqtt://127.0.0.1:1")
    svc = AlertService(s, rules=PM25_RULES, clock=ManualClock(now), store=store,
                       forecasts=forecasts)
    svc.migrate()
    try:
        b = svc.bulletin("daily", "2026-01-09", cities=["xian", "baoji"])
    finally:
        svc.stop()
    xian, baoji = b.rows
    assert (xian["aqi"], xian["primary"], xian["category_zh"]) == (206, "pm25", "重度污染")
    assert (xian["forecast_day"], xian["forecast_aqi_q50"], xian["forecast_category_zh"]) == \
        ("2026-01-11", 160.0, "中度污染")
    assert xian["warnings_zh"] == "无"
    assert baoji["aqi"] is None and baoji["forecast_aqi_q50"] == 160.0
    assert csv_rows(b.csv())[0]["aqi"] == "206"
    assert "西安" in b.markdown("zh") and "Xi'an" in b.markdown("en")
