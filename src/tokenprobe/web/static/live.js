// A trace on the page: a viewer fed live while the model writes, the branch tree it grows
// (switch between branches), and a status line (queue position, errors). Chat answers and
// Complete's result are each one TraceBox. Leaves out the forms that start a run.

import { runJob } from "./api.js";
import { state } from "./state.js";
import { button, clear, el } from "./ui.js";

const V = window.TokenprobeViewer;
const DRAW_EVERY = 50; // ms between redraws of a trace being streamed

function branchLabel(doc, docs) {
  if (!doc.parent) return "original";
  const from = docs.findIndex((d) => d.id === doc.parent.id);
  return "branch at token " + (doc.parent.step + 1) + ": " + JSON.stringify(doc.parent.token) +
    (from > 0 ? " (of " + (from + 1) + ")" : "");
}

export class TraceBox {
  // opts: viewer (options for TokenprobeViewer.mount), onSelect(box), onChange(box) (a run
  // ended or the branch changed), onBusy(busy)
  constructor(host, opts) {
    this.opts = opts || {};
    this.docs = [];
    this.index = -1;
    this.app = null;
    this.job = null;
    this.panel = null;
    this.root = el("div", "tbox");
    this.tree = el("div", "tbox-tree");
    this.tree.hidden = true;
    this.view = el("div", "tbox-view");
    this.note = el("div", "tbox-note");
    this.note.hidden = true;
    this.root.append(this.tree, this.view, this.note);
    host.appendChild(this.root);
  }

  get doc() { return this.docs[this.index] || null; }
  get busy() { return this.job !== null; }

  mount(doc, live) {
    if (this.app) this.app.destroy();
    const opts = Object.assign({}, this.opts.viewer || {}, { live: !!live });
    if (opts.onPick === true) opts.onPick = (pick) => this.branch(pick);
    this.app = V.mount(this.view, doc, opts);
    if (this.panel) this.app.renderPanel(this.panel);
  }

  // No trace shown: the viewer goes, and so do the figures it drew into the panel.
  unmount() {
    if (this.app) this.app.destroy();
    this.app = null;
    if (this.panel) clear(this.panel).append(el("p", "wa-muted", "No tokens, so no figures."));
  }

  // Draw the confidence panel of this box into `host` (null: stop drawing it).
  showPanel(host) {
    if (this.app && !host) this.app.releasePanel();
    this.panel = host;
    if (this.app && host) this.app.renderPanel(host);
  }

  setTree(docs, index) {
    this.docs = docs.slice();
    this.select(index);
  }

  select(i) {
    if (i < 0 || i >= this.docs.length) return;
    this.index = i;
    this.mount(this.docs[i], false);
    this.drawTree();
    if (this.opts.onChange) this.opts.onChange(this);
  }

  drawTree() {
    const t = clear(this.tree);
    t.hidden = this.docs.length < 2;
    if (t.hidden) return;
    const prev = button("\u2039", "wa-icon tbox-prev", () => this.select(this.index - 1), "Previous branch");
    const next = button("\u203a", "wa-icon tbox-next", () => this.select(this.index + 1), "Next branch");
    prev.disabled = this.index <= 0;
    next.disabled = this.index >= this.docs.length - 1;
    const pick = el("select", "tbox-pick");
    pick.setAttribute("aria-label", "Branch");
    this.docs.forEach((d, i) => {
      const o = el("option", null, (i + 1) + ". " + branchLabel(d, this.docs));
      o.value = String(i);
      if (i === this.index) o.selected = true;
      pick.appendChild(o);
    });
    pick.addEventListener("change", () => this.select(Number(pick.value)));
    t.append(el("span", "tbox-count num", (this.index + 1) + " / " + this.docs.length), prev, next, pick);
  }

  say(text, kind, action) {
    clear(this.note);
    this.note.hidden = !text;
    this.note.className = "tbox-note" + (kind ? " tbox-" + kind : "");
    if (text) this.note.append(el("span", null, text));
    if (action) this.note.append(action);
  }

  setBusy(job) {
    this.job = job;
    this.root.classList.toggle("busy", !!job);
    if (this.opts.onBusy) this.opts.onBusy(!!job);
  }

