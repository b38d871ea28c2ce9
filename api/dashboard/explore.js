// The history explorer's pure logic: the selection as API queries, the export CSV read back,
// rows into per-station series with their flags, neighbourhoods and their median, and the
// standard's limits by date. No DOM here: tests/api/test_dashboard_explorer.py runs it in Node.
import { CST_OFFSET_MS } from "./util.js";

export const AGGREGATIONS = ["raw", "hourly", "daily", "monthly"];
const DAY = 86400000;
// The longest range charted per aggregation (the export takes any range the API does): a
// year of hourly data for 20 stations is 175,200 points, which the chart still draws at once.
export const MAX_DAYS = { raw: 31, hourly: 400, daily: 3660, monthly: 3660 };

// HJ 212-2017 flags (DOMAIN.md section 5): N and T count (T as a lower bound); M and C are
// maintenance and calibration; F, D, S, B and any other letter are invalid.
export const FLAG_CLASS = { N: "valid", T: "above_range", M: "maintenance", C: "maintenance" };

/** "valid", "above_range", "maintenance", "invalid", or "insufficient" (a daily or monthly
 * value below the validity rule); null for no value. */
export function flagClass(flag) {
  if (flag === null || flag === undefined || flag === "") return "valid";
  return FLAG_CLASS[flag] || (flag === "insufficient" ? "insufficient" : "invalid");
}

/** A CST calendar day "2027-01-05" as the UTC instant its CST day starts. */
export function cstDayStart(day) {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(day || "");
  if (!m) return null;
  return Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])) - CST_OFFSET_MS;
}

/** ISO text with the +08:00 offset for an instant. */
export function cstIso(ms) {
  return `${new Date(ms + CST_OFFSET_MS).toISOString().slice(0, 19)}+08:00`;
}

/**
 * The selection {kind, cities, stations, sections, params, from, to, aggregation} (from/to:
 * CST days, both included) as query parameters, or {error} naming what is wrong.
 */
export function selectionQuery(sel) {
  const start = cstDayStart(sel.from);
  const last = cstDayStart(sel.to);
  if (start === null || last === null) return { error: "badRange" };
  if (last < start) return { error: "badRange" };
  const end = last + DAY;
  const agg = AGGREGATIONS.includes(sel.aggregation) ? sel.aggregation : "hourly";
  if ((end - start) / DAY > MAX_DAYS[agg]) return { error: "tooLong", days: MAX_DAYS[agg] };
  const has = (k) => (sel[k] || []).length > 0;
  if (!has("stations") && !has("cities") && !has("sections")) return { error: "noStations" };
  const q = { kind: has("sections") ? "hydro" : sel.kind || "air", start: cstIso(start),
    end: cstIso(end) };
  for (const k of ["stations", "cities", "sections", "params"]) if (has(k)) q[k] = sel[k].join(",");
  return { query: q, aggregation: agg, startMs: start, endMs: end };
}

/** The station ids a selection covers, as the API resolves them (api/workbench/_export.py):
 * stations as given, then each city's stations of the kind, then each section's gauge. */
export function resolveStations(sel, cat) {
  const kind = (sel.sections || []).length ? "hydro" : sel.kind || "air";
  const all = Object.values(cat.stations);
  const out = [...(sel.stations || [])];
  for (const c of sel.cities || []) out.push(...all.filter((s) => s.city === c && s.kind === kind).map((s) => s.id));
  for (const s of sel.sections || []) if (cat.sections[s]) out.push(cat.sections[s].station);
  return [...new Set(out)];
}

/** CSV text (RFC 4180: quoted fields, doubled quotes, CRLF or LF) as an array of records. */
export function parseCsv(text) {
  const rows = [];
  let row = [];
  let field = "";
  let quoted = false;
  let i = 0;
  const n = text.length;
  while (i < n) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') { field += '"'; i += 2; continue; }
      if (ch === '"') { quoted = false; i += 1; continue; }
      field += ch; i += 1; continue;
    }
    if (ch === '"') { quoted = true; i += 1; continue; }
    if (ch === ",") { row.push(field); field = ""; i += 1; continue; }
    if (ch === "\r" || ch === "\n") {
      row.push(field); rows.push(row); row = []; field = "";
      i += ch === "\r" && text[i + 1] === "\n" ? 2 : 1;
      continue;
    }
    field += ch; i += 1;
  }
  if (field !== "" || row.length) { row.push(field); rows.push(row); }
  return rows;
}

/** GET /export's CSV: its "# key: text" header lines and its rows as objects (numbers,
 * booleans for the *_valid columns, null for empty cells; times as epoch ms). */
