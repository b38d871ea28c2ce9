"""Bulletins: the Monday eco-flow list, the monthly and yearly compliance bulletins
(周处置、月通报、年考核) and a daily air-quality summary per city, as tables rendered to JSON,
CSV, Markdown (robots) and PDF (e-mail attachments, downloads).

Building a bulletin needs only its inputs (the daily flows, the daily AQI rows, the open
alerts, the cities' forecasts), so the alert service and the API build the same bulletin from
the same store. :class:`Reporter` sends them on the alert service's clock to the recipients
whose ``reports`` name them: e-mail with CSV and PDF attachments, robots with Markdown.
"""
from __future__ import annotations

import calendar
import csv
import io
import logging
import math
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path

import pandas as pd

from core.aqi import category_of
from core.ecoflow import BENCHMARK, daily_flow, monday_list, monthly_compliance, yearly_summary
from core.timeutil import CST, parse_duration

from ._levels import NAME_ZH

log = logging.getLogger(__name__)
KINDS = ("daily", "monday", "monthly", "yearly")
WARNING_KINDS = ("air.warning", "air.regional")
FONT_CANDIDATES = ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
                   "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
                   "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
                   "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc")
LATIN_FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"


@dataclass
class Bulletin:
    """One bulletin: a table (``rows``, machine column names) with headings per language."""

    kind: str
    period: str                         # 2026-01-12 (daily, monday), 2026-01, 2026
    title_zh: str
    title_en: str
    columns: list[str]
    headers_zh: list[str]
    headers_en: list[str]
    rows: list[dict]
    summary_zh: list[str] = field(default_factory=list)
    summary_en: list[str] = field(default_factory=list)
    generated_at: datetime | None = None

    @property
    def name(self) -> str:
        return f"{self.kind}-{self.period}"

    def title(self, lang: str = "zh") -> str:
        return self.title_en if lang == "en" else self.title_zh

    def as_json(self) -> dict:
        return {"report": self.kind, "period": self.period, "title_zh": self.title_zh,
                "title_en": self.title_en, "generated_at": _iso(self.generated_at),
                "columns": self.columns, "summary_zh": self.summary_zh,
                "summary_en": self.summary_en, "rows": self.rows}

    def csv(self) -> bytes:
        """UTF-8 with a byte-order mark (spreadsheets then read the Chinese names), the
        machine column names as header, values as in JSON (empty for none)."""
        out = io.StringIO()
        w = csv.writer(out, lineterminator="\r\n")
        w.writerow(self.columns)
        for r in self.rows:
            w.writerow(["" if r.get(c) is None else _cell(r.get(c)) for c in self.columns])
        return out.getvalue().encode("utf-8-sig")

    def markdown(self, lang: str = "zh", max_rows: int = 30) -> str:
        """Title, summary lines and the table (first ``max_rows`` rows) in ``lang``."""
        heads = self.headers_en if lang == "en" else self.headers_zh
        summary = self.summary_en if lang == "en" else self.summary_zh
        lines = [f"### {self.title(lang)}", ""] + [f"- {s}" for s in summary]
        if self.rows:
            lines += ["", "| " + " | ".join(heads) + " |",
                      "|" + "---|" * len(heads)]
            for r in self.rows[:max_rows]:
                lines.append("| " + " | ".join(_show(r.get(c)) for c in self._shown(lang))
                             + " |")
            if len(self.rows) > max_rows:
                more = len(self.rows) - max_rows
                lines.append(f"(+{more} more rows in the CSV)" if lang == "en"
                             else f"（另有 {more} 行，见 CSV）")
        return "\n".join(lines)

    def _shown(self, lang: str) -> list[str]:
        return self.columns_en if lang == "en" else self.columns_zh

    # the columns shown to people (headers_* are theirs); machine columns go to CSV/JSON
    columns_zh: list[str] = field(default_factory=list)
    columns_en: list[str] = field(default_factory=list)

    def pdf(self, lang: str = "zh", font: str | None = None) -> bytes:
        return render_pdf(self, lang, font)