  stop() { if (this.job) this.job.stop(); }

  // Start a live run (generate or branch) into this box.
  run(path, body) {
    if (this.job) return null;
    const before = this.index;
    let live = null;
    const box = this;
    const restore = () => {
      this.stopDrawing();
      if (!live) return;
      if (before >= 0) this.select(before);
      else this.unmount();
    };
    // A run that ends without a token (a server not reachable, a stop before the first
    // one) has nothing to show or sum up: its message only, and the box as it was.
    const empty = (d, text, kind) => { restore(); box.say(text, kind); box.end(); };
    const job = runJob(path, body, {
      queued(d) {
        box.say("Waiting in the queue: position " + d.position + " (" + d.running + " running)", "queue",
          button("Cancel", "wa-link", () => job.stop()));
      },
      started() { box.say("Starting\u2026", "queue"); },
      trace(d) {
        box.say("");
        live = new V.LiveDoc(d.trace);
        box.mount(live.doc, true);
        box.root.classList.add("streaming");
      },
      steps(d) { live.add(d); box.draw(live.doc); },
      // A reasoning model's thinking, token by token while it streams (folded again at the end).
      thinking(d) { live.addThinking(d); box.draw(live.doc); },
      summary(d) { box.app.setSummary(d.summary); },
      done(d) {
        if (d.trace.steps.n || d.trace.complete) box.finish(d, null);
        else empty(d, "Stopped before the first token.", "muted");
      },
      error(d) {
        if (d.trace && d.trace.steps.n) box.finish(d, d.message);
        else empty(d, d.message, "error");
      },
      cancelled() { empty(null, "Cancelled before it started.", "muted"); },
      refused(err) {
        // A branch of a trace whose model this server does not offer: offer to add it.
        const want = err.body && err.body.add_model;
        box.say(err.message, "error", want && state.addModel
          ? button("Add this model\u2026", "wa-link tbox-add-model", () => state.addModel(want)) : null);
        box.end();
      },
    });
    this.setBusy(job);
    this.say("Sending\u2026", "queue");
    return job;
  }

  // Draw the growing trace: at once when nothing was drawn for a while (the first token
  // shows without delay), else with the next redraw. Drawing every token as it comes costs
  // the browser a frame per token, processor time the model making the tokens could use.
  draw(doc) {
    const now = performance.now(), due = (this.drawnAt || 0) + DRAW_EVERY;
    if (now >= due && !this.drawTimer) { this.drawnAt = now; this.app.update(doc); return; }
    if (!this.drawTimer) {
      this.drawTimer = setTimeout(() => {
        this.drawTimer = 0;
        this.drawnAt = performance.now();
        if (this.app) this.app.update(doc);
      }, Math.max(0, due - now));
    }
  }

  stopDrawing() {
    clearTimeout(this.drawTimer);
    this.drawTimer = 0;
  }

  finish(d, failure) {
    this.stopDrawing();
    this.docs.push(d.trace);
    this.index = this.docs.length - 1;
    this.mount(d.trace, false);
    this.drawTree();
    const n = d.trace.steps.n;
    if (failure) this.say(failure + ". The " + n + " tokens received are kept.", "error");
    else if (!d.trace.complete) this.say("Stopped: the " + n + " tokens made are kept (saved as incomplete).", "muted");
    else if (d.save_error) this.say("Not saved to the history: " + d.save_error, "error");
    else this.say("");
    this.timing = d.timing || null;
    this.end();
    if (this.opts.onChange) this.opts.onChange(this);
  }

  end() {
    this.stopDrawing();
    this.root.classList.remove("streaming");
    this.setBusy(null);
  }

  // Continue the shown trace from a picked alternative (the viewer's onPick).
  branch(pick) {
    const doc = this.doc;
    if (!doc || this.job) return;
    if (this.opts.onSelect) this.opts.onSelect(this);
    this.run("/api/branch", { trace_id: doc.id, step: pick.step, candidate: pick.candidate });
  }

  destroy() {
    this.stop();
    if (this.app) this.app.destroy();
    this.root.remove();
  }
}
