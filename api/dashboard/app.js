// Wiring: load the catalogue, draw the panels, follow the event stream, refresh on a timer.
import { adoptKeyFromUrl, ApiError, followEvents, get, getKey, getOptional, post, setKey } from "./api.js";
import { alertCities, renderAlerts, renderWarnings, leftText } from "./alerts.js";
import { dutyTeam, renderDuty } from "./duty.js";
import { ecoflowOption, historyOption } from "./charts.js";
import { Explorer } from "./explorer.js";
import { applyStatic, initLang, lang, nameOf, setLang, t } from "./i18n.js";
import { RegionMap } from "./map.js";
import { fillSilenceForm, fillStations, renderSilences, silenceBody } from "./silences.js";
import { cstText, debounce, HOUR, throttle } from "./util.js";

const $ = (id) => document.getElementById(id);
const state = {
  cat: null, me: null, aqiStation: {}, aqiCity: {}, ecoflow: null, alerts: [],
  selection: { scope: "city", id: "xian" }, flash: new Set(), rowStatus: {},
  stream: "offline", events: [], latestData: 0, updated: null,
  silences: [], silencesAll: false, open: new Set(), audits: {}, duty: null,
  grouped: localStorage.getItem("fenwei.grouped") !== "0",
};
let map = null;
let historyChart = null;
let rivers = null;
let explorer = null;

const nowMs = () => Math.max(Date.now(), state.latestData);
const byKey = (rows, k) => Object.fromEntries((rows || []).map((r) => [r[k], r]));

function showMessage(text) {
  $("message").textContent = text || "";
  $("message").hidden = !text;
}

async function loadCatalogue() {
  const [cities, stations, sections, riversList, params] = await Promise.all([
    get("/cities"), get("/stations"), get("/sections"), getOptional("/rivers", null, []),
    getOptional("/parameters", null, [])]);
  state.cat = { cities: byKey(cities, "slug"), stations: byKey(stations, "id"),
    sections: byKey(sections, "id"), list: { cities, stations, sections, rivers: riversList } };
  state.params = params || [];
  state.me = await getOptional("/me", null, null);
}

async function refreshAqi() {
  const [st, ct] = await Promise.all([
    getOptional("/aqi/current", { scope: "station" }, []),
    getOptional("/aqi/current", { scope: "city" }, [])]);
  state.aqiStation = byKey(st || [], "id");
  state.aqiCity = byKey(ct || [], "id");
  const times = [...(st || []), ...(ct || [])].map((r) => Date.parse(r.time)).filter(Number.isFinite);
  if (times.length) state.latestData = Math.max(state.latestData, ...times);
  state.updated = new Date();
}

async function refreshEcoflow() {
  state.ecoflow = await getOptional("/ecoflow/status", null, null);
}

async function refreshAlerts() {
  const rows = await getOptional("/alerts", { state: "open" }, null);
  state.alertsAvailable = rows !== null;
  state.alerts = rows || [];
  const times = state.alerts.map((a) => Date.parse(a.observed_at)).filter(Number.isFinite);
  if (times.length) state.latestData = Math.max(state.latestData, ...times);
}

async function refreshSilences() {
  state.silences = await getOptional("/silences", state.silencesAll ? { all: true } : null, null);
}

/** The audit trails of the alerts whose details are open (who did what, when; notes). */
async function refreshAudits(ids = [...state.open]) {
  await Promise.all(ids.map(async (id) => {
    const d = await getOptional(`/alerts/${encodeURIComponent(id)}`, null, null);
    if (d) state.audits[id] = d.audit || [];
  }));
}

async function refreshDuty() {
  try {
    const team = dutyTeam(state.me);
    state.duty = await getOptional("/duty", team ? { team } : null, null);
  } catch (err) {   // a key that may not read the roster: the panel says "not available"
    if (!(err instanceof ApiError)) throw err;
    state.duty = null;
  }
}

/** The alert list with what goes with it: silences and the open details' audit trails. */
async function refreshAlertPanels() {
  await Promise.all([refreshAlerts(), refreshSilences()]);
  await refreshAudits();
}

function drawAlertPanels() {
  drawAlerts();
  drawSilences();
}

function drawMap() {
  const l = state.cat.list;
  map.render({ cities: l.cities, stations: l.stations, sections: l.sections, rivers: l.rivers,
    aqiStation: state.aqiStation, aqiCity: state.aqiCity,
    ecoflow: byKey(state.ecoflow || [], "section") });
  $("map").dataset.markers = String(map.markers.length);
}

