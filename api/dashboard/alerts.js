// Active warnings (level, time left) and the open-alert list with acknowledge buttons.
import { levelColour } from "./aqi.js";
import { lang, nameOf, t } from "./i18n.js";
import { cstText, el, timeLeft, toMs } from "./util.js";

/** Heavy-pollution style warnings: issued ahead of time, so they carry an end. */
export function isWarning(a) {
  return /warning|forecast|regional/.test(a.kind || "") || Boolean(a.expires_at);
}

/** Subjects without the alert service's type prefix ("city:xian" -> "xian"). */
function subjects(a) {
  return [].concat(a.subject ?? []).filter((s) => s !== null && s !== undefined && s !== "")
    .map((s) => String(s).replace(/^(city|station|section):/, ""));
}

/** City slugs an alert concerns: subjects that are cities, or the city of a station/section. */
export function alertCities(a, cat) {
  const out = new Set();
  for (const s of subjects(a)) {
    if (cat.cities[s]) out.add(s);
    else if (cat.stations[s]) out.add(cat.stations[s].city);
    else if (cat.sections[s]) out.add(cat.sections[s].city);
  }
  for (const c of [].concat(a.cities || [])) out.add(c);
  return [...out];
}

/**
 * May this key acknowledge the alert? Mirrors the API's rule (city-team: its city; bureau: its
 * province; admin: all); without /me the server decides and a 403 is shown on the row.
 */
export function canAck(a, me, cat) {
  if (a.state === "acknowledged" || a.state === "resolved" || a.acknowledged_by) return false;
  if (!me) return true;
  if (me.role === "admin") return true;
  const cities = alertCities(a, cat);
  if (me.role === "city-team") return cities.includes(me.scope);
  if (me.role === "bureau") return cities.some((c) => cat.cities[c]?.province === me.scope);
  return false;
}

function subjectText(a, cat) {
  return subjects(a).map((s) => {
    if (s.startsWith("region:") && (a.cities || []).length) {  // a regional warning: its cities
      return a.cities.map((c) => (cat.cities[c] ? nameOf(cat.cities[c]) : c)).join("、");
    }
    if (cat.cities[s]) return nameOf(cat.cities[s]);
    if (cat.stations[s]) return `${s} ${cat.stations[s].name_zh}`;
    if (cat.sections[s]) return nameOf(cat.sections[s]);
    return s;
  }).join("、");
}

function titleOf(a) {
  return (lang() === "zh" ? a.title_zh || a.title_en : a.title_en || a.title_zh) || a.kind || a.id;
}

export function leftText(a, nowMs) {
  const left = timeLeft(toMs(a.expires_at), nowMs);
  if (!left) return "–";
  if (left.expired) return t("expired");
  const parts = [];
  if (left.d) parts.push(`${left.d}${t("days")}`);
  if (left.d || left.h) parts.push(`${left.h}${t("hours")}`);
  if (!left.d) parts.push(`${left.m}${t("minutes")}`);
  return parts.join(lang() === "zh" ? "" : " ");
}

function levelChip(level) {
  const light = level === "yellow";
  return el("span", { class: "chip", style: { background: levelColour(level),
    color: light ? "#222" : "#fff" }, dataset: { level: level || "" } },
  t(`levels.${level}`) || level || "–");
}

/**
 * Replace `node`'s children by `items`, reusing the element already drawn for an item whose
 * content key is unchanged: a live update then leaves untouched rows (and the button a duty
 * officer is about to press) in place instead of swapping them under the pointer.
 */
function keyed(node, items, build) {
  const old = node.__keyed || new Map();
  const next = new Map();
  const out = items.map(({ id, key, data }) => {
    const prev = old.get(id);
    const elem = prev && prev.key === key ? prev.elem : build(data);
    next.set(id, { key, elem });
    return elem;
  });
  node.__keyed = next;
  return out;
}

function rowKey(a, ctx, extra) {
  return JSON.stringify([lang(), a.level, a.state, a.kind, a.subject, a.cities, a.title_zh, a.title_en,
    a.observed_at, a.expires_at, a.acknowledged_by, ctx.flash.has(a.id), extra]);
}

export function renderWarnings(node, alerts, ctx) {
  const warnings = alerts.filter(isWarning);
  if (!warnings.length) {
    node.__keyed = null;
    node.replaceChildren(el("p", { class: "empty" }, t("noWarnings")));
    return;
  }
  node.replaceChildren(...keyed(node, warnings.map((a) => ({ id: a.id, key: rowKey(a, ctx),
    data: a })), (a) => el("div", {
    class: `warning level-${a.level}${ctx.flash.has(a.id) ? " flash" : ""}`,
    dataset: { alertId: a.id, level: a.level || "" },
    style: { borderLeftColor: levelColour(a.level) },
  }, levelChip(a.level), el("div", { class: "warning-body" },
    el("div", { class: "warning-title" }, titleOf(a)),
    el("div", { class: "muted" }, subjectText(a, ctx.cat))),
  el("div", { class: "warning-left" }, el("div", { class: "muted" }, t("left")),
    el("b", { class: "time-left", dataset: { expires: a.expires_at || "" } },
      leftText(a, ctx.nowMs))))));
}

export function renderAlerts(node, alerts, ctx) {
  if (!alerts.length) {
    node.__keyed = null;
    node.__table = null;
    node.replaceChildren(el("p", { class: "empty" }, t("noAlerts")));
    return;
  }
  // one table kept across updates (its rows keyed by alert), rebuilt when the language changes
  if (!node.__table || node.__table.lang !== lang() || !node.contains(node.__table.table)) {
    const head = el("tr", {}, ...["level", "titleCol", "subject", "observedAt", "left", "state",
      "action"].map((k) => el("th", {}, t(k))));
    const body = el("tbody", {});
    node.__table = { lang: lang(), body, table: el("table", { class: "alerts" },
      el("thead", {}, head), body) };
    node.__keyed = null;
    node.replaceChildren(node.__table.table);
  }
  const body = node.__table.body;
  const items = alerts.map((a) => {
    const status = ctx.rowStatus[a.id];
    const ack = !a.acknowledged_by && canAck(a, ctx.me, ctx.cat);
    return { id: a.id, key: rowKey(a, ctx, [status ?? null, ack]), data: { a, status, ack } };
  });
  body.replaceChildren(...keyed(body, items, ({ a, status, ack }) => {
    let action;
    if (a.acknowledged_by) action = el("span", { class: "acked" }, `${t("acked")} · ${a.acknowledged_by}`);
    else if (ack) {
      action = el("button", { class: "ack", type: "button", dataset: { alertId: a.id },
        disabled: status === "busy", onclick: () => ctx.onAck(a) }, t("ack"));
    } else action = el("span", { class: "muted" }, "–");
    return el("tr", { class: ctx.flash.has(a.id) ? "flash" : "", dataset: { alertId: a.id,
      state: a.state || "", kind: a.kind || "" } },
    el("td", {}, levelChip(a.level)),
    el("td", {}, titleOf(a), el("div", { class: "muted small" }, a.kind || "")),
    el("td", {}, subjectText(a, ctx.cat)),
    el("td", {}, cstText(a.observed_at, lang())),
    el("td", { class: "time-left", dataset: { expires: a.expires_at || "" } }, leftText(a, ctx.nowMs)),
    el("td", {}, t(`states.${a.state}`)),
    el("td", {}, action, status && status !== "busy" ? el("div", { class: "error small" }, status) : null));
  }));
}
