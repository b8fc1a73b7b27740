// The page: modes (Chat, Complete, Score, Compare, Calibrate, Tokenize, History) chosen by the address
// (#/mode or #/mode/ID to reopen a saved entry), the model picker and "add a model", the
// token prompt, the theme, and the server's state (model loading, queue) in the top bar.

import { ApiError, del, get, post, setToken, setTokenPrompt } from "./api.js";
import { initChat } from "./chat.js";
import { initCalibrate } from "./calibrate.js";
import { initCompare } from "./compare.js";
import { initComplete, initScore } from "./complete.js";
import { initHistory } from "./history.js";
import { initTokenize } from "./tokenize.js";
import { selectModel, setModels, state } from "./state.js";
import { clear, el } from "./ui.js";

const $ = (id) => document.getElementById(id);
const MODES = ["chat", "complete", "score", "compare", "calibrate", "tokenize", "history"];

// --- token ---------------------------------------------------------------------------

let tokenWaiters = null;
setTokenPrompt((problem) => {
  if (!tokenWaiters) {
    tokenWaiters = [];
    $("token-modal").hidden = false;
    $("token-error").hidden = !problem;
    $("token-error").textContent = problem;
    $("token-input").value = "";
    $("token-input").focus();
  }
  return new Promise((resolve) => tokenWaiters.push(resolve));
});
$("token-form").addEventListener("submit", (e) => {
  e.preventDefault();
  setToken($("token-input").value.trim());
  $("token-modal").hidden = true;
  const waiting = tokenWaiters || [];
  tokenWaiters = null;
  waiting.forEach((r) => r());
});

// --- theme ---------------------------------------------------------------------------

function theme() {
  const t = document.documentElement.getAttribute("data-theme");
  if (t) return t;
  return matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light";
}
function syncTheme() { $("theme").textContent = theme() === "dark" ? "\u2600\ufe0e" : "\u263e"; }
try {
  const t = localStorage.getItem("tokenprobe-theme");
  if (t === "light" || t === "dark") document.documentElement.setAttribute("data-theme", t);
} catch (e) { /* no storage */ }
$("theme").addEventListener("click", () => {
  const next = theme() === "dark" ? "light" : "dark";
  document.documentElement.setAttribute("data-theme", next);
  try { localStorage.setItem("tokenprobe-theme", next); } catch (e) { /* no storage */ }
  syncTheme();
});
matchMedia("(prefers-color-scheme: dark)").addEventListener("change", syncTheme);
syncTheme();

// --- models --------------------------------------------------------------------------

const select = $("model-select");
async function loadModels(prefer) {
  const r = await get("/api/models");
  let stored = null;
  try { stored = localStorage.getItem("tokenprobe-model"); } catch (e) { /* no storage */ }
  if (!state.model && stored && r.models.some((m) => m.id === stored)) state.model = stored;
  if (prefer) state.model = prefer;
  setModels(r.models, r.default);
  clear(select);
  for (const m of r.models) {
    const o = el("option", null, m.label + (m.local ? "" : " \u00b7 " + m.backend));
    o.value = m.id;
    o.selected = m.id === state.model;
    select.appendChild(o);
  }
}
select.addEventListener("change", () => selectModel(select.value));

const modal = $("model-modal");
let unreachable = null; // a model just added whose server did not answer: keep it or not

// The server tried the new model's address and found nothing answering there now: say so,
// and let the user keep the model (a server started later will answer) or remove it.
function askKeep(added) {
  unreachable = added;
  $("model-reach-note").textContent = added.label + " was added, but its server is " + added.reach_note +
    ". Keep it in the list (and use it once the server answers), or remove it?";
  $("model-drop").hidden = !added.removable; // one given at start stays
  $("model-reach").hidden = false;
  $("model-actions").hidden = true;
  $("model-keep").focus();
}
function closeAddModel() {
  modal.hidden = true;
  unreachable = null;
  $("model-reach").hidden = true;
  $("model-actions").hidden = false;
}
$("model-keep").addEventListener("click", async () => {
  const added = unreachable;
  closeAddModel();
  if (added) await loadModels(added.id);
});
$("model-drop").addEventListener("click", async () => {
  const added = unreachable;
  try {
    if (added) await del("/api/models/" + encodeURIComponent(added.id));
    closeAddModel();
    await loadModels();
  } catch (err) {
    $("model-error").hidden = false;
    $("model-error").textContent = err.message;
  }
});