export function readExport(text) {
  const header = [];
  let at = 0;
  while (text.startsWith("# ", at)) {
    const nl = text.indexOf("\n", at);
    header.push(text.slice(at + 2, nl < 0 ? text.length : nl));
    at = nl < 0 ? text.length : nl + 1;
  }
  // no quote anywhere (the export quotes nothing in its rows): plain splits, ~10x faster on
  // a year of hourly data for 20 stations (175,200 rows)
  const rest = text.slice(at);
  const [cols = [], ...body] = rest.includes('"') ? parseCsv(rest) :
    rest.split(/\r?\n/).filter((ln) => ln !== "").map((ln) => ln.split(","));
  const seen = new Map();   // stations share their times: each parsed once
  const when = (v) => {
    let ms = seen.get(v);
    if (ms === undefined) { ms = Date.parse(v); seen.set(v, ms); }
    return ms;
  };
  const conv = cols.map((c) => (c === "time" ? when :
    ["station", "city", "period"].includes(c) || c.endsWith("_flag") ? (v) => v || null :
      c.endsWith("_valid") ? (v) => (v === "" ? null : v === "True" || v === "true") :
        (v) => (v === "" ? null : Number(v))));
  const rows = body.filter((r) => r.length === cols.length).map((r) => {
    const o = {};
    for (let j = 0; j < cols.length; j += 1) o[cols[j]] = conv[j](r[j]);
    return o;
  });
  return { header, columns: cols, rows };
}

/** /series JSON rows (raw, with flags) in the export's shape: times as epoch ms. */
export function readSeriesRows(rows) {
  return rows.map((r) => ({ ...r, time: Date.parse(r.time) }));
}

/**
 * Rows (export or series shape) as one series per station and parameter:
 * {station, param, points: [[ms, value, flag]]} with flag an HJ 212 letter, or for daily and
 * monthly rows null when the bucket meets the validity rule and "insufficient" when not
 * (the count rides along as the fourth element). Ordered as ``stations``, then ``params``.
 */
export function buildSeries(rows, aggregation, stations, params) {
  const bucketed = aggregation === "daily" || aggregation === "monthly";
  const out = new Map();
  for (const s of stations) for (const p of params) out.set(`${s}|${p}`, { station: s, param: p, points: [] });
  for (const r of rows) {
    for (const p of params) {
      const s = out.get(`${r.station}|${p}`);
      if (!s) continue;
      if (bucketed) {
        const v = r[`${p}_mean`];
        if (v === null || v === undefined) continue;
        s.points.push([r.time, v, r[`${p}_valid`] ? null : "insufficient", r[`${p}_count`]]);
      } else {
        const v = r[p];
        if (v === null || v === undefined) continue;
        s.points.push([r.time, v, r[`${p}_flag`] ?? null]);
      }
    }
  }
  for (const s of out.values()) s.points.sort((a, b) => a[0] - b[0]);
  return [...out.values()];
}

/** The usual step between readings of an aggregation (raw: the smallest step seen). */
export function stepOf(aggregation, points) {
  const fixed = { hourly: 3600000, daily: DAY, monthly: 31 * DAY }[aggregation];
  if (fixed) return fixed;
  let best = Infinity;
  for (let i = 1; i < points.length; i += 1) {
    const d = points[i][0] - points[i - 1][0];
    if (d > 0 && d < best) best = d;
  }
  return Number.isFinite(best) ? best : 3600000;
}

/** The line (valid values; null at invalid ones and after a missing step, so that the line
 * breaks there: missing data never reads as a value) and the marked points by flag class.
 * A value above the measuring range (T) is on the line and marked. */
export function splitByFlag(points, step = Infinity) {
  const line = [];
  const marks = { above_range: [], maintenance: [], invalid: [], insufficient: [] };
  let prev = null;
  for (const [t, v, f, n] of points) {
    if (prev !== null && t - prev > step * 1.5) line.push([prev + step, null]);
    prev = t;
    const cls = flagClass(f);
    line.push([t, cls === "valid" || cls === "above_range" ? v : null]);
    if (cls !== "valid") marks[cls].push([t, v, f, n]);
  }
  return { line, marks };
}

function distanceKm(a, b) {
  const r = Math.PI / 180;
  const dp = (b.lat - a.lat) * r;
  const dl = (b.lon - a.lon) * r;
  const h = Math.sin(dp / 2) ** 2 + Math.cos(a.lat * r) * Math.cos(b.lat * r) * Math.sin(dl / 2) ** 2;
  return 2 * 6371 * Math.asin(Math.sqrt(h));
}

