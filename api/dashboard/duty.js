// Who is on duty now: GET /duty?team=... (api/routes/bulletins.py), AlertState.duty()'s rows
// (alerts/_state.py: team, name_zh/name_en, on_duty {id, name_zh, name_en, source, since,
// until, reason}, next {...}); a single row or a plain person string is read too. A team
// without a duty plan (404) or a key that may not read it: "no duty roster".
import { lang, t } from "./i18n.js";
import { cstText, el } from "./util.js";

/** The team whose roster a key follows: a city team's "team-<city>" (the recipients file's
 * ids), else none (every team the server lists). */
export function dutyTeam(me) {
  return me?.role === "city-team" && me.scope ? `team-${me.scope}` : null;
}

const pick = (o, ...names) => names.map((n) => o?.[n]).find((v) => v !== undefined && v !== null);

function named(o) {
  if (o === null || o === undefined) return null;
  if (typeof o === "string") return o;
  const zh = pick(o, "name_zh", "name");
  const en = pick(o, "name_en", "name");
  return (lang() === "en" ? en ?? zh : zh ?? en) ?? pick(o, "id") ?? null;
}

/** Rows {team, teamName, person, source, until, next, reason} from the route's answer. */
export function dutyEntries(doc) {
  if (doc === null || doc === undefined) return [];
  const list = Array.isArray(doc) ? doc : pick(doc, "teams", "items") ?? [doc];
  return (Array.isArray(list) ? list : [list]).map((e) => {
    const who = pick(e, "on_duty", "person");
    return {
      team: pick(e, "team", "team_id") ?? null,
      teamName: e.name_zh || e.name_en ? named(e) : null,
      person: named(who),
      source: pick(who, "source") ?? null,
      until: pick(who, "until") ?? pick(e, "until") ?? null,
      reason: pick(who, "reason") || null,
      next: named(pick(e, "next")),
    };
  }).filter((e) => e.team || e.person);
}

export function renderDuty(node, doc) {
  const rows = dutyEntries(doc);
  if (!rows.length) {
    node.replaceChildren(el("p", { class: "empty" }, t("noDuty")));
    return;
  }
  node.replaceChildren(...rows.map((r) => el("div", { class: "duty", dataset: { team: r.team || "" } },
    el("div", { class: "muted" }, r.teamName || r.team || ""),
    el("span", { class: "duty-person" }, r.person || t("nobodyOnDuty")),
    r.source === "override" ? el("span", { class: "muted" }, ` (${t("dutyOverride")}${r.reason ? `: ${r.reason}` : ""})`) : null,
    r.until ? el("span", { class: "muted" }, ` · ${t("until")} ${cstText(r.until, lang())}`) : null,
    r.next ? el("div", { class: "muted small" }, `${t("dutyNext")}: ${r.next}`) : null)));
}
