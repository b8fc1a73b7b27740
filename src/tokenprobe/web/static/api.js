// The page's side of the API: JSON requests, and jobs streamed as server-sent events
// (POST with fetch, read as a stream: EventSource cannot POST or send a token). The token,
// when the server has one, is asked for once and kept in this tab (sessionStorage).
// Leaves out what the page does with the answers.

const TOKEN_KEY = "tokenprobe-token";
let askToken = null; // set by app.js: () => Promise that resolves once a token is given

export function setTokenPrompt(fn) { askToken = fn; }
export function getToken() {
  try { return sessionStorage.getItem(TOKEN_KEY); } catch (e) { return null; }
}
export function setToken(t) {
  try { sessionStorage.setItem(TOKEN_KEY, t); } catch (e) { /* no storage */ }
}

function headers(json) {
  const h = {};
  if (json) h["Content-Type"] = "application/json";
  const t = getToken();
  if (t) h.Authorization = "Bearer " + t;
  return h;
}

// An error answer: `status`, the one-line `message`, and the whole JSON `body` (a branch
// the server has no model for names the model to add in `body.add_model`).
export class ApiError extends Error {
  constructor(status, detail, body) { super(detail); this.status = status; this.body = body || null; }
}

async function errorOf(resp) {
  let detail = resp.statusText || "the server answered " + resp.status, body = null;
  try { body = await resp.json(); if (body && body.detail) detail = body.detail; } catch (e) { /* not JSON */ }
  return new ApiError(resp.status, detail, body);
}

// fetch, asking for the token and trying again when the server wants one.
async function send(method, path, body, signal) {
  for (let attempt = 0; ; attempt++) {
    let resp;
    try {
      resp = await fetch(path, {
        method, signal, headers: headers(body !== undefined),
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (e) {
      if (e.name === "AbortError") throw e;
      throw new ApiError(0, "cannot reach the server (is tokenprobe serve still running?)");
    }
    if (resp.status === 401 && askToken && attempt < 5) {
      await askToken(getToken() ? "That token was not accepted." : "");
      continue;
    }
    return resp;
  }
}

export async function api(method, path, body) {
  const resp = await send(method, path, body);
  if (!resp.ok) throw await errorOf(resp);
  return resp.json();
}

export const get = (path) => api("GET", path);
export const post = (path, body) => api("POST", path, body);
export const del = (path) => api("DELETE", path);

// The file name a Content-Disposition gives (RFC 6266): `filename*` first (RFC 5987,
// percent-encoded UTF-8: every character of the name), else `filename` (its ASCII
// fallback, where the server made `_` of whatever is not ASCII); null for neither.
export function dispositionName(cd) {
  const star = /(?:^|;)\s*filename\*\s*=\s*([A-Za-z0-9_-]+)'[^']*'([^;\s]+)/i.exec(cd);
  if (star) {
    const charset = star[1].toLowerCase();
    try {
      if (charset === "utf-8") return decodeURIComponent(star[2]);
      if (charset === "iso-8859-1") return star[2].replace(/%([0-9A-Fa-f]{2})/g, (_, h) => String.fromCharCode(parseInt(h, 16)));
    } catch (e) { /* not valid percent-encoded UTF-8: the fallback */ }
  }
  const quoted = /(?:^|;)\s*filename\s*=\s*"((?:[^"\\]|\\.)*)"/i.exec(cd);
  if (quoted) return quoted[1].replace(/\\(.)/g, "$1");
  const bare = /(?:^|;)\s*filename\s*=\s*([^;\s"]+)/i.exec(cd);
  return bare ? bare[1] : null;
}

// Download what a GET answers (exports), through fetch so that the token goes along.
export async function download(path, fallbackName) {
  const resp = await send("GET", path);
  if (!resp.ok) throw await errorOf(resp);
  const name = dispositionName(resp.headers.get("Content-Disposition") || "");
  const url = URL.createObjectURL(await resp.blob());
  const a = document.createElement("a");
  a.href = url;
  a.download = name || fallbackName;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

const TERMINAL = new Set(["done", "error", "cancelled"]);

// Run a job: `on` has a handler per event name (queued, started, trace, steps, summary,
// progress, done, error, cancelled) and `refused(error)` for an answer that is not a
// stream (a 422 or a 503). Returns {stop(), finished}: stop() asks the server to stop the
// job (the tokens made so far are kept), or drops the request if it has no id yet.
export function runJob(path, body, on) {
  const ctrl = new AbortController();
  let jobId = null, ended = false;
  const fire = (name, data) => {
    if (name === "queued" || name === "started") jobId = data.job || jobId;
    if (TERMINAL.has(name)) ended = true;
    const fn = on[name];
    if (fn) fn(data);
  };
  const finished = (async () => {
    let resp;
    try {
      resp = await send("POST", path, body, ctrl.signal);
    } catch (e) {
      if (e.name !== "AbortError") fire("error", { message: e.message });
      else fire("cancelled", { reason: "stopped by the user" });
      return;
    }
    if (!resp.ok) {
      const err = await errorOf(resp);
      if (on.refused) on.refused(err); else fire("error", { message: err.message });
      ended = true;
      return;
    }
    const reader = resp.body.getReader();
    const decoder = new TextDecoder();
    let buf = "";
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += decoder.decode(value, { stream: true });
        let cut;
        while ((cut = buf.indexOf("\n\n")) >= 0) {
          const block = buf.slice(0, cut);
          buf = buf.slice(cut + 2);
          let name = "message", data = "";
          for (const line of block.split("\n")) {
            if (line.startsWith("event: ")) name = line.slice(7);
            else if (line.startsWith("data: ")) data += line.slice(6);
          }
          if (data) fire(name, JSON.parse(data));
        }
      }
    } catch (e) {
      if (e.name === "AbortError") { if (!ended) fire("cancelled", { reason: "stopped by the user" }); return; }
    }
    if (!ended) fire("error", { message: "the connection to the server was lost before the end" });
  })();
  return {
    finished,
    get job() { return jobId; },
    stop() {
      if (ended) return;
      if (jobId) {
        post(`/api/jobs/${encodeURIComponent(jobId)}/cancel`).catch(() => ctrl.abort());
      } else ctrl.abort();
    },
  };
}
