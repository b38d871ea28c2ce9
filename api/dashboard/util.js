// Small helpers: China Standard Time formatting, DOM building, durations.
export const CST_OFFSET_MS = 8 * 3600 * 1000;
const HOUR = 3600 * 1000;

const fmt = {};
function formatter(lang, opts) {
  const k = lang + JSON.stringify(opts);
  if (!fmt[k]) {
    fmt[k] = new Intl.DateTimeFormat(lang === "zh" ? "zh-CN" : "en-GB",
      { timeZone: "Asia/Shanghai", hour12: false, ...opts });
  }
  return fmt[k];
}

/** "2026-11-20 08:00" in China Standard Time, whatever the browser's zone. */
export function cstText(t, lang = "zh", withDate = true) {
  if (t === null || t === undefined || t === "") return "–";
  const d = t instanceof Date ? t : new Date(t);
  if (Number.isNaN(d.getTime())) return "–";
  const parts = Object.fromEntries(formatter(lang, {
    year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit",
  }).formatToParts(d).map((p) => [p.type, p.value]));
  const hm = `${parts.hour === "24" ? "00" : parts.hour}:${parts.minute}`;
  return withDate ? `${parts.year}-${parts.month}-${parts.day} ${hm}` : hm;
}

/** Epoch ms shifted so that ECharts with useUTC shows China Standard Time. */
export function cstAxis(t) {
  return new Date(t).getTime() + CST_OFFSET_MS;
}

export function toMs(t) {
  if (t === null || t === undefined || t === "") return null;
  const v = new Date(t).getTime();
  return Number.isNaN(v) ? null : v;
}

/** Remaining time as "2d 5h" / "5h 12m" / "12m"; null when the end is unknown. */
export function timeLeft(endMs, nowMs) {
  if (endMs === null || endMs === undefined) return null;
  const ms = endMs - nowMs;
  if (ms <= 0) return { expired: true, d: 0, h: 0, m: 0 };
  const m = Math.floor(ms / 60000);
  return { expired: false, d: Math.floor(m / 1440), h: Math.floor((m % 1440) / 60), m: m % 60 };
}

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") node.className = v;
    else if (k === "style") Object.assign(node.style, v);
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (k === "dataset") Object.assign(node.dataset, v);
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    node.append(c instanceof Node ? c : String(c));
  }
  return node;
}

export function debounce(fn, ms) {
  let timer = null;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}

/**
 * Run ``fn`` once, ``ms`` after the first of a burst of calls: unlike a debounce, a steady
 * stream of calls (a storm of alert events) cannot postpone it for ever.
 */
export function throttle(fn, ms) {
  let timer = null;
  return (...args) => {
    if (timer !== null) return;
    timer = setTimeout(() => { timer = null; fn(...args); }, ms);
  };
}

export { HOUR };
