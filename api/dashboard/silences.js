// Silences (maintenance windows): which alerts one holds, who may add one where, the panel.
import { lang, nameOf, t } from "./i18n.js";
import { cstText, el } from "./util.js";

export const MATCHERS = ["rule", "kind", "city", "station", "section", "level", "subject"];
export const KINDS = ["air.*", "air.realtime", "air.warning", "air.regional", "river.*",
  "liveness.*"];
export const DURATIONS = [60, 120, 240, 480, 1440];

/**
 * fnmatch's case-sensitive globs (`*`, `?`, `[seq]`, `[!seq]`), as the alert service matches
 * silences: a port of Python's fnmatch.translate (3.11), reversed ranges and all.
 */
export function globRegExp(pat) {
  const n = pat.length;
  const esc = (c) => c.replace(/[.*+?^${}()|[\]\\/-]/g, "\\$&");
  let out = "";
  let i = 0;
  while (i < n) {
    const c = pat[i];
    i += 1;
    if (c === "*") {
      if (!out.endsWith(".*")) out += ".*";
    } else if (c === "?") out += ".";
    else if (c === "[") {
      let j = i;
      if (j < n && pat[j] === "!") j += 1;
      if (j < n && pat[j] === "]") j += 1;
      while (j < n && pat[j] !== "]") j += 1;
      if (j >= n) { out += "\\["; continue; }
      let stuff = pat.slice(i, j);
      if (!stuff.includes("-")) stuff = stuff.replace(/\\/g, "\\\\");
      else {
        const chunks = [];
        let k = pat[i] === "!" ? i + 2 : i + 1;
        for (;;) {
          k = pat.indexOf("-", k);
          if (k < 0 || k >= j) break;
          chunks.push(pat.slice(i, k));
          i = k + 1;
          k += 3;
        }
        const chunk = pat.slice(i, j);
        if (chunk) chunks.push(chunk);
        else chunks[chunks.length - 1] += "-";
        for (let m = chunks.length - 1; m > 0; m -= 1) {   // empty ranges never match: gone
          if (chunks[m - 1].slice(-1) > chunks[m][0]) {
            chunks[m - 1] = chunks[m - 1].slice(0, -1) + chunks[m].slice(1);
            chunks.splice(m, 1);
          }
        }
        stuff = chunks.map((x) => x.replace(/\\/g, "\\\\").replace(/-/g, "\\-")).join("-");
      }
      i = j + 1;
      if (!stuff) out += "(?!)";
      else if (stuff === "!") out += ".";
      else {
        if (stuff[0] === "!") stuff = `^${stuff.slice(1)}`;
        else if (stuff[0] === "^" || stuff[0] === "[") stuff = `\\${stuff}`;
        out += `[${classBody(stuff)}]`;
      }
    } else out += esc(c);
  }
  return new RegExp(`^(?:${out})$`, "s");
}

/** A class body as Python's re reads it, for JavaScript (where "]" first would end it). */
function classBody(stuff) {
  let out = "";
  for (let k = 0; k < stuff.length; k += 1) {
    if (stuff[k] === "\\") { out += stuff.slice(k, k + 2); k += 1; }
    else if (stuff[k] === "[" || stuff[k] === "]") out += `\\${stuff[k]}`;
    else out += stuff[k];
  }
  return out;
}

export function glob(pattern, text) {
  return globRegExp(String(pattern)).test(String(text));
}

/**
 * The labels a silence matches on, as the alert service makes them (alerts/_notify.py
 * labels): the subject's station, the section a subject or gauge station belongs to.
 */
export function alertLabels(a, cat) {
  const subject = String(a.subject ?? "");
  const [typ, ident] = subject.includes(":") ? [subject.slice(0, subject.indexOf(":")),
    subject.slice(subject.indexOf(":") + 1)] : ["", subject];
  let section = null;
  if (typ === "section") section = cat.sections[ident] ? ident : null;
  else if (typ === "station") {
    section = Object.values(cat.sections).find((s) => s.station === ident)?.id ?? null;
  }
  return { rule: a.rule, kind: a.kind, subject, city: [...(a.cities || [])].sort(),
    level: a.level, station: typ === "station" ? ident : null, section };
}

/** Does every matcher the silence sets hold for these labels? (`city`: any of the alert's) */
export function silenceMatches(s, lab) {
  return MATCHERS.every((m) => {
    const want = s[m];
    if (want === null || want === undefined || want === "") return true;
    if (m === "city") return (lab.city || []).some((c) => glob(want, c));
    const have = lab[m];
    return have !== null && have !== undefined && glob(want, have);
  });
}

/** The silence in force (the API's status "active") that holds this alert, oldest first. */
export function silenceFor(a, silences, cat) {
  const lab = alertLabels(a, cat);
  return [...(silences || [])].filter((s) => s.status === "active")
    .sort((x, y) => String(x.created_at).localeCompare(String(y.created_at)))
    .find((s) => silenceMatches(s, lab)) || null;
}

