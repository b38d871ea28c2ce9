// The history explorer panel: the selection form, the chart (explorechart.js), the exports
// (GET /export as CSV or Excel), completeness (GET /reports/completeness) and screening
// findings (GET /inspect/screen, with reviews) for the same selection.
import { ApiError, download, get, getText, post, withQuery } from "./api.js";
import {
  buildSeries, canScreen, completenessRows, cstDayStart, medianLine, neighboursOf,
  readExport, readSeriesRows, resolveStations, selectionQuery, shareText,
} from "./explore.js";
import { explorerHeight, explorerOption, MARKS } from "./explorechart.js";
import { lang, nameOf, t } from "./i18n.js";
import { cstText, el } from "./util.js";

const RAW_MAX_ROWS = 400000;        // raw pages followed at most this far (then: "truncated")
const NEIGHBOURS_FOR_AT_MOST = 6;   // stations whose neighbourhood median is drawn
const SCREENED = ["pm25", "pm10"];  // the screening's parameters (api/routes/inspect.py)
const DAY = 86400000;

export class Explorer {
  /** root: the panel; ctx: {cat, params: /parameters rows, me, nowMs(), onError(err)}. */
  constructor(root, ctx) {
    this.root = root;
    this.ctx = ctx;
    this.form = root.querySelector("form");
    this.chartNode = root.querySelector(".explorer-chart");
    this.chart = null;
    this.token = 0;
    this.last = null;        // what is drawn: for redraws (language) and the browser test
    this.form.addEventListener("submit", (e) => { e.preventDefault(); this.show().catch(ctx.onError); });
    this.form.elements.kind.addEventListener("change", () => this.fill());
    root.querySelector("[data-export=csv]").addEventListener("click", () => this.exportAs("csv").catch(ctx.onError));
    root.querySelector("[data-export=xlsx]").addEventListener("click", () => this.exportAs("xlsx").catch(ctx.onError));
  }

  /** Fill the form's lists from the catalogue (keeping what is chosen) and default dates. */
  fill() {
    const f = this.form.elements;
    const { cat } = this.ctx;
    const kind = f.kind.value || "air";
    const keep = (name) => new Set([...f[name].selectedOptions].map((o) => o.value));
    const cities = keep("cities");
    const stations = keep("stations");
    const params = keep("params");
    const sections = keep("sections");
    f.cities.replaceChildren(...cat.list.cities.filter((c) => cat.list.stations.some(
      (s) => s.city === c.slug && s.kind === kind)).map((c) => opt(c.slug, nameOf(c), cities)));
    const groups = cat.list.cities.map((c) => {
      const mine = cat.list.stations.filter((s) => s.city === c.slug && s.kind === kind);
      if (!mine.length) return null;
      const g = el("optgroup", { label: nameOf(c) });
      g.append(...mine.map((s) => opt(s.id, `${s.id} ${s.name_zh}`, stations)));
      return g;
    }).filter(Boolean);
    f.stations.replaceChildren(...groups);
    f.sections.replaceChildren(...(kind === "hydro" ? cat.list.sections : [])
      .map((s) => opt(s.id, nameOf(s), sections)));
    f.sections.disabled = kind !== "hydro";
    const ps = (this.ctx.params || []).filter((p) => p.kind === kind);
    for (const p of [...params]) if (!ps.some((x) => x.name === p)) params.delete(p);
    if (!params.size) (kind === "air" ? ["pm25", "pm10"] : ["discharge"]).forEach((p) => params.add(p));
    f.params.replaceChildren(...ps.map((p) => opt(p.name, `${p.name} ${nameOf(p)} (${p.unit})`, params)));
    if (!f.to.value) {
      const today = cstText(this.ctx.nowMs(), "zh").slice(0, 10);
      f.to.value = today;
      f.from.value = cstText(cstDayStart(today) - 29 * DAY, "zh").slice(0, 10);
    }
  }