def _iso(ts: datetime | None) -> str | None:
    return ts.astimezone(CST).isoformat() if ts else None


def _cell(v):
    if isinstance(v, float):
        return "" if math.isnan(v) else f"{v:g}" if v != int(v) else f"{v:.1f}"
    if isinstance(v, bool):
        return "true" if v else "false"
    return v


def _show(v) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "—"
    if isinstance(v, bool):
        return "✓" if v else "✗"
    if isinstance(v, float):
        return f"{v:,.2f}".rstrip("0").rstrip(".") if abs(v) < 1e6 else f"{v:,.0f}"
    return str(v)


def _num(v):
    """A plain JSON value: NaN and pandas' missing values → None, numpy scalars → Python."""
    if v is None:
        return None
    try:
        if pd.isna(v):
            return None
    except (TypeError, ValueError):
        pass
    if hasattr(v, "item"):
        v = v.item()
    return v


def _records(df: pd.DataFrame) -> list[dict]:
    return [{k: _num(v) for k, v in r.items()} for r in df.to_dict("records")]


# ---------------------------------------------------------------------- eco-flow bulletins
def _section_names(cat, rows: list[dict]) -> list[dict]:
    for r in rows:
        sec = cat.sections.get(r["section"])
        r["name_zh"] = sec.name_zh if sec else r["section"]
        r["name_en"] = sec.name_en if sec else r["section"]
    return rows


def monday_bulletin(cat, daily: pd.DataFrame, monday: date) -> Bulletin:
    """Sections that missed their target on a day of the week before ``monday``."""
    rows = _section_names(cat, _records(monday_list(daily, monday)))
    week0 = monday - timedelta(days=7)
    cols = ["section", "name_zh", "name_en", "week_start", "days_missed", "days_missed_list",
            "days_unknown", "deficit_m3", "min_q_m3s"]
    zh = [f"统计周期：{week0} 至 {monday - timedelta(days=1)}（北京时间）",
          f"未达生态流量目标的断面：{len(rows)} 个" + (
              "（" + "、".join(r["name_zh"] for r in rows) + "）" if rows else "")]
    en = [f"Week {week0} to {monday - timedelta(days=1)} (CST)",
          f"Sections below their ecological-flow target on at least one day: {len(rows)}"
          + (" (" + ", ".join(r["name_en"] for r in rows) + ")" if rows else "")]
    return Bulletin("monday", monday.isoformat(), f"生态流量周处置清单（{monday}）",
                    f"Ecological flow: Monday disposal list ({monday})", cols,
                    ["断面", "未达标天数", "未达标日期", "缺测天数", "缺水量 (m³)",
                     "最小日均流量 (m³/s)"],
                    ["Section", "Days missed", "Dates missed", "Days unknown",
                     "Deficit (m³)", "Lowest daily mean (m³/s)"], rows, zh, en,
                    columns_zh=["name_zh", "days_missed", "days_missed_list", "days_unknown",
                                "deficit_m3", "min_q_m3s"],
                    columns_en=["name_en", "days_missed", "days_missed_list", "days_unknown",
                                "deficit_m3", "min_q_m3s"])


_COMPLIANCE_HEAD_ZH = ["断面", "统计天数", "达标", "未达标", "缺测", "达标率 (%)", "是否达到 90%",
                       "缺水量 (m³)"]
_COMPLIANCE_HEAD_EN = ["Section", "Days", "Met", "Missed", "Unknown", "Compliance (%)",
                       "Meets 90 %", "Deficit (m³)"]
_COMPLIANCE_SHOWN = ["days", "met", "missed", "unknown", "compliance_pct", "passes",
                     "deficit_m3"]