/** May this key silence within `city`? The API's rule (api/routes/silences.py). */
export function canSilence(me, city, cat) {
  if (!me) return false;
  if (me.role === "admin") return true;
  if (!city) return false;
  if (me.role === "city-team") return city === me.scope;
  if (me.role === "bureau") return cat.cities[city]?.province === me.scope;
  return false;
}

/** The cities this key may silence in (admin: every city, and "" for no city matcher). */
export function silenceCities(me, cat) {
  const all = Object.keys(cat.cities);
  if (me?.role === "admin") return ["", ...all];
  return all.filter((c) => canSilence(me, c, cat));
}

function matcherText(s, cat) {
  const parts = [];
  for (const m of MATCHERS) {
    const v = s[m];
    if (v === null || v === undefined || v === "") continue;
    let shown = v;
    if (m === "city" && cat.cities[v]) shown = nameOf(cat.cities[v]);
    if (m === "level") shown = t(`levels.${v}`);
    parts.push(`${t(`matchers.${m}`)}=${shown}`);
  }
  return parts.length ? parts.join(" · ") : t("matchAll");
}

/** The silences list: what each holds, when, why and by whom, and an expire button. */
export function renderSilences(node, silences, ctx) {
  if (silences === null) {
    node.replaceChildren(el("p", { class: "empty" }, t("unavailable")));
    return;
  }
  if (!silences.length) {
    node.replaceChildren(el("p", { class: "empty" }, t("noSilences")));
    return;
  }
  const head = el("tr", {}, ...["silenceMatch", "silenceWindow", "reason", "createdBy", "state",
    "action"].map((k) => el("th", {}, t(k))));
  const rows = silences.map((s) => {
    const status = ctx.rowStatus[`silence:${s.id}`];
    const mine = s.status !== "expired" && canSilence(ctx.me, s.city, ctx.cat);
    const action = mine ? el("button", { class: "expire", type: "button",
      dataset: { silenceId: s.id }, disabled: status === "busy",
      onclick: () => ctx.onExpire(s) }, t("expireSilence")) : el("span", { class: "muted" }, "–");
    return el("tr", { dataset: { silenceId: s.id, status: s.status || "", city: s.city || "" } },
      el("td", {}, matcherText(s, ctx.cat)),
      el("td", {}, `${cstText(s.starts_at, lang())} – ${cstText(s.ends_at, lang())}`),
      el("td", {}, s.reason || ""),
      el("td", {}, s.created_by || ""),
      el("td", {}, el("span", { class: `silence-${s.status}` }, t(`silenceStates.${s.status}`))),
      el("td", {}, action, status && status !== "busy" ? el("div", { class: "error small" }, status) : null));
  });
  node.replaceChildren(el("table", { class: "alerts silences" }, el("thead", {}, head),
    el("tbody", {}, ...rows)));
}

/** Fill the new-silence form's choices for this key; hide it for keys that may not silence. */
export function fillSilenceForm(form, me, cat) {
  const cities = silenceCities(me, cat);
  form.hidden = cities.length === 0;
  const city = form.elements.city;
  const keep = city.value;
  city.replaceChildren(...cities.map((c) => new Option(c ? nameOf(cat.cities[c]) : t("anyCity"), c)));
  if (cities.includes(keep)) city.value = keep;
  city.disabled = cities.length <= 1;
  fillStations(form, cat);
  const level = form.elements.level;
  const lv = level.value;
  level.replaceChildren(new Option(t("anyLevel"), ""),
    ...["blue", "yellow", "orange", "red"].map((l) => new Option(t(`levels.${l}`), l)));
  level.value = lv;
  const dur = form.elements.duration;
  const d = dur.value || "120";
  dur.replaceChildren(...DURATIONS.map((m) => new Option(m % 60 ? `${m}${t("minutes")}` :
    `${m / 60}${t("hours")}`, String(m))));
  dur.value = d;
  const kinds = form.querySelector("datalist");
  kinds.replaceChildren(...KINDS.map((k) => new Option(k, k)));
}

/** The stations of the chosen city (none chosen: the matcher is left out). */
export function fillStations(form, cat) {
  const city = form.elements.city.value;
  const sel = form.elements.station;
  const keep = sel.value;
  const stations = Object.values(cat.stations).filter((s) => city && s.city === city);
  sel.replaceChildren(new Option(t("anyStation"), ""),
    ...stations.map((s) => new Option(`${s.id} ${s.name_zh || ""}`.trim(), s.id)));
  if (stations.some((s) => s.id === keep)) sel.value = keep;
}

/** The POST /silences body from the form (empty matchers left out). */
export function silenceBody(form) {
  const f = form.elements;
  const body = { reason: f.reason.value.trim(), duration_minutes: Number(f.duration.value) || 120 };
  for (const m of ["city", "kind", "station", "level"]) {
    const v = (f[m].value || "").trim();
    if (v) body[m] = v;
  }
  return body;
}
