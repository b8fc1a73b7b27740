// History mode: every saved trace, comparison, choice, sweep and calibration, newest first;
// search by text, reopen in its mode (a sweep has none in the page: its HTML export shows
// it), export (JSON, HTML), delete. Ids go into addresses encoded: an
// imported trace keeps the id its file gave it, any text. Leaves out drawing what is
// reopened.

import { del, download, get } from "./api.js";
import { go } from "./state.js";
import { button, clear, el, when } from "./ui.js";

const $ = (id) => document.getElementById(id);

// Which mode reopens an entry (null: none does).
export function modeOf(rec) {
  if (rec.kind === "comparison") return "compare";
  if (rec.kind === "choice") return "score";
  if (rec.kind === "calibration") return "calibrate";
  if (rec.kind !== "trace") return null;
  if (rec.mode === "chat") return "chat";
  if (rec.mode === "score") return "score";
  return "complete";
}

const KIND_LABEL = { chat: "chat", completion: "completion", score: "score", comparison: "comparison", choice: "choice",
  sweep: "sweep", calibration: "calibration" };

export function initHistory() {
  const list = $("hist-list"), search = $("hist-search"), kind = $("hist-kind");
  let timer = 0, seq = 0;

  async function load() {
    const mine = ++seq;
    const q = new URLSearchParams();
    if (search.value.trim()) q.set("search", search.value.trim());
    if (kind.value) q.set("kind", kind.value);
    let records;
    try {
      records = (await get("/api/history?" + q.toString())).records;
    } catch (e) {
      clear(list).appendChild(el("p", "wa-error", e.message));
      return;
    }
    if (mine !== seq) return; // a newer search has started
    clear(list);
    if (!records.length) {
      list.appendChild(el("p", "wa-muted hist-empty", search.value || kind.value
        ? "Nothing matches." : "Nothing saved yet: every generation, scoring and comparison is kept here."));
      return;
    }
    for (const r of records) list.appendChild(row(r));
  }

  function row(r) {
    // A kind this page does not know yet is named as the server names it.
    const kindName = (r.kind === "trace" ? KIND_LABEL[r.mode] || r.mode : KIND_LABEL[r.kind] || r.kind) || "entry";
    const mode = modeOf(r);
    const open = mode ? () => go(mode, r.id) : null;
    const title = el(open ? "button" : "div", "hist-title", [
      el("span", "hist-prompt", r.title || "(no prompt)"),
      r.text ? el("span", "hist-text", " \u2192 " + r.text) : null]);
    if (open) { title.type = "button"; title.addEventListener("click", open); }
    else title.title = "Shown by its HTML export";
    const actions = el("div", "hist-actions", [
      open ? button("Open", "wa-small-btn", open) : null,
      button("JSON", "wa-small-btn", () => download(`/api/history/${encodeURIComponent(r.id)}/export?format=json`, r.id + ".json").catch(alertIn)),
      button("HTML", "wa-small-btn", () => download(`/api/history/${encodeURIComponent(r.id)}/export?format=html`, r.id + ".html").catch(alertIn)),
      button("Delete", "wa-small-btn wa-danger", () => confirmDelete())]);
    const item = el("div", "hist-row", [
      el("div", "hist-meta", [el("span", "hist-kind k-" + kindName, kindName),
        r.parent_id ? el("span", "hist-branch", "branch") : null,
        el("span", "hist-model", r.model || ""), el("time", "hist-when", when(r.created))]),
      title, actions]);
    item.dataset.id = r.id;
    function alertIn(e) { actions.appendChild(el("span", "wa-error", " " + e.message)); }
    function confirmDelete() {
      clear(actions).append(el("span", "wa-small", "Delete this entry? "),
        button("Delete", "wa-small-btn wa-danger", async () => {
          try { await del(`/api/history/${encodeURIComponent(r.id)}`); item.remove(); } catch (e) { alertIn(e); }
        }),
        button("Keep", "wa-small-btn", () => load()));
    }
    return item;
  }

  search.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(load, 200); });
  kind.addEventListener("change", load);
  return { focus() { load(); } };
}
