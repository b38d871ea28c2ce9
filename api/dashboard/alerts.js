// Active warnings (level, time left) and the open-alert list with acknowledge buttons.
import { levelColour } from "./aqi.js";
import { lang, nameOf, t } from "./i18n.js";
import { silenceFor } from "./silences.js";
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
  // a regional warning is acknowledged city by city: a key whose cities are done has no button
  const done = new Set(a.acknowledged_cities || []);
  const cities = alertCities(a, cat).filter((c) => !done.has(c));
  if (me.role === "city-team") return cities.includes(me.scope);
  if (me.role === "bureau") return cities.some((c) => cat.cities[c]?.province === me.scope);
  return false;
}

/** May this key add a note? The API's rule: any of the alert's cities is the key's. */
export function canNote(a, me, cat) {
  if (!me) return true;
  if (me.role === "admin") return true;
  const cities = alertCities(a, cat);
  if (me.role === "city-team") return cities.includes(me.scope);
  if (me.role === "bureau") return cities.some((c) => cat.cities[c]?.province === me.scope);
  return false;
}

/** A multi-city alert's acknowledgement progress: cities done and still to acknowledge. */
export function ackProgress(a) {
  const cities = [...(a.cities || [])];
  const done = new Set(a.acknowledged_cities || []);
  if (a.state === "acknowledged" || a.acknowledged_by) cities.forEach((c) => done.add(c));
  return { done: cities.filter((c) => done.has(c)), pending: cities.filter((c) => !done.has(c)) };
}

/** The notification group key (the alert service's default: rule, city, level). */
export function groupKey(a) {
  return JSON.stringify([a.rule ?? null, [...(a.cities || [])].sort(), a.level ?? null]);
}

/** Alerts ordered group by group (the group of the newest alert first), newest first inside. */
export function groupAlerts(alerts) {
  const groups = new Map();
  for (const a of alerts) {
    const k = groupKey(a);
    if (!groups.has(k)) groups.set(k, []);
    groups.get(k).push(a);
  }
  return [...groups.entries()].map(([key, items]) => ({ key, items }));
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
  const items = [];
  const groups = ctx.grouped ? groupAlerts(alerts) : [{ key: null, items: alerts }];
  for (const g of groups) {
    if (g.key !== null) {
      const a = g.items[0];
      items.push({ id: `group:${g.key}`, key: JSON.stringify([lang(), g.key, g.items.length]),
        data: { group: g, a } });
    }
    for (const a of g.items) {
      const status = ctx.rowStatus[a.id];
      const ack = !a.acknowledged_by && canAck(a, ctx.me, ctx.cat);
      const silence = silenceFor(a, ctx.silences, ctx.cat);
      const open = ctx.open?.has(a.id) || false;
      items.push({ id: a.id, key: rowKey(a, ctx, [status ?? null, ack, silence?.id ?? null,
        a.acknowledged_cities, a.acknowledged_at, open]), data: { a, status, ack, silence, open } });
      if (open) {
        const audit = ctx.audits?.[a.id];
        const noteStatus = ctx.rowStatus[`note:${a.id}`];
        items.push({ id: `detail:${a.id}`, key: JSON.stringify([lang(), audit ? audit.length : null,
          noteStatus ?? null, canNote(a, ctx.me, ctx.cat)]), data: { detail: true, a, audit, noteStatus } });
      }
    }
  }
  body.replaceChildren(...keyed(body, items, (d) => {
    if (d.group) return groupRow(d.group, ctx);
    if (d.detail) return detailRow(d, ctx);
    return alertRow(d, ctx);
  }));
}

function groupRow(g, ctx) {
  const a = g.items[0];
  const cities = (a.cities || []).map((c) => (ctx.cat.cities[c] ? nameOf(ctx.cat.cities[c]) : c)).join("、");
  return el("tr", { class: "group", dataset: { group: g.key, count: String(g.items.length) } },
    el("td", { colspan: "7" }, levelChip(a.level), " ", el("b", {}, a.rule || a.kind || ""),
      " · ", cities || "–", " · ", el("span", { class: "muted" },
        `${g.items.length} ${t("inGroup")}`)));
}