function openAddModel(want) {
  closeAddModel();
  modal.hidden = false;
  $("model-error").hidden = true;
  if (want) { // a trace's model, named by the server: its key, if any, is the user's to give
    $("model-spec").value = want.spec || "";
    $("model-url").value = want.base_url || "";
    $("model-key").value = "";
    $("model-label").value = "";
    $("model-kind").value = want.logprobs_kind || "";
  }
  (want && want.spec ? $("model-key") : $("model-spec")).focus();
}
state.addModel = openAddModel;
$("add-model").addEventListener("click", () => openAddModel(null));
$("model-cancel").addEventListener("click", closeAddModel);
$("model-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const body = { spec: $("model-spec").value.trim() };
  for (const [k, id] of [["base_url", "model-url"], ["api_key", "model-key"], ["label", "model-label"], ["logprobs_kind", "model-kind"]]) {
    if ($(id).value.trim()) body[k] = $(id).value.trim();
  }
  try {
    const added = await post("/api/models", body);
    $("model-key").value = ""; // the key now lives on the server only
    if (added.reachable === false) { await loadModels(); askKeep(added); return; }
    closeAddModel();
    await loadModels(added.id);
  } catch (err) {
    $("model-error").hidden = false;
    $("model-error").textContent = err.message;
  }
});
for (const m of [modal, $("token-modal")]) {
  m.addEventListener("keydown", (e) => { if (e.key === "Escape" && m === modal) closeAddModel(); });
}

// --- server state ----------------------------------------------------------------------

const statusEl = $("status");
async function health() {
  try {
    const h = await get("/api/health");
    const q = h.queues.local || { running: 0, waiting: 0 };
    let text = "", cls = "ok";
    if (h.model.state === "loading") { text = "loading the model\u2026"; cls = "busy"; }
    else if (h.model.state === "error") { text = "the model failed to load"; cls = "bad"; statusEl.title = h.model.error; }
    else if (q.running || q.waiting) { text = q.running + " running" + (q.waiting ? " \u00b7 " + q.waiting + " waiting" : ""); cls = "busy"; }
    else text = "ready";
    statusEl.textContent = text;
    statusEl.className = "wa-status " + cls;
  } catch (e) {
    statusEl.textContent = e instanceof ApiError && e.status === 0 ? "server not reachable" : "";
    statusEl.className = "wa-status bad";
  }
}

// --- modes -----------------------------------------------------------------------------

const views = {};
async function route() {
  const parts = location.hash.replace(/^#\/?/, "").split("/");
  const mode = MODES.includes(parts[0]) ? parts[0] : "chat";
  let id = parts.slice(1).join("/") || null;
  try { id = id && decodeURIComponent(id); } catch (e) { /* not encoded by us: as it is */ }
  for (const m of MODES) {
    $("view-" + m).hidden = m !== mode;
    const link = document.querySelector(`.wa-modes a[data-mode="${m}"]`);
    link.classList.toggle("on", m === mode);
    if (m === mode) link.setAttribute("aria-current", "page"); else link.removeAttribute("aria-current");
  }
  document.title = "tokenprobe \u00b7 " + mode[0].toUpperCase() + mode.slice(1);
  const view = views[mode];
  if (id && view.open && view.shown !== id) {
    view.shown = id;
    try {
      view.open(await get("/api/history/" + encodeURIComponent(id)));
    } catch (e) {
      const main = $("view-" + mode);
      const note = el("p", "wa-notice wa-error", "Cannot open " + id + ": " + e.message);
      main.prepend(note);
      setTimeout(() => note.remove(), 8000);
    }
  }
  if (view.focus) view.focus();
}

async function start() {
  views.chat = initChat();
  views.complete = initComplete();
  views.score = initScore();
  views.compare = initCompare();
  views.calibrate = initCalibrate();
  views.tokenize = initTokenize();
  views.history = initHistory();
  try {
    state.info = await get("/api/info");
    await loadModels();
  } catch (e) {
    statusEl.textContent = e.message;
    statusEl.className = "wa-status bad";
  }
  window.addEventListener("hashchange", route);
  await route();
  await health();
  setInterval(health, 4000);
  document.documentElement.setAttribute("data-wa-ready", "1");
}

start();