def _compliance_summary(rows: list[dict]) -> tuple[list[str], list[str]]:
    fail = [r for r in rows if r.get("passes") is False]
    zh = [f"达标率基准：{BENCHMARK:g}% 的天数日均流量不低于目标",
          f"未达基准的断面：{len(fail)} 个" + (
              "（" + "、".join(f"{r['name_zh']} {r['compliance_pct']:g}%" for r in fail) + "）"
              if fail else "")]
    en = [f"Benchmark: the daily mean at or above target on {BENCHMARK:g} % of days",
          f"Sections below the benchmark: {len(fail)}" + (
              " (" + ", ".join(f"{r['name_en']} {r['compliance_pct']:g} %" for r in fail) + ")"
              if fail else "")]
    if rows and rows[0].get("complete") is False:
        zh.insert(0, "本期尚未结束：为截至目前的统计，不作达标结论")
        en.insert(0, "The period is not over: figures so far, no verdict")
    return zh, en


def monthly_bulletin(cat, daily: pd.DataFrame, year: int, month: int,
                     today: date | None = None) -> Bulletin:
    rows = _section_names(cat, _records(monthly_compliance(daily, year, month, today=today)))
    cols = ["section", "name_zh", "name_en", "month", "days", "met", "missed", "unknown",
            "compliance_pct", "benchmark_pct", "passes", "deficit_m3", "period_days",
            "complete"]
    zh, en = _compliance_summary(rows)
    period = f"{year}-{month:02d}"
    return Bulletin("monthly", period, f"生态流量月通报（{year} 年 {month} 月）",
                    f"Ecological flow: monthly bulletin ({period})", cols,
                    _COMPLIANCE_HEAD_ZH, _COMPLIANCE_HEAD_EN, rows, zh, en,
                    columns_zh=["name_zh", *_COMPLIANCE_SHOWN],
                    columns_en=["name_en", *_COMPLIANCE_SHOWN])


def yearly_bulletin(cat, daily: pd.DataFrame, year: int, today: date | None = None) -> Bulletin:
    rows = _section_names(cat, _records(yearly_summary(daily, year, today=today)))
    cols = ["section", "name_zh", "name_en", "year", "days", "met", "missed", "unknown",
            "compliance_pct", "benchmark_pct", "passes", "deficit_m3", "months_passing",
            "months_complete", "period_days", "complete"]
    zh, en = _compliance_summary(rows)
    return Bulletin("yearly", str(year), f"生态流量年度考核（{year} 年）",
                    f"Ecological flow: yearly assessment ({year})", cols,
                    _COMPLIANCE_HEAD_ZH + ["达标月数"], _COMPLIANCE_HEAD_EN + ["Months passing"],
                    rows, zh, en,
                    columns_zh=["name_zh", *_COMPLIANCE_SHOWN, "months_passing"],
                    columns_en=["name_en", *_COMPLIANCE_SHOWN, "months_passing"])


def ecoflow_daily(store, cat, targets, start: date, end: date) -> pd.DataFrame:
    """Daily flows of [start, end) against ``targets`` (a TargetStore or TargetTable)."""
    table = targets.table() if hasattr(targets, "table") else targets
    return daily_flow(store, cat, table, start, end)


def ecoflow_bulletin(store, cat, targets, kind: str, period: str,
                     today: date | None = None) -> Bulletin:
    """The Monday list (period: the Monday), a month (YYYY-MM) or a year (YYYY) from the
    store; ValueError for a bad period."""
    if kind == "monday":
        monday = date.fromisoformat(period)
        if monday.weekday() != 0:
            raise ValueError(f"{monday} is not a Monday")
        return monday_bulletin(cat, ecoflow_daily(store, cat, targets,
                                                  monday - timedelta(days=7), monday), monday)
    if kind == "monthly":
        y, m = (int(x) for x in period.split("-"))
        first = date(y, m, 1)
        nxt = date(y + (m == 12), m % 12 + 1, 1)
        return monthly_bulletin(cat, ecoflow_daily(store, cat, targets, first, nxt), y, m,
                                today=today)
    if kind == "yearly":
        y = int(period)
        return yearly_bulletin(cat, ecoflow_daily(store, cat, targets, date(y, 1, 1),
                                                  date(y + 1, 1, 1)), y, today=today)
    raise ValueError(f"unknown eco-flow bulletin {kind!r}")


# ---------------------------------------------------------------------- daily air summary
def _day_start(day: date) -> datetime:
    return datetime.combine(day, time(0), CST).astimezone(timezone.utc)


