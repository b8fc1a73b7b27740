// Compare mode: lists of prompts, system prompts, temperatures and models; every
// combination is a variant (the library's compare). Results side by side: each variant's
// figures (mean ± spread over samples), its answer as token chips, and with a fixed answer
// the per-token differences (between variants with the same tokens only). Leaves out the
// viewer and the stream.

import { progressJob } from "./progress.js";
import { currentModel, mark, onModelChange, state } from "./state.js";
import { button, clear, el, fmt, status } from "./ui.js";

const $ = (id) => document.getElementById(id);
const V = window.TokenprobeViewer;
const METRIC_LABELS = {
  tokens: ["tokens", (v) => fmt.num(v, 1).replace(/\.0$/, "")],
  total_logprob: ["total logprob", (v) => fmt.num(v, 2)],
  mean_logprob: ["mean logprob", (v) => fmt.num(v, 3)],
  geometric_mean_prob: ["per-token probability, geometric mean", (v) => fmt.pct(v)],
  arithmetic_mean_prob: ["per-token probability, arithmetic mean", (v) => fmt.pct(v)],
  perplexity: ["perplexity", (v) => fmt.num(v, 2)],
  mean_entropy: ["mean entropy", (v) => fmt.num(v, 2) + " nats"],
  top1_share: ["top-1 share", (v) => fmt.pct(v)],
};

function listEditor(host, values, onChange) {
  const kind = host.dataset.kind;
  const items = el("div", "cmp-items");
  const add = button("+ Add", "wa-link", () => { addItem(""); onChange(); });
  host.append(el("div", "cmp-label", host.dataset.label), items, add);
  function addItem(v) {
    const input = kind === "number" ? el("input") : el("textarea");
    if (kind === "number") Object.assign(input, { type: "number", min: "0", max: "5", step: "0.05" });
    else input.rows = 2;
    input.value = v;
    input.setAttribute("aria-label", host.dataset.label);
    input.addEventListener("input", onChange);
    const row = el("div", "cmp-item", [input, button("\u00d7", "wa-icon cmp-rm", () => { row.remove(); onChange(); }, "Remove")]);
    items.appendChild(row);
  }
  values.forEach(addItem);
  return {
    set(vs) { clear(items); vs.forEach((v) => addItem(String(v))); },
    values() {
      return Array.from(items.querySelectorAll("input, textarea")).map((i) => i.value).filter((v) => v.trim() !== "");
    },
  };
}

export function initCompare() {
  const form = $("compare-form"), go = $("cmp-go"), stop = $("cmp-stop"), line = $("cmp-status");
  const result = $("cmp-result"), bar = $("cmp-progress"), modelsBox = $("cmp-models");
  let viewers = [], job = null;
  const update = () => { go.textContent = "Compare " + fmt.plural(count(), "variant", "variants"); };
  const prompts = listEditor($("cmp-prompts"), ["What is the capital of France?"], update);
  const systems = listEditor($("cmp-systems"), ["Answer in one word.", "Answer like a pirate, at length."], update);
  const temps = listEditor($("cmp-temps"), ["0.7"], update);

  function drawModels() {
    const checked = new Set(Array.from(modelsBox.querySelectorAll("input:checked")).map((i) => i.value));
    if (!checked.size && state.model) checked.add(state.model);
    clear(modelsBox);
    for (const m of state.models) {
      const box = el("input");
      Object.assign(box, { type: "checkbox", value: m.id, checked: checked.has(m.id) });
      box.addEventListener("change", update);
      modelsBox.appendChild(el("label", "cmp-model", [box, " " + m.label]));
    }
    update();
  }
  onModelChange(drawModels);
  const models = () => Array.from(modelsBox.querySelectorAll("input:checked")).map((i) => i.value);
  function count() {
    return Math.max(1, prompts.values().length) * Math.max(1, systems.values().length) *
      Math.max(1, temps.values().length) * Math.max(1, models().length);
  }

  function body() {
    const b = { prompts: prompts.values(), samples: Number($("cmp-samples").value),
      max_tokens: Number($("cmp-max").value), alternatives: Number($("cmp-alt").value) };
    const s = systems.values(), t = temps.values().map(Number), m = models();
    if (s.length) { b.systems = s; b.chat = true; }
    if (t.length) b.temperatures = t;
    if (m.length) b.models = m;
    else if (currentModel()) b.models = [currentModel().id];
    const answer = $("cmp-answer").value;
    if (answer) b.answer = answer;
    return b;
  }

  form.addEventListener("submit", (e) => {
    e.preventDefault();
    if (job) return;
    job = progressJob("/api/compare", body(), {
      go, stop, bar, line, working: "Running the variants\u2026", stopped: "Stopped.",
      count: (d) => d.done + " of " + d.total + " done",
      ended() { job = null; },
      done(d) { status(line, ""); draw(d.comparison); if (d.saved) mark("compare", d.saved); },
    });
  });
  stop.addEventListener("click", () => { if (job) job.stop(); });

  function draw(c) {
    viewers.forEach((v) => v.destroy());
    viewers = [];
    clear(result);
    const grid = el("div", "cmp-variants");
    c.variants.forEach((v, i) => {
      const card = el("section", "wa-card cmp-variant");
      const dl = el("dl", "cmp-metrics");
      for (const k of c.metrics) {
        const st = v.stats[k], [label, f] = METRIC_LABELS[k] || [k, (x) => String(x)];
        let text = st === null ? "not reported" : f(st[0]);
        if (st !== null && c.samples > 1) text += " \u00b1 " + f(st[1]);
        dl.appendChild(el("div", "cmp-metric", [el("dt", null, label), el("dd", "num", text)]));
      }
      // One answer per variant: its whole probability, exp(total logprob), written from the
      // logprob so that it shows even where it is too small for a float.
      const total = v.stats.total_logprob;
      if (c.samples === 1 && total) {
        dl.appendChild(el("div", "cmp-metric", [el("dt", null, "probability of the whole answer"),
          el("dd", "num", fmt.smallProb(total[0]))]));
      }
      const tr = v.traces[0];
      const text = el("div", "cmp-text");
      // A reasoning model's thinking is in none of these figures (ops/parts.py's line).
      const part = v.thinking ? el("p", "wa-muted wa-small cmp-part", v.thinking) : "";
      card.append(el("h3", "cmp-title", [el("span", "cmp-n", String(i + 1)), v.label]), dl, part,
        el("div", "wa-section", c.answer !== null ? "The fixed answer under this variant" :
          "Answer" + (c.samples > 1 ? " (sample 1 of " + c.samples + ")" : "")), text);
      grid.appendChild(card);
      viewers.push(V.mount(text, tr, { chrome: false, toolbar: false, prompt: false, panel: "none" }));
      const least = (tr.summary && tr.summary.least || []).slice(0, 3);
      if (least.length) {
        // A byte fragment is named by the glyph it belongs to.
        const sc = V.loadTrace(tr).main;
        card.appendChild(el("p", "cmp-least", ["Least confident: ", ...least.flatMap((s, j) => [
          j ? ", " : "", fmt.glyphNode(sc, s), " " + fmt.pct(Math.exp(sc.lp[s]))])]));
      }
    });
    result.appendChild(grid);
    if (c.deltas) result.appendChild(deltaTable(c));
  }

  // Put a saved comparison's settings back in the form (each dimension's distinct values).
  function restore(c) {
    const distinct = (k) => [...new Set(c.variants.map((v) => v.settings[k]))].filter((v) => v !== null && v !== undefined);
    prompts.set(distinct("prompt"));
    systems.set(distinct("system"));
    temps.set(distinct("temperature"));
    const ids = new Set(distinct("model"));
    modelsBox.querySelectorAll("input").forEach((i) => { i.checked = ids.has(i.value); });
    $("cmp-answer").value = c.answer || "";
    $("cmp-samples").value = String(c.samples);
    update();
  }

  return {
    open(entry) { drawModels(); restore(entry.comparison); draw(entry.comparison); },
    focus() { drawModels(); },
  };
}

