// Calls to the API with the user's key (Authorization: Bearer), and the live event stream.
const KEY = "fenwei.key";

export class ApiError extends Error {
  constructor(status, detail) {
    super(`${status}: ${detail}`);
    this.status = status;
    this.detail = detail;
  }
}

/** Take ?key= from the address into localStorage and drop it from the address bar. */
export function adoptKeyFromUrl() {
  const url = new URL(location.href);
  const key = url.searchParams.get("key");
  if (key) {
    localStorage.setItem(KEY, key.trim());
    url.searchParams.delete("key");
    history.replaceState(null, "", url.pathname + url.search + url.hash);
  }
}

export function getKey() {
  return localStorage.getItem(KEY) || "";
}

export function setKey(key) {
  if (key) localStorage.setItem(KEY, key.trim());
  else localStorage.removeItem(KEY);
}

async function send(method, path, body, accept = "application/json") {
  const headers = { Accept: accept, Authorization: `Bearer ${getKey()}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const res = await fetch(path, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body),
    cache: "no-store",
  });
  if (!res.ok) {
    let detail = res.statusText;
    try { detail = (await res.json()).detail || detail; } catch { /* not JSON */ }
    throw new ApiError(res.status, detail);
  }
  return res;
}

async function call(method, path, body) {
  const res = await send(method, path, body);
  return res.status === 204 ? null : res.json();
}

/** ``path`` with ``params`` as its query (null and undefined values left out). */
export const withQuery = (path, params) => (params ? `${path}?${new URLSearchParams(
  Object.entries(params).filter(([, v]) => v !== undefined && v !== null))}` : path);
export const get = (path, params) => call("GET", withQuery(path, params));
export const post = (path, body) => call("POST", path, body);

/** GET a text answer (CSV). */
export async function getText(path, params) {
  return (await send("GET", withQuery(path, params), undefined, "text/csv, */*")).text();
}

/**
 * GET a file with the key and hand it to the browser as a download (a link cannot send the
 * Authorization header): the file name is the server's (Content-Disposition). Returns it.
 */
export async function download(path, params, fallbackName = "download") {
  const res = await send("GET", withQuery(path, params), undefined, "*/*");
  const m = /filename="?([^";]+)"?/.exec(res.headers.get("content-disposition") || "");
  const name = m ? m[1] : fallbackName;
  const url = URL.createObjectURL(await res.blob());
  const a = document.createElement("a");
  a.href = url;
  a.download = name;
  a.hidden = true;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60000);
  return name;
}

/**
 * GET that degrades: a missing endpoint (404, 405, 501) or a store outage (503) gives
 * ``fallback`` instead of an error; 401/403 still throw so the page can ask for a key.
 */
export async function getOptional(path, params, fallback = null) {
  try {
    return await get(path, params);
  } catch (err) {
    if (err instanceof ApiError && [404, 405, 501, 503].includes(err.status)) return fallback;
    if (err instanceof TypeError) return fallback; // network down: keep what is shown
    throw err;
  }
}

/** The alert service's notification events (alerts/_lifecycle.py), plus unnamed frames. */
export const EVENT_NAMES = ["message", "issued", "updated", "escalated", "renotified",
  "acknowledged", "lifted", "resolved", "cancelled"];

/**
 * Follow /events (text/event-stream) with ?key=, since EventSource cannot send headers.
 * Calls onEvent(json) per message and onState("live"|"polling") as the link changes; when the
 * stream cannot be opened the caller polls, and the stream is retried every ``retryMs``.
 */
export function followEvents(onEvent, onState, retryMs = 30000) {
  let source = null;
  let retry = null;
  let stopped = false;
  const open = () => {
    if (stopped || !getKey()) return;
    source = new EventSource(`/events?key=${encodeURIComponent(getKey())}`);
    source.onopen = () => onState("live");
    const handle = (msg) => {
      let data = null;
      try { data = JSON.parse(msg.data); } catch { return; }
      onEvent(data);
    };
    // the server names each frame after the alert event ("event: issued"), and a named
    // event never reaches onmessage: listen to every name the alert service sends
    for (const name of EVENT_NAMES) source.addEventListener(name, handle);
    source.onerror = () => {
      if (source.readyState === EventSource.CLOSED) {   // refused (404, 401...): poll instead
        onState("polling");
        source = null;
        retry = setTimeout(open, retryMs);
      } else {
        onState("polling");                              // the browser reconnects by itself
      }
    };
  };
  open();
  return () => {
    stopped = true;
    clearTimeout(retry);
    if (source) source.close();
  };
}