def read_aqi_daily(store, cities: list[str], day: date) -> dict[str, dict]:
    """The stored daily AQI (``aqi_daily``, scope city) of each city on the CST ``day``."""
    df = store.read_frame("aqi_daily", _day_start(day), _day_start(day + timedelta(days=1)),
                          {"scope": ["city"], "station": list(cities)})
    if df.empty:
        return {}
    df = df.sort_values("time").groupby("station").tail(1)
    return {r["station"]: {k: _num(v) for k, v in r.items()} for r in df.to_dict("records")}


def tomorrow_forecast(fc, day: date) -> dict | None:
    """The forecast daily AQI of the CST ``day`` from a CityForecast-like object: its
    rolling-24 h window that starts at 00:00 CST of ``day``."""
    if fc is None:
        return None
    seq = fc.rolling_aqi(200)
    if seq is None or len(seq) == 0:
        return None
    start = pd.Timestamp(_day_start(day))
    ws = pd.to_datetime(seq["window_start"], utc=True)
    hit = seq[ws == start]
    if hit.empty:
        return None
    r = hit.iloc[0]
    q50 = _num(r["aqi_q50"])
    return {"aqi_q10": _num(r["aqi_q10"]), "aqi_q50": q50, "aqi_q90": _num(r["aqi_q90"]),
            "primary": _num(r.get("primary")) or None,
            "issue_time": _iso(pd.Timestamp(fc.issue_time).to_pydatetime()),
            "model": getattr(fc, "model_id", None)}


def _pollutants(cat, codes: str | None, lang: str) -> str | None:
    if not codes:
        return None
    out = []
    for c in str(codes).split(","):
        p = cat.parameters.get(c.strip())
        out.append((p.name_zh if lang == "zh" else p.name.upper()) if p else c.strip())
    return "、".join(out) if lang == "zh" else ", ".join(out)


def _category(aqi, lang: str) -> str | None:
    if aqi is None:
        return None
    c = category_of(int(math.ceil(aqi)))
    return None if c is None else (c.zh if lang == "zh" else c.en)


