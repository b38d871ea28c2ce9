// The history explorer's chart: a grid per parameter, a line per station (valid values), the
// flagged values marked by class, the neighbours' median dashed, the standard's limits, the
// screening findings shaded; brush (toolbox) and dataZoom zoom every grid together.
import { limitSegments, splitByFlag, stepOf } from "./explore.js";
import { lang, t } from "./i18n.js";
import { CST_OFFSET_MS, cstText } from "./util.js";

// station colours: none red, amber or purple (the limit and the flag marks use those)
const PALETTE = ["#1f77b4", "#2ca02c", "#17becf", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
  "#393b79", "#637939", "#5254a3"];
// How each flag class is drawn (docs/services/dashboard.md, "History explorer").
export const MARKS = {
  maintenance: { symbol: "rect", color: "#b7791f", size: 8 },    // M, C
  invalid: { symbol: "diamond", color: "#b00020", size: 9 },     // F, D, S, B, other
  above_range: { symbol: "triangle", color: "#6a1b9a", size: 9 },   // T: a lower bound
  insufficient: { symbol: "emptyCircle", color: "#555", size: 8 },  // day/month below the rule
};
const LIMIT_COLOUR = "#c62828";
const GRID_H = 210;

const shift = (ms) => ms + CST_OFFSET_MS;   // the chart runs in UTC: shifted, it reads CST

/**
 * series: buildSeries() output; params: [{name, unit, name_zh, name_en}]; stations: ids in
 * order; label(id): a station's name; medians: {station|param: [[ms, v]]}; findings: the
 * screening's; range: {startMs, endMs}.
 */