/** The stations of the same kind within ``radiusKm`` of ``id``, nearest first, at most
 * ``limit``: the screening's neighbourhood (docs/services/workbench.md: 60 km, 8). */
export function neighboursOf(id, stations, radiusKm = 60, limit = 8) {
  const me = stations[id];
  if (!me) return [];
  return Object.values(stations)
    .filter((s) => s.id !== id && s.kind === me.kind && Number.isFinite(s.lat) && Number.isFinite(s.lon))
    .map((s) => [distanceKm(me, s), s.id])
    .filter(([d]) => d <= radiusKm)
    .sort((a, b) => a[0] - b[0] || (a[1] < b[1] ? -1 : 1))
    .slice(0, limit)
    .map(([, sid]) => sid);
}

/** Per time, the median of the valid values of ``series`` (those of the neighbours):
 * [[ms, median]] in time order; times with no valid value are left out. */
export function medianLine(series) {
  const at = new Map();
  for (const s of series) {
    for (const [t, v, f] of s.points) {
      const cls = flagClass(f);
      if (cls !== "valid" && cls !== "above_range") continue;
      if (!at.has(t)) at.set(t, []);
      at.get(t).push(v);
    }
  }
  return [...at.entries()].sort((a, b) => a[0] - b[0]).map(([t, vs]) => {
    vs.sort((a, b) => a - b);
    const m = vs.length >> 1;
    return [t, vs.length % 2 ? vs[m] : (vs[m - 1] + vs[m]) / 2];
  });
}

// GB 3095 secondary-class (二级) concentration limits, µg/m³ (CO mg/m³), by stage. The API
// does not serve them; they are the IAQI-100 breakpoints of the 24 h tables of HJ 633 (which
// are built on them) and the 1 h limits of GB 3095-2012 Table 1. Stage 2026 (in force from
// 2026-03-01 CST, transitional until 2030-12-31) lowers the PM2.5 and PM10 24 h limits to 60
// and 120 (DOMAIN.md section 3; not yet checked against the official text).
export const LIMITS = [
  { from: null, source: "GB 3095-2012",
    day: { pm25: 75, pm10: 150, so2: 150, no2: 80, co: 4, o3: 160 },
    hour: { so2: 500, no2: 200, co: 10, o3: 200 } },
  { from: "2026-03-01", source: "GB 3095-2026",
    day: { pm25: 60, pm10: 120, so2: 150, no2: 80, co: 4, o3: 160 },
    hour: { so2: 500, no2: 200, co: 10, o3: 200 } },
];

/**
 * The limits to draw for ``param`` over [startMs, endMs): segments {from, to, value, span
 * ("day" or "hour"), source}. Daily and monthly values meet the 24 h limit (O3: the 8 h
 * limit, as its daily value is the maximum 8 h mean); raw and hourly values meet the 1 h
 * limit where there is one, else the 24 h one for reference.
 */
export function limitSegments(param, aggregation, startMs, endMs) {
  const out = [];
  LIMITS.forEach((stage, i) => {
    const from = Math.max(startMs, stage.from ? cstDayStart(stage.from) : -Infinity);
    const next = LIMITS[i + 1];
    const to = Math.min(endMs, next ? cstDayStart(next.from) : Infinity);
    if (from >= to) return;
    const bucketed = aggregation === "daily" || aggregation === "monthly";
    const span = !bucketed && stage.hour[param] !== undefined ? "hour" : "day";
    const value = stage[span][param];
    if (value === undefined) return;
    out.push({ from, to, value, span: param === "o3" && span === "day" ? "8h" : span,
      source: stage.source });
  });
  return out;
}

/** Per station and parameter, the completeness report's shares in a few words:
 * {station, param, hours, days, months, gapHours: {cause: hours}}. */
export function completenessRows(report) {
  return ((report && report.stations) || []).map((r) => {
    const gapHours = {};
    for (const g of r.gaps || []) gapHours[g.cause] = (gapHours[g.cause] || 0) + g.hours;
    return { station: r.station, param: r.param, city: r.city, hours: r.hours, days: r.days,
      months: r.months, gapHours };
  });
}

/** "98.8%" for a share {valid, expected, share}; "–" when nothing was expected. */
export function shareText(s) {
  if (!s || s.share === null || s.share === undefined) return "–";
  return `${(s.share * 100).toFixed(1)}%`;
}

/** Screening is for inspectors, bureaus and admins (the API's rule: city teams are the
 * screened party); without /me the page asks and the API decides. */
export function canScreen(me) {
  return !me || ["inspector", "bureau", "admin"].includes(me.role);
}