function drawRivers() {
  const rows = state.ecoflow || [];
  const noFlow = rows.every((r) => r.q_mean === null || r.q_mean === undefined);
  $("rivers-empty").hidden = rows.length > 0 && !noFlow;
  $("rivers-empty").textContent = state.ecoflow === null ? t("unavailable") :
    (rows.length ? t("noFlow") : t("noData"));
  $("rivers").hidden = rows.length === 0;
  if (rows.length) {
    rivers.resize();
    rivers.setOption(ecoflowOption(rows, state.cat.list.sections), true);
  }
}

function drawAlerts() {
  const ctx = { cat: state.cat, me: state.me, nowMs: nowMs(), flash: state.flash,
    rowStatus: state.rowStatus, onAck: acknowledge, silences: state.silences || [],
    grouped: state.grouped, open: state.open, audits: state.audits, onToggle: toggleDetails,
    onNote: addNote };
  renderWarnings($("warnings"), state.alerts, ctx);
  renderAlerts($("alerts"), state.alerts, ctx);
  if (!state.alertsAvailable) $("alerts").replaceChildren(t("unavailable"));
  $("alert-count").textContent = state.alerts.length ? `(${state.alerts.length})` : "";
}

function drawSilences() {
  renderSilences($("silences"), state.silences, { cat: state.cat, me: state.me,
    rowStatus: state.rowStatus, onExpire: expireSilence });
  fillSilenceForm($("silence-form"), state.me, state.cat);
}

function drawDuty() {
  renderDuty($("duty"), state.duty);
}

function tickCountdowns() {
  for (const node of document.querySelectorAll(".time-left[data-expires]")) {
    if (!node.dataset.expires) continue;
    node.textContent = leftText({ expires_at: node.dataset.expires }, nowMs());
  }
  $("clock").textContent = `${cstText(nowMs(), lang())} CST`;
}

let chartToken = 0;
async function drawHistory() {
  const { scope, id } = state.selection;
  const token = ++chartToken;
  const end = new Date(nowMs() + HOUR);
  const start = new Date(end.getTime() - 7 * 24 * HOUR);
  const range = { start: start.toISOString(), end: end.toISOString() };
  const city = scope === "city" ? id : state.cat.stations[id]?.city;
  const [hist, forecast] = await Promise.all([
    getOptional("/aqi/history", { scope, id, period: "hourly", ...range }, null),
    city ? getOptional(`/forecasts/cities/${encodeURIComponent(city)}/latest`, null, null) : null,
  ]);
  let pm25 = null;
  const rows = (hist && hist.rows) || [];
  if (!rows.some((r) => r.aqi !== null && r.aqi !== undefined)) {
    const q = scope === "city" ? { cities: id, by: "city" } : { stations: id };
    const s = await getOptional("/series", { kind: "air", every: "1h", params: "pm25", ...q, ...range }, null);
    pm25 = ((s && s.rows) || []).map((r) => ({ time: r.time, value: r.pm25_mean ?? r.pm25 ?? null }));
  }
  if (token !== chartToken) return;
  const thing = scope === "city" ? state.cat.cities[id] : state.cat.stations[id];
  let title = scope === "city" ? nameOf(thing) : `${id} ${thing?.name_zh || ""}`;
  if (scope === "station" && city && forecast) title += ` · ${t("forecast")}: ${nameOf(state.cat.cities[city])}`;
  const empty = !rows.length && !(pm25 && pm25.length) && !(forecast && forecast.aqi?.length);
  $("history-empty").hidden = !empty;
  const clock = nowMs();
  historyChart.setOption(historyOption({ title, history: rows, pm25, forecast, nowMs: clock }), true);
  $("history").dataset.selection = `${scope}:${id}`;
  $("history").dataset.now = new Date(clock).toISOString();
  $("history").dataset.points = String(rows.filter((r) => r.aqi !== null && r.aqi !== undefined).length +
    (pm25 ? pm25.length : 0));
}