function ackCell(a, ctx) {
  const out = [];
  if (a.acknowledged_by) {
    out.push(el("span", { class: "acked" }, `${t("acked")} · ${a.acknowledged_by}` +
      (a.acknowledged_at ? ` · ${cstText(a.acknowledged_at, lang())}` : "")));
  }
  if ((a.cities || []).length > 1) {   // a regional alert is acknowledged city by city
    const p = ackProgress(a);
    out.push(el("div", { class: "ack-cities small", dataset: { done: p.done.join(","),
      pending: p.pending.join(",") } }, `${t("citiesAcked")} ${p.done.length}/${a.cities.length}: `,
    ...a.cities.map((c) => el("span", { class: `city-chip ${p.done.includes(c) ? "done" : "pending"}`,
      dataset: { city: c } }, ctx.cat.cities[c] ? nameOf(ctx.cat.cities[c]) : c))));
  }
  return out;
}

function alertRow({ a, status, ack, silence, open }, ctx) {
  const action = [];
  if (ack) {
    action.push(el("button", { class: "ack", type: "button", dataset: { alertId: a.id },
      disabled: status === "busy", onclick: () => ctx.onAck(a) }, t("ack")));
  }
  action.push(...ackCell(a, ctx));
  if (!action.length) action.push(el("span", { class: "muted" }, "–"));
  action.push(el("button", { class: "details", type: "button", dataset: { alertId: a.id },
    "aria-expanded": open ? "true" : "false", onclick: () => ctx.onToggle?.(a) },
  open ? t("hideDetails") : t("details")));
  const badge = silence ? el("div", { class: "silenced small", title: silence.reason || "",
    dataset: { silenceId: silence.id } }, `${t("silenced")} · ${t("until")} ${cstText(silence.ends_at, lang())}`) : null;
  return el("tr", { class: ctx.flash.has(a.id) ? "flash" : "", dataset: { alertId: a.id,
    state: a.state || "", kind: a.kind || "", silenced: silence ? silence.id : "" } },
  el("td", {}, levelChip(a.level)),
  el("td", {}, titleOf(a), el("div", { class: "muted small" }, a.kind || "")),
  el("td", {}, subjectText(a, ctx.cat)),
  el("td", {}, cstText(a.observed_at, lang())),
  el("td", { class: "time-left", dataset: { expires: a.expires_at || "" } }, leftText(a, ctx.nowMs)),
  el("td", {}, t(`states.${a.state}`), badge),
  el("td", {}, ...action, status && status !== "busy" ? el("div", { class: "error small" }, status) : null));
}

/** What happened to the alert and who did it (its audit trail), and the note form. */
function detailRow({ a, audit, noteStatus }, ctx) {
  let trail;
  if (!audit) trail = el("p", { class: "muted" }, t("loading"));
  else {
    trail = el("table", { class: "audit" }, el("tbody", {}, ...audit.map((r) => el("tr", {
      dataset: { action: r.action || "" } },
    el("td", {}, cstText(r.at, lang())),
    el("td", {}, t(`actions.${r.action}`)),
    el("td", {}, r.actor || ""),
    el("td", {}, r.note || r.reason || "")))));
  }
  let form = null;
  if (canNote(a, ctx.me, ctx.cat)) {
    const input = el("input", { name: "note", type: "text", maxlength: "2000", required: true,
      placeholder: t("notePlaceholder") });
    form = el("form", { class: "note-form", dataset: { alertId: a.id },
      onsubmit: (e) => { e.preventDefault(); ctx.onNote?.(a, input.value.trim()); } },
    input, el("button", { type: "submit", disabled: noteStatus === "busy" }, t("addNote")),
    noteStatus && noteStatus !== "busy" ? el("span", { class: "error small" }, noteStatus) : null);
  }
  return el("tr", { class: "detail", dataset: { detailOf: a.id } },
    el("td", { colspan: "7" }, trail, form));
}