  selection() {
    const f = this.form.elements;
    const many = (name) => [...f[name].selectedOptions].map((o) => o.value);
    return { kind: f.kind.value, cities: many("cities"), stations: many("stations"),
      sections: f.kind.value === "hydro" ? many("sections") : [], params: many("params"),
      from: f.from.value, to: f.to.value, aggregation: f.aggregation.value,
      neighbours: f.neighbours.checked };
  }

  status(text, state) {
    const node = this.root.querySelector(".explorer-status");
    node.textContent = text || "";
    node.className = `explorer-status small${state === "error" ? " error" : ""}`;
    this.chartNode.dataset.status = state;
  }

  /** The query for the form's selection, or null (the reason shown). */
  query() {
    const sel = this.selection();
    const q = selectionQuery(sel);
    if (!q.error && !sel.params.length) q.error = "noParams";
    if (q.error) {
      this.status(t(`explorerErrors.${q.error}`).replace("{days}", q.days), "error");
      return null;
    }
    q.query.params = sel.params.join(",");
    return { ...q, sel };
  }

  async show() {
    const q = this.query();
    if (!q) return;
    const token = ++this.token;
    this.status(t("loading"), "loading");
    const { sel, aggregation } = q;
    const ids = resolveStations(sel, this.ctx.cat);
    const [rows, report, screen] = await Promise.all([
      this.rows(q.query, ids, sel.params, aggregation),
      this.completeness(q.query), this.screen(q, ids)]);
    const medians = sel.neighbours && q.query.kind === "air" ?
      await this.medians(q, ids.slice(0, NEIGHBOURS_FOR_AT_MOST)) : {};
    if (token !== this.token) return;
    const series = buildSeries(rows.rows, aggregation, ids, sel.params);
    this.last = { query: q.query, aggregation, range: { startMs: q.startMs, endMs: q.endMs },
      stations: ids, params: sel.params, series, medians, report, screen,
      truncated: rows.truncated, neighboursCapped: sel.neighbours && ids.length > NEIGHBOURS_FOR_AT_MOST };
    this.draw();
  }

  /** The rows for the chart: raw readings from /series (paged, with flags), the other
   * aggregations from /export's CSV (the server's hourly values and valid-only means). */
  async rows(query, ids, params, aggregation) {
    if (aggregation !== "raw") {
      const text = await getText("/export", { ...query, aggregation, format: "csv" });
      return { rows: readExport(text).rows, truncated: false };
    }
    const rows = [];
    let url = withQuery("/series", { kind: query.kind, stations: ids.join(","),
      params: params.join(","), start: query.start, end: query.end, every: "raw" });
    while (url && rows.length < RAW_MAX_ROWS) {
      const page = await get(url);
      rows.push(...readSeriesRows(page.rows || []));
      url = page.next;
    }
    return { rows, truncated: Boolean(url) };
  }

  async completeness(query) {
    const { params, ...rest } = query;
    try {
      return await get("/reports/completeness", { ...rest, params });
    } catch (err) {
      if (err instanceof ApiError) return { error: err.status };
      throw err;
    }
  }

  async screen(q, ids) {
    if (q.query.kind !== "air") return { error: "air" };
    if (!canScreen(this.ctx.me)) return { error: 403 };
    const params = q.sel.params.filter((p) => SCREENED.includes(p));
    try {
      return await get("/inspect/screen", { stations: ids.join(","),
        params: (params.length ? params : SCREENED).join(","), start: q.query.start, end: q.query.end });
    } catch (err) {
      if (err instanceof ApiError) return { error: err.status };
      throw err;
    }
  }

  /** Per selected station and parameter, its neighbours' median (the same aggregation). */
  async medians(q, ids) {
    const near = Object.fromEntries(ids.map((s) => [s, neighboursOf(s, this.ctx.cat.stations)]));
    const all = [...new Set(Object.values(near).flat())];
    if (!all.length) return {};
    const query = { kind: q.query.kind, stations: all.join(","), params: q.query.params,
      start: q.query.start, end: q.query.end };
    const { rows } = await this.rows(query, all, q.sel.params, q.aggregation);
    const theirs = buildSeries(rows, q.aggregation, all, q.sel.params);
    const out = {};
    for (const s of ids) {
      for (const p of q.sel.params) {
        const line = medianLine(theirs.filter((x) => x.param === p && near[s].includes(x.station)));
        if (line.length) out[`${s}|${p}`] = line;
      }
    }
    return out;
  }