function fillSelector() {
  const sel = $("selector");
  const { cities, stations } = state.cat.list;
  const cityGroup = document.createElement("optgroup");
  cityGroup.label = t("city");
  for (const c of cities) cityGroup.append(new Option(nameOf(c), `city:${c.slug}`));
  const stationGroup = document.createElement("optgroup");
  stationGroup.label = t("station");
  for (const s of stations.filter((x) => x.kind === "air")) {
    stationGroup.append(new Option(`${nameOf(state.cat.cities[s.city])} · ${s.id} ${s.name_zh}`,
      `station:${s.id}`));
  }
  sel.replaceChildren(cityGroup, stationGroup);
  sel.value = `${state.selection.scope}:${state.selection.id}`;
}

function select(scope, id) {
  state.selection = { scope, id };
  $("selector").value = `${scope}:${id}`;
  drawHistory().catch(fail);
}

async function acknowledge(a) {
  state.rowStatus[a.id] = "busy";
  drawAlerts();
  const responder = $("responder").value.trim() || state.me?.name || "dashboard";
  localStorage.setItem("fenwei.responder", $("responder").value.trim());
  try {
    await post(`/alerts/${encodeURIComponent(a.id)}/ack`, { responder, note: "" });
    delete state.rowStatus[a.id];
    await refreshAlerts();
  } catch (err) {
    state.rowStatus[a.id] = err instanceof ApiError && err.status === 403 ?
      t("ackForbidden") : `${t("ackFailed")}: ${err.message}`;
  }
  drawAlerts();
}

async function toggleDetails(a) {
  if (state.open.has(a.id)) state.open.delete(a.id);
  else state.open.add(a.id);
  drawAlerts();
  if (state.open.has(a.id)) {
    await refreshAudits([a.id]).catch(fail);
    drawAlerts();
  }
}

async function addNote(a, note) {
  if (!note) return;
  const k = `note:${a.id}`;
  state.rowStatus[k] = "busy";
  drawAlerts();
  try {
    await post(`/alerts/${encodeURIComponent(a.id)}/note`, { note });
    delete state.rowStatus[k];
    await refreshAudits([a.id]);
  } catch (err) {
    state.rowStatus[k] = `${t("noteFailed")}: ${err.message}`;
  }
  drawAlerts();
}

async function createSilence(e) {
  e.preventDefault();
  const form = $("silence-form");
  const status = $("silence-status");
  status.textContent = "";
  form.querySelector("button[type=submit]").disabled = true;
  try {
    const s = await post("/silences", silenceBody(form));
    form.elements.reason.value = "";
    await refreshAlertPanels();
    if (!(state.silences || []).some((x) => x.id === s.id)) state.silences = [s, ...(state.silences || [])];
  } catch (err) {
    status.textContent = err instanceof ApiError && err.status === 403 ?
      t("silenceForbidden") : `${t("silenceFailed")}: ${err.message}`;
  }
  form.querySelector("button[type=submit]").disabled = false;
  drawAlertPanels();
}

async function expireSilence(s) {
  const k = `silence:${s.id}`;
  state.rowStatus[k] = "busy";
  drawSilences();
  try {
    await post(`/silences/${encodeURIComponent(s.id)}/expire`);
    delete state.rowStatus[k];
    await refreshAlertPanels();
  } catch (err) {
    state.rowStatus[k] = err instanceof ApiError && err.status === 403 ?
      t("silenceForbidden") : `${t("silenceFailed")}: ${err.message}`;
  }
  drawAlertPanels();
}

function setStream(s) {
  state.stream = s;
  document.body.dataset.stream = s;
  $("stream").textContent = t(s);
  $("stream").className = `stream ${s}`;
}

const reloadAlerts = throttle(() => refreshAlertPanels().then(drawAlertPanels).catch(fail), 1000);
// the map and the 7-day chart follow the data: the chart's window ends at the data clock
// (the simulator's in the demo), which moves on with every refresh
const reloadAqi = throttle(() => refreshAqi().then(drawAqi).catch(fail), 5000);

function drawAqi() {
  drawMap();
  return drawHistory();
}

function onEvent(ev) {
  state.events.push(ev);
  if (state.events.length > 1000) state.events.splice(0, state.events.length - 1000);  // a wall screen runs for weeks
  if (ev.alert_id) {
    state.flash.add(ev.alert_id);
    setTimeout(() => { state.flash.delete(ev.alert_id); drawAlerts(); }, 10000);
  }
  reloadAlerts();
  if ((ev.kind || "").startsWith("air")) reloadAqi();
}

function fail(err) {
  if (err instanceof ApiError && err.status === 401) showMessage(t("keyBad"));
  else if (err instanceof ApiError && err.status === 403) showMessage(t("keyForbidden"));
  else { console.error(err); showMessage(String(err.message || err)); }
  document.body.dataset.error = String(err.status || "error");
}

