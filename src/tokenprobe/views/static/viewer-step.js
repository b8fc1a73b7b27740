/* tokenprobe viewer: the step view: one step's context and distribution, stepping and playing.
 * (One of the viewer's files, loaded in the order of views/html.py's SCRIPTS; they share
 * their parts through the TokenprobeParts namespace. See docs/architecture.md.) */
(function (root) {
  "use strict";
  var P = root.TokenprobeParts = root.TokenprobeParts || {};
  var NR = P.NR, fmtNum = P.fmtNum, fmtPct = P.fmtPct, fmtRange = P.fmtRange,
    asReported = P.asReported, sampledAtT = P.sampledAtT, stepAtT = P.stepAtT, append = P.append,
    attrs = P.attrs, button = P.button, clear = P.clear, el = P.el, App = P.App,
    isProcessed = P.isProcessed, logitDetail = P.logitDetail, stepTokenNode = P.stepTokenNode;

  // ---------------------------------------------------------------- step view

  App.prototype.buildStepView = function () {
    var self = this, sv = this.stepView, sc = this.tr.main;
    clear(sv);
    if (!sc.n) { sv.appendChild(el("p", "tp-none", "This trace has no tokens to step through.")); return; }
    this.stepI = 0;
    var prev = button("\u25c0 Previous", "tp-btn", "Previous step");
    var play = button("\u25b6 Play", "tp-btn tp-btn-primary", "Play");
    var next = button("Next \u25b6", "tp-btn", "Next step");
    var pos = attrs(el("input", "tp-step-range"), { type: "range", min: "0", max: String(sc.n - 1), step: "1", value: "0",
      "aria-label": "Step" });
    this.stepCounter = el("span", "tp-step-counter num");
    this.playBtn = play;
    prev.addEventListener("click", function () { self.stopPlay(); self.goStep(self.stepI - 1); });
    next.addEventListener("click", function () { self.stopPlay(); self.goStep(self.stepI + 1); });
    play.addEventListener("click", function () { if (self.playTimer) self.stopPlay(); else self.startPlay(); });
    pos.addEventListener("input", function () { self.stopPlay(); self.goStep(parseInt(pos.value, 10)); });
    this.stepRange = pos;
    var controls = el("div", "tp-step-controls", [prev, play, next, pos, this.stepCounter]);
    this.ctxEl = el("div", "tp-context");
    this.candEl = el("div", "tp-step-cands");
    this.chosenEl = el("div", "tp-step-chosen");
    this.distSeg = el("div", "tp-seg tp-dist-seg");
    this.distSeg.setAttribute("aria-label", "Distribution shown");
    this.distLabel = el("p", "tp-dist-label");
    append(sv, [el("div", "tp-card tp-step-card", [controls,
      el("div", "tp-section-label", "Context the model saw"), this.ctxEl,
      el("div", "tp-step-body", [el("div", "tp-step-left", [el("div", "tp-section-label", "Candidates for the next token"),
        this.distSeg, this.distLabel, this.candEl]), this.chosenEl])])]);
    sv.addEventListener("keydown", function (e) {
      if (e.target && e.target.tagName === "INPUT") return;
      if (e.key === "ArrowRight") { self.stopPlay(); self.goStep(self.stepI + 1); e.preventDefault(); }
      if (e.key === "ArrowLeft") { self.stopPlay(); self.goStep(self.stepI - 1); e.preventDefault(); }
    });
  };

  App.prototype.goStep = function (i) {
    var sc = this.tr.main;
    this.stepI = Math.max(0, Math.min(sc.n - 1, i));
    this.renderStep();
  };
  App.prototype.startPlay = function () {
    var self = this, sc = this.tr.main;
    if (this.stepI >= sc.n - 1) this.goStep(0);
    this.playBtn.textContent = "\u275a\u275a Pause";
    this.playTimer = setInterval(function () {
      if (self.stepI >= sc.n - 1) { self.stopPlay(); return; }
      self.goStep(self.stepI + 1);
    }, 700);
  };
  App.prototype.stopPlay = function () {
    if (!this.playTimer) return;
    clearInterval(this.playTimer);
    this.playTimer = 0;
    if (this.playBtn) this.playBtn.textContent = "\u25b6 Play";
  };

  // The text before step i: the prompt (when not scored) and the glyphs before it, ending
  // with the labels of a glyph's earlier fragments when i falls inside one. Long contexts
  // show their last 1,500 characters.
  App.prototype.contextBefore = function (sc, i) {
    var tr = this.tr, parts = [], len = 0, LIMIT = 1500, g = sc.stepGroup[i], s;
    // The earlier byte fragments of the glyph step i is in: not a character yet, so they
    // are shown apart, by their byte spelling, with the glyph they became.
    var pending = [];
    for (s = sc.groups[g]; s < i; s++) pending.push(tr.vocab.labels[sc.tok[s]]);
    for (var h = g - 1; h >= 0 && len < LIMIT; h--) { parts.push(sc.gText[h]); len += sc.gText[h].length; }
    parts.reverse();
    var text = parts.join(""), cut = false;
    if (sc === tr.gen && len < LIMIT) {
      var pre = tr.prompt.n ? tr.prompt.gText.join("") : (tr.request.prompt ? String(tr.request.prompt) : "");
      text = pre + text;
    }
    if (text.length > LIMIT) { text = text.slice(text.length - LIMIT); cut = true; }
    return { text: text, cut: cut, pending: pending.join(""), glyph: pending.length ? sc.gText[g] : null };
  };

  // ---- The step view's distribution. It opens on the one the token was drawn from, as the
  // terminal's step view does (the request's temperature, then its top-k and top-p; the
  // values as reported when the server's logprobs are already processed), with the raw
  // T = 1 one a click away, and the slider's temperature when the slider is moved.

  // Sampling settings in words: "T = 0.3, top-k 40, top-p 0.9".
  function settingsText(req) {
    var out = "T = " + req.temperature;
    if (req.top_k) out += ", top-k " + req.top_k;
    if (typeof req.top_p === "number" && req.top_p < 1) out += ", top-p " + req.top_p;
    return out;
  }

  // How the shown steps were drawn: "processed" (the logprobs are already after the
  // server's processing), "processing" (temperature, top-k or top-p changed the raw
  // distribution), "plain" (T = 1, no truncation: raw is what they were drawn from),
  // "greedy" (T = 0), or null (a scored text, or settings not known).
  App.prototype.sampledKind = function () {
    var tr = this.tr, req = tr.request, T = req.temperature;
    if (isProcessed(tr)) return "processed";
    if (tr.main !== tr.gen || typeof T !== "number") return null;
    if (T === 0) return "greedy";
    if (T !== 1 || req.top_k || (typeof req.top_p === "number" && req.top_p < 1)) return "processing";
    return "plain";
  };

  // The distributions offered, [id, button label], the first being the default.
  App.prototype.stepDistOptions = function () {
    var kind = this.sampledKind(), out = [];
    if (kind === "processed") return [["sampled", "As reported (processed)"]];
    if (kind === "processing") out.push(["sampled", "Drawn from: " + settingsText(this.tr.request)]);
    out.push(["raw", "Raw: T = 1"]);
    if (this.T !== 1) out.push(["slider", "Slider: T = " + this.T.toFixed(2)]);
    return out;
  };

  // Step i under the distribution picked: {view, recorded (the values as recorded), label}.
  App.prototype.stepDistView = function (sc, i) {
    var tr = this.tr, req = tr.request, kind = this.sampledKind(), opts = this.stepDistOptions();
    var mode = this.stepDist;
    if (!opts.some(function (o) { return o[0] === mode; })) mode = opts[0][0];
    this.stepDistShown = mode;
    var V = tr.vocabSize, unsure = tr.doc.logprobs_kind === "unknown"
      ? " The server does not say whether its logprobs are before or after its own processing." : "";
    if (mode === "sampled" && kind === "processed") {
      return { view: asReported(sc, i, 1), recorded: true, label: "As the server reported them: " +
        "already after its temperature, top-k and top-p" + (typeof req.temperature === "number" ? " (" + settingsText(req) + ")" : "") +
        ", so this is the distribution the token was drawn from; nothing is applied again." };
    }
    if (mode === "sampled") {
      return { view: sampledAtT(sc, i, req, tr.grid, V, tr.doc.logprobs_kind), recorded: false,
        label: "The distribution the token was drawn from: " + settingsText(req) +
        " applied to the raw logprobs. The faint marks are the raw values (T = 1)." + unsure };
    }
    if (mode === "slider") {
      return { view: stepAtT(sc, i, this.T, tr.grid, V), recorded: false,
        label: "Re-normalised at T = " + this.T.toFixed(2) + " (the temperature slider). The faint marks are the raw values (T = 1)." };
    }
    var words = kind === "plain" ? "Raw distribution (T = 1): the one the token was drawn from."
      : kind === "greedy" ? "Raw distribution (T = 1); the token was taken greedily (T = 0: always the most likely one)."
      : kind === "processing" ? "Raw distribution (T = 1), before " + settingsText(req) + "."
      : tr.main === tr.gen ? "Raw distribution (T = 1) as recorded; the sampling settings are not known." : "Raw distribution (T = 1).";
    return { view: stepAtT(sc, i, 1, tr.grid, V), recorded: true, label: words + unsure };
  };

  App.prototype.renderStep = function () {
    var self = this, tr = this.tr;
    if (!tr || !this.ctxEl) return;
    var sc = tr.main, i = this.stepI;
    this.stepRange.value = String(i);
    this.stepCounter.textContent = "step " + (i + 1) + " of " + sc.n;
    var ctx = this.contextBefore(sc, i), box = clear(this.ctxEl);
    if (ctx.cut) box.appendChild(el("span", "tp-ctx-cut", "\u2026"));
    box.appendChild(document.createTextNode(ctx.text));
    if (ctx.pending) {
      var pend = el("span", "tp-ctx-bytes", ctx.pending);
      pend.title = "the first bytes of \u201c" + ctx.glyph + "\u201d, which this step completes";
      box.appendChild(pend);
    }
    box.appendChild(el("span", "tp-caret", "\u2588"));
    box.scrollTop = box.scrollHeight;
    var len = sc.topStart[i + 1] - sc.topStart[i], dv = this.stepDistView(sc, i);
    var opts = this.stepDistOptions(), seg = clear(this.distSeg);
    seg.hidden = opts.length < 2;
    opts.forEach(function (o) {
      var b = button(o[1], "tp-seg-btn" + (o[0] === self.stepDistShown ? " on" : ""));
      b.dataset.dist = o[0];
      b.setAttribute("aria-pressed", o[0] === self.stepDistShown ? "true" : "false");
      b.addEventListener("click", function () { self.stepDist = o[0]; self.renderStep(); });
      seg.appendChild(b);
    });
    this.distLabel.textContent = dv.label;
    this.distLabel.dataset.dist = this.stepDistShown;
    clear(this.candEl);
    if (sc.lg) { this.candEl.appendChild(logitDetail(tr, sc, i)); clear(this.chosenEl); return; }
    if (len) this.candEl.appendChild(this.bars(sc, i, dv.view, dv.recorded));
    else this.candEl.appendChild(el("p", "tp-none", "Alternatives " + NR + "."));
    var ch = clear(this.chosenEl), lp = sc.lp[i], why = isNaN(lp) ? this.noLogprob(sc, i) : null;
    var p = dv.recorded ? [Math.exp(lp), Math.exp(lp)] : [dv.view.chosenLow, dv.view.chosenHigh];
    if (!dv.recorded && this.stepDistShown === "sampled" && !isNaN(sc.slp[i])) p = [Math.exp(sc.slp[i]), Math.exp(sc.slp[i])];
    var r = sc.rank[i];
    function stat(k, v) { return el("div", "tp-stat", [el("dt", null, k), el("dd", "num", v)]); }
    append(ch, [el("div", "tp-section-label", "Chosen"), el("div", "tp-chosen-tok", stepTokenNode(tr, sc, i)),
      el("dl", "tp-stats", [
        stat("probability", why || fmtRange(p[0], p[1])),
        dv.recorded || isNaN(lp) ? null : stat("raw (T 1)", fmtPct(Math.exp(lp))),
        stat("logprob", why || fmtNum(lp, 3)),
        stat("rank", isNaN(lp) || !len ? NR : r ? String(r) : "not in the top " + len),
        stat("entropy", isNaN(sc.H[i]) ? NR : (sc.Hx[i] ? "" : "\u2265 ") + fmtNum(sc.H[i], 2) + " nats")
      ])]);
  };

  P.settingsText = settingsText;
})(typeof window !== "undefined" ? window : globalThis);