def daily_bulletin(cat, cities: list[str], day: date, aqi: dict[str, dict],
                   open_alerts: list[dict], forecasts: dict[str, dict | None],
                   titles: dict[str, tuple[str, str]] | None = None,
                   kinds=WARNING_KINDS) -> Bulletin:
    """One row per city: ``day``'s daily AQI and primary pollutant (stored), the warnings in
    force (open alerts of ``kinds`` covering the city) and the forecast for ``day + 2``...
    i.e. the day after the bulletin is sent (``day`` is yesterday when it goes out)."""
    titles = titles or {}
    rows = []
    for city in cities:
        c = cat.cities[city]
        a = aqi.get(city) or {}
        value = None if a.get("aqi") is None else int(a["aqi"])    # an AQI is an integer
        bound = None if a.get("aqi_lower_bound") is None else int(a["aqi_lower_bound"])
        warn = [w for w in open_alerts if city in (w.get("cities") or []) and
                w["kind"] in kinds and w["state"] in ("active", "acknowledged") and
                w.get("level") and not w.get("exercise")]
        warn.sort(key=lambda w: w["opened_at"])
        wz = "；".join(f"{titles.get(w['rule_id'], ('', ''))[0] or w['kind']}"
                      f"（{NAME_ZH.get(w['level'], w['level'])}）" for w in warn)
        we = "; ".join(f"{titles.get(w['rule_id'], ('', ''))[1] or w['kind']} ({w['level']})"
                       for w in warn)
        f = forecasts.get(city) or {}
        fq = f.get("aqi_q50")
        rows.append({
            "city": city, "name_zh": c.name_zh, "name_en": c.name_en, "day": day.isoformat(),
            "aqi": value, "aqi_lower_bound": bound if value is None else None,
            "category_zh": _category(value, "zh"), "category_en": _category(value, "en"),
            "primary": a.get("primary") or None,
            "primary_zh": _pollutants(cat, a.get("primary"), "zh"),
            "primary_en": _pollutants(cat, a.get("primary"), "en"),
            "warnings": ",".join(f"{w['kind']}:{w['level']}" for w in warn),
            "warnings_zh": wz or "无", "warnings_en": we or "none",
            "warning_ids": ",".join(w["id"] for w in warn),
            "forecast_day": (day + timedelta(days=2)).isoformat(),
            "forecast_aqi_q10": f.get("aqi_q10"), "forecast_aqi_q50": fq,
            "forecast_aqi_q90": f.get("aqi_q90"),
            "forecast_category_zh": _category(fq, "zh"),
            "forecast_category_en": _category(fq, "en"),
            "forecast_primary": f.get("primary"),
            "forecast_issue_time": f.get("issue_time"), "forecast_model": f.get("model")})
    cols = list(rows[0]) if rows else ["city", "day", "aqi"]
    sent = day + timedelta(days=1)
    zh = [f"{day} 日空气质量（北京时间自然日，HJ 633 日 AQI）；{sent + timedelta(days=1)} 日预报",
          "预警：" + ("；".join(f"{r['name_zh']} {r['warnings_zh']}" for r in rows
                             if r["warnings"]) or "无")]
    en = [f"Air quality of {day} (CST day, HJ 633 daily AQI); forecast for "
          f"{sent + timedelta(days=1)}",
          "Warnings in force: " + ("; ".join(f"{r['name_en']}: {r['warnings_en']}"
                                             for r in rows if r["warnings"]) or "none")]
    period = day.isoformat()
    return Bulletin("daily", period, f"空气质量日报（{day}）", f"Daily air-quality summary ({day})",
                    cols, ["城市", "日 AQI", "类别", "首要污染物", "预警", "明日 AQI 预报",
                           "明日类别"],
                    ["City", "Daily AQI", "Category", "Primary pollutant", "Warnings",
                     "Tomorrow's AQI", "Tomorrow's category"], rows, zh, en,
                    columns_zh=["name_zh", "aqi", "category_zh", "primary_zh", "warnings_zh",
                                "forecast_aqi_q50", "forecast_category_zh"],
                    columns_en=["name_en", "aqi", "category_en", "primary_en", "warnings_en",
                                "forecast_aqi_q50", "forecast_category_en"])


# ---------------------------------------------------------------------- PDF
def cjk_font(setting: str | Path | None = None) -> str | None:
    """A font file with Chinese glyphs: ``setting`` when given, else a known system one."""
    for p in ([str(setting)] if setting else []) + list(FONT_CANDIDATES):
        if p and Path(p).is_file():
            return p
    return None