  /** Draw (or redraw, e.g. in the other language) what was last loaded. */
  draw() {
    const d = this.last;
    if (!d) return;
    const params = d.params.map((n) => (this.ctx.params || []).find((p) => p.name === n) || { name: n });
    const label = (id) => `${id} ${this.ctx.cat.stations[id]?.name_zh || ""}`.trim();
    const findings = (d.screen && d.screen.findings) || [];
    this.chartNode.style.height = `${explorerHeight(params.length)}px`;
    if (!this.chart) this.chart = echarts.init(this.chartNode, null, { renderer: "canvas" });
    this.chart.resize();
    this.chart.setOption(explorerOption({ series: d.series, params, stations: d.stations, label,
      aggregation: d.aggregation, medians: d.medians, findings, range: d.range }), true);
    const points = d.series.reduce((n, s) => n + s.points.length, 0);
    this.chartNode.dataset.points = String(points);
    this.chartNode.dataset.series = String(d.series.filter((s) => s.points.length).length);
    const notes = [];
    if (!points) notes.push(t("noData"));
    if (d.truncated) notes.push(t("explorerTruncated"));
    if (d.neighboursCapped) notes.push(t("neighboursCapped").replace("{n}", NEIGHBOURS_FOR_AT_MOST));
    this.status(`${t("shown")}: ${d.stations.length} ${t("stationsWord")} · ${points} ` +
      `${t("pointsWord")} · ${t(`aggregations.${d.aggregation}`)} · ${cstText(d.range.startMs, lang())} – ` +
      `${cstText(d.range.endMs, lang())} CST${notes.length ? ` · ${notes.join(" · ")}` : ""}`, "ready");
    this.renderLegend();
    this.renderCompleteness(d.report);
    this.renderFindings(d.screen);
  }

  renderLegend() {
    const node = this.root.querySelector(".explorer-legend");
    node.replaceChildren(...Object.entries(MARKS).map(([cls, m]) => el("span", {},
      el("i", { class: `mark ${m.symbol}`, style: { borderColor: m.color,
        background: m.symbol === "emptyCircle" ? "transparent" : m.color } }),
      t(`flagLegend.${cls}`))), el("span", { class: "muted" }, t("limitNote")));
  }

  renderCompleteness(report) {
    const node = this.root.querySelector(".explorer-completeness");
    if (!report || report.error) {
      node.replaceChildren(el("p", { class: "empty" }, t("unavailable")));
      return;
    }
    const causes = report.causes || {};
    const rows = completenessRows(report).map((r) => el("tr", { dataset: { station: r.station, param: r.param } },
      el("td", {}, `${r.station} ${this.ctx.cat.stations[r.station]?.name_zh || ""}`),
      el("td", {}, r.param),
      el("td", { class: "hours", title: `${r.hours.valid}/${r.hours.expected}` }, `${shareText(r.hours)} (${r.hours.valid}/${r.hours.expected})`),
      el("td", { class: "days" }, `${shareText(r.days)} (${r.days.valid}/${r.days.expected})`),
      el("td", { class: "months" }, r.months.expected ? `${shareText(r.months)} (${r.months.valid}/${r.months.expected})` : "–"),
      el("td", { class: "gaps" }, Object.entries(r.gapHours).map(([c, h]) =>
        `${causes[c]?.[lang()] || c}: ${h} ${t("hours")}`).join("; ") || "–")));
    node.replaceChildren(el("table", { class: "alerts report" },
      el("tr", {}, ...["station", "param", "validHours", "validDays", "validMonths", "gapsCol"].map((k) => el("th", {}, t(k)))),
      ...rows), el("p", { class: "muted small" }, t("completenessNote")));
  }