export function explorerOption({ series, params, stations, label, aggregation, medians = {},
  findings = [], range }) {
  const colour = Object.fromEntries(stations.map((s, i) => [s, PALETTE[i % PALETTE.length]]));
  const grids = params.map((p, i) => ({ left: 64, right: 110, top: 48 + i * (GRID_H + 28),
    height: GRID_H }));
  const xAxis = params.map((p, i) => ({ type: "time", gridIndex: i, min: shift(range.startMs),
    max: shift(range.endMs), axisLabel: { hideOverlap: true, show: i === params.length - 1 } }));
  const yAxis = params.map((p, i) => ({ type: "value", gridIndex: i, scale: false,
    name: `${(lang() === "en" ? p.name_en : p.name_zh) || p.name} ${p.unit || ""}`,
    nameTextStyle: { align: "left" } }));
  const out = [];
  params.forEach((p, i) => {
    const mine = series.filter((s) => s.param === p.name);
    const marked = Object.fromEntries(Object.keys(MARKS).map((k) => [k, []]));
    for (const s of mine) {
      const { line, marks } = splitByFlag(s.points, stepOf(aggregation, s.points));
      out.push({ type: "line", name: label(s.station), id: `line:${s.station}:${p.name}`,
        xAxisIndex: i, yAxisIndex: i, data: line.map(([x, v]) => [shift(x), v]),
        showSymbol: line.length < 200, symbolSize: 4, connectNulls: false,
        sampling: line.length > 4000 ? "lttb" : undefined, lineStyle: { width: 1.5 },
        itemStyle: { color: colour[s.station] }, emphasis: { disabled: true },
        markArea: findingAreas(findings, s.station, p.name) });
      for (const [cls, pts] of Object.entries(marks)) {
        for (const [x, v, f, n] of pts) marked[cls].push({ value: [shift(x), v], station: s.station, flag: f, count: n });
      }
      const med = medians[`${s.station}|${p.name}`];
      if (med) {
        out.push({ type: "line", name: t("neighbourMedian"), id: `median:${s.station}:${p.name}`,
          xAxisIndex: i, yAxisIndex: i, data: med.map(([x, v]) => [shift(x), v]), showSymbol: false,
          lineStyle: { type: "dashed", width: 1, color: colour[s.station], opacity: 0.7 },
          itemStyle: { color: "#888" }, station: s.station });
      }
    }
    for (const [cls, data] of Object.entries(marked)) {
      if (!data.length) continue;
      const m = MARKS[cls];
      out.push({ type: "scatter", name: t(`flagClass.${cls}`), id: `flag:${cls}:${p.name}`,
        xAxisIndex: i, yAxisIndex: i, data, symbol: m.symbol, symbolSize: m.size, z: 5,
        large: data.length > 2000, itemStyle: { color: m.color } });
    }
    const limits = limitSegments(p.name, aggregation, range.startMs, range.endMs);
    if (limits.length) {
      const data = [];
      for (const l of limits) data.push([shift(l.from), l.value], [shift(l.to), l.value], [shift(l.to), null]);
      out.push({ type: "line", name: t("limit"), id: `limit:${p.name}`, xAxisIndex: i,
        yAxisIndex: i, data, showSymbol: false, connectNulls: false, silent: true,
        lineStyle: { type: "dashed", color: LIMIT_COLOUR, width: 1.5 },
        itemStyle: { color: LIMIT_COLOUR }, tooltip: { show: false },
        endLabel: { show: true, fontSize: 10, color: LIMIT_COLOUR,
          formatter: () => `${t(`limitSpan.${limits.at(-1).span}`)} ${limits.at(-1).value}` },
        limits });
    }
  });
  const names = [...new Set(out.map((s) => s.name))];
  return {
    useUTC: true,
    animation: false,
    grid: grids,
    xAxis,
    yAxis,
    legend: { top: 4, left: 8, right: 120, type: "scroll", data: names },
    tooltip: { trigger: "item", formatter: (p) => tip(p, aggregation) },
    axisPointer: { link: [{ xAxisIndex: "all" }] },
    toolbox: { right: 10, top: 0, feature: { dataZoom: { xAxisIndex: "all", yAxisIndex: false,
      title: { zoom: t("brushZoom"), back: t("zoomBack") } }, restore: { title: t("zoomReset") } } },
    dataZoom: [{ type: "inside", xAxisIndex: params.map((_, i) => i), filterMode: "none" },
      { type: "slider", xAxisIndex: params.map((_, i) => i), filterMode: "none", height: 22,
        bottom: 6, labelFormatter: (v) => cstText(v - CST_OFFSET_MS, lang()) }],
    series: out,
  };
}

/** The height the chart needs for ``n`` parameters. */
export function explorerHeight(n) {
  return 48 + Math.max(1, n) * (GRID_H + 28) + 40;
}

function findingAreas(findings, station, param) {
  const mine = findings.filter((f) => f.station === station && f.param === param);
  if (!mine.length) return undefined;
  return { silent: true, itemStyle: { color: "rgba(176, 0, 32, 0.08)" },
    data: mine.map((f) => [{ xAxis: shift(Date.parse(f.start)), name: f.rule },
      { xAxis: shift(Date.parse(f.end)) }]) };
}

function tip(p, aggregation) {
  if (!Array.isArray(p.value) || p.value[1] === null || p.value[1] === undefined) return "";
  const when = cstText(p.value[0] - CST_OFFSET_MS, lang());
  const d = p.data || {};
  const lines = [`${when} (CST)`, `${p.marker}${d.station ? `${d.station} · ` : ""}${p.seriesName}: ${fmt(p.value[1])}`];
  if (d.flag && d.flag !== "insufficient") lines.push(`${t("flag")}: ${d.flag} ${t(`flags.${d.flag}`)}`);
  if (d.flag === "insufficient") {
    lines.push(`${t("validCount")}: ${d.count ?? "–"} (${t(`validityRule.${aggregation}`)})`);
  }
  return lines.join("<br>");
}

function fmt(v) {
  return Math.abs(v) >= 100 ? v.toFixed(0) : Number(v.toPrecision(4)).toString();
}