def render_pdf(b: Bulletin, lang: str = "zh", font: str | None = None) -> bytes:
    """An A4 landscape PDF (fpdf2): title, summary and table. Chinese needs a CJK font
    (``font`` or a system one); without one the PDF is in English."""
    from fpdf import FPDF
    font = font or cjk_font()
    if lang == "zh" and font is None:
        log.warning("no CJK font found: the %s PDF is in English", b.name)
        lang = "en"
    pdf = FPDF(orientation="L", unit="mm", format="A4")
    pdf.set_title(b.title(lang))
    pdf.set_subject(f"fenwei {b.kind} {b.period}")
    pdf.set_creator("Fenwei alerts")
    pdf.set_creation_date(b.generated_at or datetime.now(timezone.utc))
    path = font or (LATIN_FONT if Path(LATIN_FONT).is_file() else None)
    if path:
        pdf.add_font("body", "", path)
        pdf.add_font("body", "B", path)       # table headings (no bold face: the same)
        family = "body"
    else:
        family = "helvetica"
    pdf.add_page()
    pdf.set_font(family, size=15)
    pdf.multi_cell(0, 9, _safe(b.title(lang), family), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(family, size=9)
    for line in (b.summary_en if lang == "en" else b.summary_zh):
        pdf.multi_cell(0, 5, _safe(line, family), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
    heads = b.headers_en if lang == "en" else b.headers_zh
    shown = b._shown(lang)
    if b.rows:
        with pdf.table(text_align="LEFT", line_height=5) as table:
            row = table.row()
            for h in heads:
                row.cell(_safe(h, family))
            for r in b.rows:
                row = table.row()
                for c in shown:
                    row.cell(_safe(_show(r.get(c)), family))
    else:
        pdf.cell(0, 6, "No rows." if lang == "en" else "无记录。")
    pdf.ln(4)
    pdf.set_font(family, size=7)
    made = (b.generated_at or datetime.now(timezone.utc)).astimezone(CST)
    pdf.cell(0, 4, f"Fenwei · {b.name} · {made:%Y-%m-%d %H:%M} CST")
    return bytes(pdf.output())


def _safe(text: str, family: str) -> str:
    """Core fonts hold Latin-1 only."""
    if family != "helvetica":
        return text
    return text.replace("—", "-").replace("✓", "yes").replace("✗", "no").replace(
        "·", "-").encode("latin-1", "replace").decode("latin-1")


# ---------------------------------------------------------------------- schedule
def _at(value: str) -> time:
    return time.fromisoformat(value)


def last_due(kind: str, now: datetime, at: str) -> tuple[datetime, str]:
    """(the latest scheduled instant at or before ``now``, the period it reports) for a
    bulletin sent at ``at`` (HH:MM, CST): daily every day (yesterday), monday on Mondays
    (the week before), monthly on the 1st (the month before), yearly on 1 January."""
    local = now.astimezone(CST)
    t = _at(at)
    today = local.date()
    if kind == "daily":
        day = today if local.time() >= t else today - timedelta(days=1)
        return datetime.combine(day, t, CST), (day - timedelta(days=1)).isoformat()
    if kind == "monday":
        day = today - timedelta(days=today.weekday())
        if day == today and local.time() < t:
            day -= timedelta(days=7)
        return datetime.combine(day, t, CST), day.isoformat()
    if kind == "monthly":
        day = today.replace(day=1)
        if day == today and local.time() < t:
            day = (day - timedelta(days=1)).replace(day=1)
        prev = (day - timedelta(days=1))
        return datetime.combine(day, t, CST), f"{prev.year}-{prev.month:02d}"
    if kind == "yearly":
        day = date(today.year, 1, 1)
        if day == today and local.time() < t:
            day = date(today.year - 1, 1, 1)
        return datetime.combine(day, t, CST), str(day.year - 1)
    raise ValueError(f"unknown bulletin {kind!r}")


def month_days(period: str) -> int:
    y, m = (int(x) for x in period.split("-"))
    return calendar.monthrange(y, m)[1]


# ---------------------------------------------------------------------- delivery
class Reporter:
    """Sends due bulletins: each check (the alert service's scheduler, on its clock) finds,
    per subscription (recipient, channel, bulletin), the latest scheduled instant; when it is
    at most ``late_max`` old and that period was not yet delivered on that channel, builds
    and sends it. What was delivered is recorded in the state database (``rule_state`` rows
    of rule ``report:<kind>``), so a restart sends nothing twice and a failure is retried at
    the next check."""

    def __init__(self, svc) -> None:
        self.svc = svc
        self.checks = 0          # passes made (tests await them)
        self.sent: list[tuple[str, str, str, str]] = []   # (kind, period, recipient, channel)

    # -- what is due
    def subscriptions(self):
        """(recipient, channel index, channel spec, subscription) for every report channel."""
        for r in self.svc.directory.by_id.values():
            for sub in r.reports:
                for idx, ch in enumerate(r.channels):
                    if ch.type in ("email", "wecom", "dingtalk") and (
                            not sub.channels or ch.type in sub.channels):
                        yield r, idx, ch, sub

    def check(self, now: datetime | None = None) -> int:
        """One pass: send what is due now; returns the deliveries made."""
        s = self.svc.settings
        now = now or self.svc.clock.now()
        late = parse_duration(s.report_late_max)
        built: dict = {}
        n = 0
        for r, idx, ch, sub in list(self.subscriptions()):
            at, period = last_due(sub.report, now, s.report_times[sub.report])
            if now - at > late:
                continue
            key = (f"report:{sub.report}", f"{r.id}|{idx}|{period}"[:96])
            if self._done(key):
                continue
            cities = tuple(sub.cities) or self.svc.report_cities(r)
            bkey = (sub.report, period, cities if sub.report == "daily" else ())
            try:
                if bkey not in built:
                    built[bkey] = self.svc.bulletin(sub.report, period, cities=list(cities),
                                                    now=now)
                self._send(built[bkey], r, idx, ch, sub.lang or ch.lang or r.lang)
            except Exception as exc:  # noqa: BLE001 - recorded, retried at the next check
                log.warning("bulletin %s %s to %s via %s failed: %s", sub.report, period, r.id,
                            ch.type, exc)
                self._record(key, "failed", now, str(exc)[:300])
                continue
            self._record(key, "sent", now)
            self.sent.append((sub.report, period, r.id, ch.type))
            n += 1
        self.checks += 1
        return n

    def _done(self, key) -> bool:
        import sqlalchemy as sa

        from ._db import rule_state
        with self.svc.engine.connect() as c:
            return c.execute(sa.select(rule_state.c.status).where(
                rule_state.c.rule_id == key[0], rule_state.c.subject == key[1])
            ).scalar() == "sent"

    def _record(self, key, status: str, now: datetime, error: str = "") -> None:
        import sqlalchemy as sa

        from ._db import rule_state
        with self.svc.engine.begin() as c:
            old = c.execute(sa.select(rule_state.c.state).where(
                rule_state.c.rule_id == key[0], rule_state.c.subject == key[1])).scalar()
            state = {"attempts": (old or {}).get("attempts", 0) + 1, "error": error}
            if old is None:
                c.execute(rule_state.insert().values(
                    rule_id=key[0], subject=key[1], state=state, status=status, level=None,
                    retrospective=False, observed_at=now, updated_at=now))
            else:
                c.execute(rule_state.update().where(
                    rule_state.c.rule_id == key[0], rule_state.c.subject == key[1]).values(
                    state=state, status=status, updated_at=now))

    # -- sending
    def _send(self, b: Bulletin, r, idx: int, ch, lang: str) -> None:
        from .channels import Delivery
        key = f"report-{b.name}-{r.id}-{idx}"
        if ch.type == "email":
            msg = self.email(b, lang, ch.to, key)
            self.svc.report_mailer().send(Delivery(0, key, "report", ",".join(ch.to),
                                                   {"to": ch.to, "lang": lang},
                                                   {"message": msg}))
            return
        other = "en" if lang == "zh" else "zh"
        body = {"text_zh": b.markdown("zh"), "text_en": b.markdown("en"), "kind": b.kind}
        if lang == "zh":   # the other language follows, when it fits the robot's limit
            body["text_zh"] += "\n\n" + b.markdown(other, max_rows=0)
        robot = self.svc.report_channel(ch.type)
        robot.send(Delivery(0, key, "report", ch.url, {"msgtype": "markdown", "lang": lang},
                            body, ch.resolve_secret()))

    def email(self, b: Bulletin, lang: str, to: list[str], key: str):
        """The e-mail of a bulletin: text in ``lang`` then the other language, CSV and PDF
        attached."""
        from email.message import EmailMessage
        from email.utils import formatdate
        other = "en" if lang == "zh" else "zh"
        msg = EmailMessage()
        msg["Subject"] = b.title(lang)
        msg["From"] = self.svc.settings.smtp_from
        msg["To"] = ", ".join(to)
        msg["Date"] = formatdate(localtime=False)
        msg["Message-ID"] = f"<{key}@fenwei.reports>"
        msg["X-Fenwei-Report"] = f"{b.kind} {b.period}"
        msg["X-Fenwei-Idempotency-Key"] = key
        msg.set_content(b.markdown(lang) + "\n\n---\n\n" + b.markdown(other))
        msg.add_attachment(b.csv(), maintype="text", subtype="csv",
                           filename=f"{b.name}.csv")
        msg.add_attachment(b.pdf(lang, cjk_font(self.svc.settings.report_font)),
                           maintype="application", subtype="pdf", filename=f"{b.name}.pdf")
        return msg