  renderFindings(screen) {
    const node = this.root.querySelector(".explorer-screening");
    if (!screen || screen.error) {
      const why = screen?.error === 403 ? "screenForbidden" : screen?.error === "air" ? "screenAirOnly" : "unavailable";
      node.replaceChildren(el("p", { class: "empty", dataset: { reason: String(screen?.error ?? "") } }, t(why)));
      return;
    }
    const list = screen.findings || [];
    const notes = (screen.notes || []).map((n) => el("li", {}, `${n.station}: ${n.note}`));
    const body = list.length ? el("table", { class: "alerts report" },
      el("tr", {}, ...["station", "param", "ruleCol", "period", "score", "reason", "reviewCol"].map((k) => el("th", {}, t(k)))),
      ...list.map((f) => this.findingRow(f))) : el("p", { class: "empty" }, t("noFindings"));
    node.replaceChildren(body, notes.length ? el("ul", { class: "muted small" }, notes) : "");
  }

  findingRow(f) {
    const review = f.review ? `${t(`verdicts.${f.review.verdict}`)} · ${f.review.reviewer} · ` +
      `${cstText(f.review.at, lang())}${f.review.note ? ` · ${f.review.note}` : ""}` : "";
    const form = el("form", { class: "review-form", dataset: { findingId: f.id } },
      el("select", { name: "verdict" }, ...["reviewed", "false_alarm", "confirmed"].map(
        (v) => el("option", { value: v }, t(`verdicts.${v}`)))),
      el("input", { name: "note", type: "text", required: true, maxlength: 4000, placeholder: t("notePlaceholder") }),
      el("button", { type: "submit" }, t("review")));
    form.addEventListener("submit", (e) => { e.preventDefault(); this.review(f, form).catch(this.ctx.onError); });
    return el("tr", { dataset: { findingId: f.id, rule: f.rule, station: f.station } },
      el("td", {}, f.station), el("td", {}, f.param), el("td", {}, t(`rules.${f.rule}`)),
      el("td", {}, `${cstText(f.start, lang())} – ${cstText(f.end, lang())} (${f.hours} ${t("hours")})`),
      el("td", {}, String(f.score)), el("td", {}, f.reason?.[lang()] || f.reason?.en || ""),
      el("td", {}, el("div", { class: "review-state" }, review), form));
  }

  async review(f, form) {
    const note = form.elements.note.value.trim();
    if (!note) return;
    try {
      f.review = await post(`/inspect/findings/${encodeURIComponent(f.id)}/review`,
        { note, verdict: form.elements.verdict.value });
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      form.append(el("span", { class: "error small" }, ` ${err.message}`));
      return;
    }
    this.renderFindings(this.last.screen);
  }

  /** The form's selection from GET /export as a download (CSV or Excel). */
  async exportAs(format) {
    const q = this.query();
    if (!q) return null;
    const name = await download("/export", { ...q.query, aggregation: q.aggregation, format },
      `fenwei-export.${format}`);
    this.status(`${t("downloaded")}: ${name}`, this.chartNode.dataset.status || "ready");
    return name;
  }

  /** The chart's numbers (for the browser test and the console). */
  summary() {
    const d = this.last;
    if (!d) return null;
    return { query: d.query, aggregation: d.aggregation, stations: d.stations,
      series: d.series.map((s) => {
        const flags = {};
        for (const p of s.points) if (p[2]) flags[p[2]] = (flags[p[2]] || 0) + 1;
        return { station: s.station, param: s.param, points: s.points.length, flags };
      }),
      drawn: this.chart ? this.chart.getOption().series.map((s) => ({ id: s.id, type: s.type,
        name: s.name, n: s.data.length })) : [] };
  }
}

function opt(value, text, chosen) {
  const o = new Option(text, value);
  o.selected = chosen.has(value);
  return o;
}