function whoText() {
  if (!state.me) return "";
  return `${t("as")}: ${state.me.name || ""} (${state.me.role}${state.me.scope ? ` · ${state.me.scope}` : ""})`;
}

function redrawAll() {
  applyStatic();
  $("lang").textContent = t("lang");
  $("who").textContent = whoText();
  setStream(state.stream);
  if (!state.cat) return;
  fillSelector();
  drawMap();
  drawRivers();
  drawAlertPanels();
  drawDuty();
  drawHistory().catch(fail);
  explorer.fill();
  explorer.draw();
  tickCountdowns();
}

/** Everything a duty officer acts on, now (the refresh button; also the browser test). */
async function refreshNow() {
  await Promise.all([refreshAlertPanels(), refreshDuty()]);
  drawAlertPanels();
  drawDuty();
}

function wireUi() {
  $("lang").addEventListener("click", () => { setLang(lang() === "zh" ? "en" : "zh"); redrawAll(); });
  $("key-form").addEventListener("submit", (e) => {
    e.preventDefault();
    setKey($("key").value);
    location.reload();
  });
  $("forget").addEventListener("click", () => { setKey(""); location.reload(); });
  $("selector").addEventListener("change", (e) => {
    const [scope, id] = e.target.value.split(":");
    select(scope, id);
  });
  $("responder").value = localStorage.getItem("fenwei.responder") || "";
  $("refresh").addEventListener("click", () => refreshNow().catch(fail));
  $("group-alerts").checked = state.grouped;
  $("group-alerts").addEventListener("change", (e) => {
    state.grouped = e.target.checked;
    localStorage.setItem("fenwei.grouped", state.grouped ? "1" : "0");
    drawAlerts();
  });
  $("silences-all").addEventListener("change", (e) => {
    state.silencesAll = e.target.checked;
    refreshSilences().then(drawAlertPanels).catch(fail);
  });
  $("silence-form").addEventListener("submit", (e) => createSilence(e).catch(fail));
  $("silence-form").elements.city.addEventListener("change", () => fillStations($("silence-form"), state.cat));
  window.addEventListener("resize", debounce(() => {
    map.resize(); historyChart.resize(); rivers.resize();
    if (explorer.chart) explorer.chart.resize();
  }, 150));
}

async function boot() {
  initLang();
  adoptKeyFromUrl();
  applyStatic();
  $("lang").textContent = t("lang");
  wireUi();
  setStream("offline");
  if (typeof echarts === "undefined") {
    showMessage("ECharts is not installed (run scripts/setup): charts are off.");
    return;
  }
  map = new RegionMap($("map"), select);
  historyChart = echarts.init($("history"), null, { renderer: "svg" });
  rivers = echarts.init($("rivers"), null, { renderer: "svg" });
  if (!getKey()) {
    showMessage(t("keyPrompt"));
    $("key").focus();
    return;
  }
  $("key").placeholder = "••••••••";
  await loadCatalogue();
  explorer = new Explorer($("explorer"), { cat: state.cat, params: state.params, me: state.me,
    nowMs, onError: fail });
  await Promise.all([refreshAqi(), refreshEcoflow(), refreshAlertPanels(), refreshDuty()]);
  redrawAll();
  document.body.dataset.ready = "1";
  followEvents(onEvent, setStream);
  setInterval(tickCountdowns, 1000);
  setInterval(() => refreshAqi().then(drawAqi).catch(fail), 60000);
  setInterval(() => refreshEcoflow().then(() => { drawRivers(); drawMap(); }).catch(fail), 300000);
  let ticks = 0;
  setInterval(() => {  // the stream carries alert changes; without it poll every 15 s
    ticks += 1;
    if (state.stream !== "live" || ticks % 4 === 0) reloadAlerts();
  }, 15000);
  setInterval(() => drawHistory().catch(fail), 300000);
  setInterval(() => refreshDuty().then(drawDuty).catch(fail), 300000);   // a shift changes
}

// For people debugging in the console and for the browser test.
window.fenwei = {
  state,
  markers: () => (map ? map.markerPixels() : []),
  alertCities: (a) => alertCities(a, state.cat),
  refresh: () => refreshNow(),
  explorer: () => (explorer ? explorer.summary() : null),
};

boot().catch(fail);
