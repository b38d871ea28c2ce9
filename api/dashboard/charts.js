// The 7-day chart with the forecast fan ahead, and river sections against their targets.
import { NO_DATA, levelColour, visualPieces } from "./aqi.js";
import { lang, t } from "./i18n.js";
import { cstAxis, cstText } from "./util.js";

const FAN = "rgba(94, 124, 226, 0.25)";
const MEDIAN = "#3a57c4";

function axisTime(v) {
  // values are shifted to CST and the chart runs in UTC, so these read as Beijing time
  const d = new Date(v);
  const p = (n) => String(n).padStart(2, "0");
  return d.getUTCHours() === 0 ?
    `{day|${p(d.getUTCMonth() + 1)}-${p(d.getUTCDate())}}` : `${p(d.getUTCHours())}:00`;
}

/**
 * history: {rows:[{time, aqi}]} or null; pm25: fallback rows [{time, value}] or null;
 * forecast: the /forecasts/.../latest body or null; nowMs: the data clock.
 */
export function historyOption({ title, history, pm25, forecast, nowMs }) {
  const observed = (history || []).map((r) => [cstAxis(r.time), r.aqi ?? null]);
  const usePm = !observed.some((p) => p[1] !== null) && pm25 && pm25.length > 0;
  const obsData = usePm ? pm25.map((r) => [cstAxis(r.time), r.value]) : observed;
  const fc = (forecast && forecast.aqi) || [];
  const lower = fc.map((r) => [cstAxis(r.time), r.aqi_q10]);
  const band = fc.map((r) => [cstAxis(r.time), r.aqi_q90 - r.aqi_q10]);
  const median = fc.map((r) => [cstAxis(r.time), r.aqi_q50]);
  const pHigh = Object.fromEntries(fc.map((r) => [cstAxis(r.time), r.p_aqi_gt_200]));
  const yName = usePm ? "PM2.5 µg/m³" : t("aqi");
  const series = [
    { type: "line", name: usePm ? "PM2.5" : t("observed"), data: obsData, showSymbol: false,
      connectNulls: false, lineStyle: { width: 2 }, z: 3,
      markLine: { silent: true, symbol: "none", label: { formatter: t("now") },
        lineStyle: { color: "#555", type: "dashed" }, data: [{ xAxis: cstAxis(nowMs) }] } },
  ];
  if (fc.length) {
    series.push(
      { type: "line", name: "q10", data: lower, stack: "fan", showSymbol: false,
        lineStyle: { opacity: 0 }, tooltip: { show: false } },
      { type: "line", name: t("fan"), data: band, stack: "fan", showSymbol: false,
        lineStyle: { opacity: 0 }, areaStyle: { color: FAN }, itemStyle: { color: FAN } },
      { type: "line", name: t("median"), data: median, showSymbol: false,
        lineStyle: { color: MEDIAN, type: "dashed", width: 2 }, itemStyle: { color: MEDIAN } });
  }
  const end = fc.length ? Math.max(...fc.map((r) => cstAxis(r.time))) : cstAxis(nowMs);
  return {
    useUTC: true,
    animation: false,
    title: { text: title, left: 8, top: 4, textStyle: { fontSize: 14 },
      subtext: usePm ? t("pm25Fallback") : (fc.length ?
        `${t("forecast")}: ${forecast.model || ""} ${cstText(forecast.issue_time, lang())}` : ""),
      subtextStyle: { fontSize: 11 } },
    grid: { left: 52, right: 24, top: 78, bottom: 48 },
    legend: { right: 10, top: 6, data: series.map((s) => s.name).filter((n) => n !== "q10") },
    tooltip: { trigger: "axis", formatter: (ps) => tooltip(ps, yName, pHigh) },
    xAxis: { type: "time", min: cstAxis(nowMs) - 7 * 86400000, max: end,
      axisLabel: { formatter: axisTime, rich: { day: { fontWeight: "bold" } }, hideOverlap: true } },
    yAxis: { type: "value", name: yName, min: 0 },
    visualMap: usePm ? undefined : { show: false, type: "piecewise", seriesIndex: 0,
      dimension: 1, pieces: visualPieces(), outOfRange: { color: NO_DATA } },
    series,
  };
}

function tooltip(ps, yName, pHigh) {
  if (!ps.length) return "";
  const when = cstText(ps[0].value[0] - 8 * 3600000, lang());
  const lines = [when];
  let q10 = null;
  for (const p of ps) {
    if (p.seriesName === "q10") { q10 = p.value[1]; continue; }
    if (p.seriesName === t("fan") && q10 !== null) {
      lines.push(`${p.marker}${t("fan")}: ${Math.round(q10)}–${Math.round(q10 + p.value[1])}`);
      continue;
    }
    if (p.value[1] === null || p.value[1] === undefined) continue;
    lines.push(`${p.marker}${p.seriesName}: ${Math.round(p.value[1])}`);
  }
  const ph = pHigh[ps[0].value[0]];
  if (ph !== undefined && ph !== null) lines.push(`P(AQI>200) = ${Math.round(ph * 100)}%`);
  return lines.join("<br>");
}

const RIVER_LEVEL_COLOURS = { ok: "#2e9d4f", clear: "#2e9d4f", dry: "#5b3a1a" };

export function riverLevelColour(level) {
  return RIVER_LEVEL_COLOURS[level || "ok"] || levelColour(level);
}

/** rows: /ecoflow/status; sections: the catalogue's, to name and order them. */
export function ecoflowOption(rows, sections) {
  const order = Object.fromEntries(sections.map((s, i) => [s.id, i]));
  const byId = Object.fromEntries(sections.map((s) => [s.id, s]));
  const sorted = [...rows].sort((a, b) => (order[a.section] ?? 99) - (order[b.section] ?? 99));
  const names = sorted.map((r) => (lang() === "zh" ? r.name_zh : byId[r.section]?.name_en) ||
    r.name_zh || r.section);
  return {
    animation: false,
    grid: { left: 52, right: 16, top: 36, bottom: 40 },
    legend: { top: 4, right: 10, data: [t("flow"), t("target")] },
    tooltip: { trigger: "axis", axisPointer: { type: "shadow" }, formatter: (ps) => {
      const r = sorted[ps[0].dataIndex];
      return `${names[ps[0].dataIndex]} (${r.day || ""})<br>${t("flow")}: ${num(r.q_mean)} m³/s` +
        `<br>${t("target")}: ${num(r.target)} m³/s<br>${t(`riverLevels.${r.level || "ok"}`)}`;
    } },
    xAxis: { type: "category", data: names, axisLabel: { interval: 0, fontSize: 11 } },
    yAxis: { type: "value", name: "m³/s", min: 0 },
    series: [
      { type: "bar", name: t("flow"), barMaxWidth: 28,
        data: sorted.map((r) => ({ value: r.q_mean, itemStyle: { color: riverLevelColour(r.level) } })),
        itemStyle: { color: "#2e9d4f" } },
      { type: "scatter", name: t("target"), symbol: "rect", symbolSize: [34, 3],
        itemStyle: { color: "#111" }, data: sorted.map((r) => r.target), z: 5 },
    ],
  };
}

function num(v) {
  return v === null || v === undefined ? "–" : Number(v).toFixed(1);
}
