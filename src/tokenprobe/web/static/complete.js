// Complete mode: a text to continue, the continuation streamed into the full viewer (the
// reading view with its summary and chart, the step view, the temperature slider that
// re-normalises what was recorded), and branching from any alternative. Score mode: a
// given text scored, and the choice between options.

import { runJob } from "./api.js";
import { TraceBox } from "./live.js";
import { currentModel, mark } from "./state.js";
import { clear, el, fmt, samplingForm, status } from "./ui.js";

const $ = (id) => document.getElementById(id);
const V = window.TokenprobeViewer;

export function initComplete() {
  const form = $("complete-form"), go = $("complete-go"), stop = $("complete-stop");
  const prompt = $("complete-prompt"), line = $("complete-status");
  const sampling = samplingForm($("complete-sampling"), { temperature: 0.8, max_tokens: 48 });
  const box = new TraceBox($("complete-result"), {
    viewer: { chrome: false, onPick: true,
      pickHint: "Click the token to pin this, then click an alternative to continue from it." },
    onBusy(busy) { go.hidden = busy; stop.hidden = !busy; },
    onChange(b) {
      if (!b.doc) return;
      mark("complete", b.doc.id);
      const t = b.timing;
      status(line, t && t.tokens_per_s ? "engine: first token after " + t.ttft_ms.toFixed(0) + " ms, " +
        t.tokens_per_s.toFixed(1) + " tokens/s" : "");
    },
  });
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    if (!prompt.value) { status(line, "Give a text to continue.", "error"); return; }
    const m = currentModel();
    status(line, "");
    box.run("/api/generate", Object.assign({ prompt: prompt.value, model: m ? m.id : undefined },
      sampling.read()));
  });
  stop.addEventListener("click", () => box.stop());
  return {
    open(entry) {
      const doc = entry.traces[entry.index];
      prompt.value = (doc.request && doc.request.prompt) || "";
      sampling.write(doc.request);
      box.setTree(entry.traces, entry.index);
    },
    focus() { prompt.focus(); },
  };
}

export function initScore() {
  const form = $("score-form"), go = $("score-go"), stop = $("score-stop"), line = $("score-status");
  const text = $("score-text"), alt = $("score-alt"), result = $("score-result");
  let app = null, job = null;
  function show(doc) {
    if (app) app.destroy();
    app = V.mount(result, doc, { chrome: false, measure: "surprisal" });
  }
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    if (job) return;
    const m = currentModel();
    go.hidden = true; stop.hidden = false;
    status(line, "Sending\u2026");
    const end = () => { job = null; go.hidden = false; stop.hidden = true; };
    job = runJob("/api/score", { text: text.value, alternatives: Number(alt.value), model: m ? m.id : undefined }, {
      queued(d) { status(line, "Waiting in the queue: position " + d.position, "queue"); },
      started() { status(line, "Scoring\u2026"); },
      progress(d) { status(line, "Scoring\u2026 " + d.done + " of " + d.total + " tokens"); },
      done(d) {
        end();
        show(d.trace);
        status(line, scoreLine(d.trace) + " The most surprising tokens are listed beside the text.");
        if (d.saved) mark("score", d.saved);
      },
      error(d) { end(); status(line, d.message, "error"); },
      cancelled() { end(); status(line, "Stopped.", "muted"); },
      refused(err) { end(); status(line, err.message, "error"); },
    });
  });
  stop.addEventListener("click", () => { if (job) job.stop(); });

  // Choose: which of several complete options the model believes.
  const cform = $("choose-form"), cline = $("choose-status"), cres = $("choose-result");
  const cgo = $("choose-go"), cstop = $("choose-stop");
  let cjob = null;
  cform.addEventListener("submit", (e) => {
    e.preventDefault();
    if (cjob) return;
    const options = $("choose-options").value.split("\n").filter((o) => o.length > 0);
    const m = currentModel();
    cgo.hidden = true; cstop.hidden = false;
    status(cline, "Sending\u2026");
    clear(cres);
    const end = () => { cjob = null; cgo.hidden = false; cstop.hidden = true; };
    cjob = runJob("/api/choose", { prompt: $("choose-prompt").value, options, model: m ? m.id : undefined }, {
      queued(d) { status(cline, "Waiting in the queue: position " + d.position, "queue"); },
      started() { status(cline, "Scoring the options\u2026"); },
      progress(d) { status(cline, "Scoring the options\u2026 " + d.done + " of " + d.total + " done"); },
      done(d) { end(); status(cline, ""); drawChoice(cres, d.choice); if (d.saved) mark("score", d.saved); },
      error(d) { end(); status(cline, d.message, "error"); },
      cancelled() { end(); status(cline, "Stopped.", "muted"); },
      refused(err) { end(); status(cline, err.message, "error"); },
    });
  });
  cstop.addEventListener("click", () => { if (cjob) cjob.stop(); });

  return {
    open(entry) {
      if (entry.kind === "choice") { drawChoice(cres, entry.choice); $("choose-prompt").value = entry.choice.prompt; return; }
      const doc = entry.traces[entry.index];
      text.value = (doc.request && doc.request.prompt) || doc.text || "";
      show(doc);
    },
    focus() { text.focus(); },
  };
}

// What a scoring's figures are over, in the trace's own words (metrics.summarize's
// counts): the tokens with a logprob; a control token the engine put in front (<bos>) is
// no token of the text; a first token with nothing before it has no context, so no logprob
// (not "not reported").
function scoreLine(tr) {
  const s = tr.summary, ps = tr.prompt_steps;
  const text = "Perplexity " + fmt.num(s.perplexity, 2) + " over " + fmt.plural(s.reported, "scored token", "scored tokens") +
    "; per-token probability: " + fmt.perToken(s) + "; probability of the whole text " + fmt.whole(s);
  const notes = [];
  if (s.scope === "prompt_steps" && ps && ps.n && ps.special && ps.special[0])
    notes.push(JSON.stringify(tr.vocab[ps.tok[0]]) + " in front is the engine's control token, not part of the text");
  if (s.no_context_first && ps && ps.n)
    notes.push("first token, " + JSON.stringify(tr.vocab[ps.tok[0]]) + ": no context (nothing comes before it to predict it from)");
  if (s.missing > 0) notes.push(fmt.plural(s.missing, "token has", "tokens have") + " no reported logprob");
  return text + (notes.length ? " (" + notes.join("; ") + ")." : ".");
}

export function drawChoice(host, ch) {
  clear(host);
  const list = el("ol", "choice-list");
  const best = Math.max(...ch.options.map((o) => o.probability));
  for (const o of ch.options) {
    const bar = el("span", "choice-fill");
    bar.style.width = Math.max(0.5, 100 * o.probability) + "%";
    list.appendChild(el("li", "choice-row" + (o.probability === best ? " best" : ""), [
      el("span", "choice-opt", fmt.tokenNode(o.option)),
      el("span", "choice-track", bar),
      el("span", "choice-p num", fmt.pct(o.probability)),
      el("span", "choice-lp num", "total logprob " + fmt.num(o.total_logprob, 2) + " \u00b7 " +
        fmt.plural(o.n_tokens, "token", "tokens") + (o.thinking ? " \u00b7 " + o.thinking : "")),
    ]));
  }
  host.append(list, el("p", "wa-muted wa-small",
    "Each option's total logprob after the prompt, normalised across the options (they sum to 100%)."));
}