// Per token of the fixed answer: each variant's logprob, and its difference from the
// first. `c.deltas[i]` is null for a variant that split the answer into other tokens than
// variant 1 (another tokenizer): its token k is another piece of text, so it gets no cells.
function deltaTable(c) {
  const base = c.variants[0].traces[0], baseTr = V.loadTrace(base), baseSc = baseTr.main;
  const other = c.variants.map((v, i) => c.deltas[i] === null);
  const table = el("table", "cmp-deltas");
  const head = el("tr", null, [el("th", null, "token")]);
  c.variants.forEach((v, i) => head.appendChild(el("th", null, [el("span", "cmp-n", String(i + 1)),
    other[i] ? " other tokens" : " logprob", i && !other[i] ? " (\u0394 vs 1)" : ""])));
  table.appendChild(el("thead", null, head));
  const tbody = el("tbody");
  for (let s = 0; s < base.steps.n; s++) {
    const row = el("tr", null, el("td", null, fmt.stepTokenNode(baseTr, baseSc, s)));
    c.variants.forEach((v, i) => {
      if (other[i]) { row.appendChild(el("td", "num cmp-none", "\u2014")); return; }
      const t = v.traces[0], lp = t.steps.lp[s];
      const d = c.deltas[i][s];
      const cell = el("td", "num", lp === null ? "not reported" : fmt.num(lp / 1e4, 3));
      if (i && d !== null) {
        const dd = el("span", "cmp-delta " + (d > 0.005 ? "up" : d < -0.005 ? "down" : "same"), " " + (d > 0 ? "+" : "") + fmt.num(d, 3));
        cell.appendChild(dd);
      }
      row.appendChild(cell);
    });
    tbody.appendChild(row);
  }
  table.appendChild(tbody);
  const split = c.variants.map((v, i) => i).filter((i) => other[i]);
  const words = split.length
    ? "Every variant scored the same answer text (teacher forcing), but not as the same tokens: " +
      split.map((i) => "variant " + (i + 1) + " split it into " + fmt.plural(c.variants[i].traces[0].steps.n, "token", "tokens")).join(", ") +
      " against variant 1's " + base.steps.n + " (another tokenizer), so " +
      (split.length === 1 ? "its tokens do not line up with these and only its total compares" : "their tokens do not line up with these and only their totals compare") +
      ". For the others, a positive difference means the variant made the token more likely than variant 1 did."
    : "Every variant scored exactly these tokens (teacher forcing); a positive difference means the variant made the token more likely than variant 1 did.";
  return el("section", "wa-card cmp-delta-card", [
    el("h2", "wa-card-title", "The same answer, token by token"),
    el("p", "wa-muted wa-small cmp-split-note", words),
    el("div", "wa-scroll", table)]);
}
