// Calibrate mode: a labelled set (a JSONL file read here and sent as text, or the built-in
// demo), the runs to compare (models, system prompts, temperatures), run as a job with its
// progress; then the calibration page of the HTML export, drawn by the very same script
// (views/static/ops-calibrate.js, loaded by index.html): reliability diagram with the bins'
// counts, selective curve, each signal's AUROC; a bin lists its items and an item opens in
// the viewer. The server checks the file (every line) before anything runs. Leaves out the
// figures (the library computed every one) and the drawing itself.

import { progressJob } from "./progress.js";
import { currentModel, mark, onModelChange, state } from "./state.js";
import { button, clear, el, fmt, status } from "./ui.js";

const $ = (id) => document.getElementById(id);
const V = window.TokenprobeViewer;
const MAX_FILE = 1000000; // characters, as the server takes them (routes_calibrate.MAX_DATA)

// A column of text boxes, each one value (system prompts, temperatures); blank ones are left out.
function listEditor(host, label, kind, values) {
  const items = el("div", "cmp-items");
  host.append(el("div", "cmp-label", label), items, button("+ Add", "wa-link", () => add("")));
  function add(v) {
    const input = kind === "number" ? el("input") : el("textarea");
    if (kind === "number") Object.assign(input, { type: "number", min: "0", max: "5", step: "0.05" });
    else input.rows = 2;
    input.value = v;
    input.setAttribute("aria-label", label);
    const row = el("div", "cmp-item", [input, button("\u00d7", "wa-icon cmp-rm", () => row.remove(), "Remove")]);
    items.appendChild(row);
  }
  values.forEach(add);
  return {
    values() { return Array.from(items.querySelectorAll("input, textarea")).map((i) => i.value).filter((v) => v.trim() !== ""); },
  };
}

export function initCalibrate() {
  const form = $("cal-form"), go = $("cal-go"), stop = $("cal-stop"), line = $("cal-status");
  const bar = $("cal-progress"), result = $("cal-result"), modelsBox = $("cal-models");
  const fileInput = $("cal-file"), fileNote = $("cal-file-note");
  const systems = listEditor($("cal-systems"), "System prompts (chat; none: a plain completion)", "textarea", []);
  const temps = listEditor($("cal-temps"), "Temperatures (0: greedy)", "number", ["0"]);
  let job = null, file = null;

  function drawModels() {
    const checked = new Set(Array.from(modelsBox.querySelectorAll("input:checked")).map((i) => i.value));
    if (!checked.size && state.model) checked.add(state.model);
    clear(modelsBox);
    for (const m of state.models) {
      const box = el("input");
      Object.assign(box, { type: "checkbox", value: m.id, checked: checked.has(m.id) });
      modelsBox.appendChild(el("label", "cmp-model", [box, " " + m.label]));
    }
  }
  onModelChange(drawModels);

  const source = () => (form.querySelector("input[name=cal-source]:checked") || {}).value;
  function syncSource() { fileInput.disabled = source() !== "file"; }
  form.querySelectorAll("input[name=cal-source]").forEach((r) => r.addEventListener("change", syncSource));
  syncSource();

  // The file is read here (as UTF-8: a file that is not decodes with U+FFFD, and the
  // server's check names the line whose JSON that breaks) and checked only for its size.
  fileInput.addEventListener("change", async () => {
    file = null;
    const f = fileInput.files && fileInput.files[0];
    if (!f) { fileNote.textContent = ""; return; }
    const text = await f.text();
    if (text.length > MAX_FILE) {
      fileNote.textContent = f.name + " is too large for the page (" + fmt.plural(text.length, "character", "characters") +
        "; at most " + MAX_FILE + "): run it with tokenprobe calibrate on the command line.";
      fileNote.className = "wa-small wa-error";
      return;
    }
    file = { name: f.name, text };
    const lines = text.split("\n").filter((l) => l.trim()).length;
    fileNote.textContent = f.name + ": " + fmt.plural(lines, "line", "lines");
    fileNote.className = "wa-small wa-muted";
  });

  function body() {
    const b = { judge: $("cal-judge").value, max_tokens: Number($("cal-max").value),
      alternatives: Number($("cal-alt").value), bins: Number($("cal-bins").value) };
    if (source() === "demo") b.demo = true;
    else { b.data = file ? file.text : ""; b.name = file ? file.name : null; }
    const s = systems.values(), t = temps.values().map(Number);
    const m = Array.from(modelsBox.querySelectorAll("input:checked")).map((i) => i.value);
    if (s.length) b.systems = s;
    if (t.length) b.temperatures = t;
    if (m.length) b.models = m;
    else if (currentModel()) b.models = [currentModel().id];
    return b;
  }

  form.addEventListener("submit", (e) => {
    e.preventDefault();
    if (job) return;
    if (source() === "file" && !file) { status(line, "Choose a JSONL file first (or the demo).", "error"); return; }
    job = progressJob("/api/calibrate", body(), {
      go, stop, bar, line, working: "Asking the model\u2026",
      stopped: "Stopped. The answers so far are kept: run it again to go on from there.",
      count: (d) => d.done + " of " + fmt.plural(d.total, "request", "requests") + " answered",
      ended() { job = null; },
      done(d) {
        status(line, d.save_error ? "Not saved: " + d.save_error : "", d.save_error ? "error" : undefined);
        draw(d.calibration);
        if (d.saved) mark("calibrate", d.saved);
      },
    });
  });
  stop.addEventListener("click", () => { if (job) job.stop(); });

  // The export's own page view draws it; the page's header is this mode's.
  function draw(page) {
    clear(result);
    const cal = page.calibration;
    const view = V.pageViews.find((v) => v.match(page));
    const failed = cal.runs.reduce((n, r) => n + r.failed.length, 0);
    result.appendChild(el("p", "wa-muted wa-small cal-about", [
      fmt.plural(cal.n_items, "item", "items") + " of " + cal.data + " \u00b7 " + fmt.plural(cal.runs.length, "run", "runs") +
      " \u00b7 open answers judged " + cal.settings.judge + " \u00b7 " + cal.settings.n_bins + " bins",
      failed ? " \u00b7 " + fmt.plural(failed, "item", "items") + " without an answer" : ""]));
    const host = el("div");
    result.appendChild(host);
    view.render(host, page, { embedded: true });
  }

  return {
    open(entry) {
      if (!entry.calibration) throw new Error("it is a " + entry.kind + ", not a calibration");
      drawModels();
      draw(entry.calibration);
    },
    focus() { drawModels(); },
  };
}
