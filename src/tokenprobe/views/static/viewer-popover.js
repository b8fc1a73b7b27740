/* tokenprobe viewer: the popover of a step: its numbers at the page's temperature, the
 * alternatives' bars, logits as reported.
 * (One of the viewer's files, loaded in the order of views/html.py's SCRIPTS; they share
 * their parts through the TokenprobeParts namespace. See docs/architecture.md.) */
(function (root) {
  "use strict";
  var P = root.TokenprobeParts = root.TokenprobeParts || {};
  var NR = P.NR, fmtNum = P.fmtNum, fmtPct = P.fmtPct, fmtRange = P.fmtRange,
    chosenAtT = P.chosenAtT, stepAtT = P.stepAtT, viewNote = P.viewNote, append = P.append,
    button = P.button, clear = P.clear, el = P.el, tokenNode = P.tokenNode, App = P.App,
    THINK_POP = P.THINK_POP;

  // ---------------------------------------------------------------- popover

  App.prototype.scheduleHide = function () {
    var self = this;
    clearTimeout(this.hideTimer);
    this.hideTimer = setTimeout(function () { if (!self.pinned) self.hidePop(); }, 160);
  };
  App.prototype.hidePop = function () {
    this.pop.hidden = true;
    this.popChip = -1;
    var c = this.root.querySelector(".t.shown");
    if (c) c.classList.remove("shown");
  };
  App.prototype.pin = function (k) {
    this.pinned = true;
    this.showPop(k);
    this.pop.classList.add("pinned");
  };
  App.prototype.unpin = function () {
    if (!this.pinned) return;
    this.pinned = false;
    this.pop.classList.remove("pinned");
  };

  App.prototype.showPop = function (k) {
    clearTimeout(this.hideTimer);
    if (this.popChip !== k || this.pop.hidden) {
      var prev = this.popChip === THINK_POP ? this.thinkChip : this.chips[this.popChip];
      if (prev) prev.classList.remove("shown");
      this.fillPop(k);
      this.chips[k].classList.add("shown");
    }
    this.pop.hidden = false;
    this.placePop();
  };

  App.prototype.fillPop = function (k) {
    var ref = this.chipRef(k), sc = ref.sc;
    this.popChip = k;
    var pop = this.popBody(sc, ref.g, sc === this.tr.prompt ? (this.tr.gen.n ? "prompt" : "scored")
      : "generated", "Token details");
    if (this.pickable(sc)) pop.appendChild(el("p", "tp-pick-hint", this.opts.pickHint ||
      "Click the token to pin this, then click an alternative to continue from it."));
  };

  // The popover of glyph group g of scope sc, the answer's or the thinking's (`part` names
  // it): the head with the glyph and where it stands, a glyph of several byte-fragment tokens
  // with its product, then each token's detail.
  App.prototype.popBody = function (sc, g, part, label) {
    var self = this, pop = clear(this.pop);
    var a = sc.groups[g], b = sc.groups[g + 1];
    var close = button("\u00d7", "tp-pop-close", "Close");
    close.addEventListener("click", function () { self.unpin(); self.hidePop(); });
    var where = part + " \u00b7 " + (b - a === 1 ? "step " + (a + 1) : "steps " + (a + 1) +
      "\u2013" + b) + " of " + sc.n;
    pop.appendChild(el("div", "tp-pop-head", [el("span", "tp-pop-tok", tokenNode(sc.gText[g])),
      el("span", "tp-pop-where", where), close]));
    if (b - a > 1) {
      pop.appendChild(el("p", "tp-pop-glyph", ["One glyph made of " + (b - a) +
        " byte-fragment tokens; its probability is the product: ", el("b", "num", fmtPct(Math.exp(sc.gLp[g]))),
        isNaN(sc.gLp[g]) ? "" : " (logprob " + fmtNum(sc.gLp[g], 3) + ")"]));
    }
    for (var s = a; s < b; s++) pop.appendChild(this.stepDetail(sc, s, b - a > 1));
    pop.setAttribute("aria-label", label);
    return pop;
  };

  // Alternatives of generated tokens become buttons when the host handles picks.
  App.prototype.pickable = function (sc) {
    return typeof this.opts.onPick === "function" && this.tr && sc === this.tr.gen;
  };
  App.prototype.makePickable = function (row, step, candidate, token) {
    var self = this;
    row.classList.add("pick");
    row.tabIndex = 0;
    row.setAttribute("role", "button");
    row.setAttribute("aria-label", "Continue from step " + (step + 1) + " with " + JSON.stringify(token));
    function pick(e) {
      e.preventDefault();
      e.stopPropagation();
      self.unpin(); self.hidePop();
      self.opts.onPick({ step: step, candidate: candidate, token: token });
    }
    row.addEventListener("click", pick);
    row.addEventListener("keydown", function (e) { if (e.key === "Enter" || e.key === " ") pick(e); });
  };

  // The numbers and candidate bars for one step, at the current temperature.
  App.prototype.stepDetail = function (sc, s, sub) {
    var tr = this.tr, T = this.T, box = el("div", "tp-detail");
    if (sub) box.appendChild(el("div", "tp-detail-sub", ["step " + (s + 1) + ": ", tokenNode(tr.vocab.labels[sc.tok[s]])]));
    if (sc.lg) { box.appendChild(logitDetail(tr, sc, s)); return box; }
    var lp = sc.lp[s], len = sc.topStart[s + 1] - sc.topStart[s];
    var view = len ? stepAtT(sc, s, T, tr.grid, tr.vocabSize) : null;
    var pT = chosenAtT(sc, s, T, tr.grid, tr.vocabSize);
    var stats = el("dl", "tp-stats");
    function stat(k, v, cls) { stats.appendChild(el("div", "tp-stat" + (cls ? " " + cls : ""), [el("dt", null, k), el("dd", "num", v)])); }
    var why = isNaN(lp) ? this.noLogprob(sc, s) : null;
    stat(T === 1 ? "probability" : "probability at T " + T.toFixed(2), why || fmtRange(pT[0], pT[1]), "tp-stat-p");
    if (T !== 1 && !isNaN(lp)) stat("recorded (T 1)", fmtPct(Math.exp(lp)));
    stat("logprob", why || fmtNum(lp, 3));
    var r = sc.rank[s], rank;
    if (isNaN(lp) || !len) rank = NR;
    else if (r === null || r === undefined) rank = "not in the top " + len;
    else rank = r + " of " + len + " listed";
    stat("rank", rank);
    var H = sc.H[s], ent;
    var listedMass = 0;
    for (var j = sc.topStart[s]; j < sc.topStart[s + 1]; j++) if (!isNaN(sc.topLp[j])) listedMass += Math.exp(sc.topLp[j]);
    if (isNaN(H)) ent = NR;
    else if (sc.Hx[s]) ent = fmtNum(H, 2) + " nats";
    else ent = "\u2265 " + fmtNum(H, 2) + " nats";
    stat("entropy", ent, "tp-stat-h");
    if (!isNaN(H) && !sc.Hx[s]) stat("tail mass", len ? fmtPct(Math.max(0, 1 - listedMass)) : NR);
    if (!isNaN(sc.slp[s]) && tr.request.temperature !== 1) stat("when sampled" + (typeof tr.request.temperature === "number" ? " (T " + tr.request.temperature + ")" : ""),
      fmtPct(Math.exp(sc.slp[s])));
    box.appendChild(stats);
    if (sc.forced && sc.forced[s]) box.appendChild(el("p", "tp-forced-note",
      "Put in place, not chosen by the model: the probability is the one the model gave it."));
    if (!len) { box.appendChild(el("p", "tp-none", "Alternatives " + NR + ".")); return box; }
    box.appendChild(this.bars(sc, s, view, T === 1));
    return box;
  };

  // A step whose numbers are a server's logits: each value and its distance from the
  // highest listed one (the log of the two tokens' probability ratio), labelled; no
  // probability, bar or tail, since the normaliser over the vocabulary was not reported.
  var LOGIT_NOTE = "Logits as the server reported them: no probabilities (the normaliser over the vocabulary was not reported). A difference of two logits is the log of the two tokens' probability ratio.";
  function logitDetail(tr, sc, s) {
    var box = el("div", "tp-logits"), a = sc.topStart[s], b = sc.topStart[s + 1], top = NaN, j;
    for (j = a; j < b; j++) if (!isNaN(sc.topLg[j]) && !(sc.topLg[j] <= top)) top = sc.topLg[j];
    var stats = el("dl", "tp-stats");
    function stat(k, v) { stats.appendChild(el("div", "tp-stat", [el("dt", null, k), el("dd", "num", v)])); }
    stat("logit", isNaN(sc.lg[s]) ? NR : fmtNum(sc.lg[s], 3));
    stat("− top logit", isNaN(sc.lg[s]) || isNaN(top) ? NR : fmtNum(sc.lg[s] - top, 3));
    box.appendChild(stats);
    if (b > a) {
      var rows = el("table", "tp-logit-table");
      rows.appendChild(el("tr", null, [el("th", null, "token"), el("th", null, "logit"), el("th", null, "− top")]));
      for (j = a; j < b; j++) {
        var v = sc.topLg[j];
        rows.appendChild(el("tr", j - a === sc.chosen[s] ? "on" : null, [
          el("td", null, [tokenNode(tr.vocab.labels[sc.topTok[j]])]),
          el("td", "num", isNaN(v) ? NR : fmtNum(v, 3)),
          el("td", "num", isNaN(v) || isNaN(top) ? "" : fmtNum(v - top, 3))]));
      }
      box.appendChild(rows);
    } else box.appendChild(el("p", "tp-none", "Alternatives " + NR + "."));
    box.appendChild(el("p", "tp-logit-note", LOGIT_NOTE));
    return box;
  }

  // Why a step has no logprob, where the trace says: a control token the engine added
  // (<bos>), or the first token of a text, which has nothing before it to be predicted from.
  App.prototype.noLogprob = function (sc, s) {
    if (sc.special && sc.special[s]) return "none: a control token the engine added";
    if (sc.lg) return "none: the server reported logits";
    if (sc === this.tr.prompt && s === 0) return "first token: no context";
    return NR;
  };

  // A candidate's bytes after the earlier fragments of its glyph: the character it would
  // complete (a split character is shown as the glyph, never as U+FFFD), or null.
  function completedGlyph(tr, sc, s, v) {
    var g = sc.stepGroup[s], a = sc.groups[g];
    if (s === a) return null;
    var parts = [], len = 0, k;
    for (k = a; k < s; k++) { parts.push(tr.vocab.bytesOf(sc.tok[k])); len += parts[parts.length - 1].length; }
    var cand = tr.vocab.bytesOf(v), all = new Uint8Array(len + cand.length), o = 0;
    for (k = 0; k < parts.length; k++) { all.set(parts[k], o); o += parts[k].length; }
    all.set(cand, o);
    try { return new TextDecoder("utf-8", { fatal: true }).decode(all); } catch (e) { return null; }
  }

  // Step i named by the glyph it belongs to ("曇 byte 1 of 2" for a byte fragment).
  function glyphNode(sc, i) {
    var g = sc.stepGroup[i], n = sc.groups[g + 1] - sc.groups[g], node = tokenNode(sc.gText[g]);
    if (n > 1) node.appendChild(el("span", "tp-least-frag", " byte " + (i - sc.groups[g] + 1) + " of " + n));
    return node;
  }

  // The token of step s as a list shows it: its label and, for a byte fragment, the glyph
  // it is part of.
  function stepTokenNode(tr, sc, s) {
    var g = sc.stepGroup[s], a = sc.groups[g], b = sc.groups[g + 1];
    var node = tokenNode(tr.vocab.labels[sc.tok[s]]);
    if (b - a > 1) node.appendChild(el("span", "tp-frag-of", " byte fragment " + (s - a + 1) + " of " + (b - a) +
      " of \u201c" + sc.gText[g] + "\u201d"));
    return node;
  }

  // The probability cell of a bar: a bar to the low end and, for a range, a lighter band on
  // to the high end.
  function barTrack(lo, hi, ghost) {
    var fill = el("span", "tp-bar-fill");
    fill.style.width = (isNaN(lo) ? 0 : Math.max(0.5, 100 * lo)) + "%";
    var track = el("span", "tp-bar-track", [fill]);
    if (!isNaN(hi) && hi > lo) {
      var band = el("span", "tp-bar-range");
      band.style.left = 100 * lo + "%";
      band.style.width = Math.min(100, 100 * (hi - lo)) + "%";
      track.appendChild(band);
    }
    if (ghost !== null && !isNaN(ghost)) {
      var g = el("span", "tp-bar-ghost");
      g.style.left = Math.min(100, 100 * ghost) + "%";
      track.appendChild(g);
    }
    return track;
  }

  // Candidate bars of a view (stepAtT, sampledAtT): each candidate's probability (a range
  // where only bounds are known), a faint mark at the recorded one unless `recorded` (the
  // view is the distribution as recorded), and a line saying how the numbers were made.
  App.prototype.bars = function (sc, s, view, recorded) {
    var tr = this.tr, ranged = view.accuracy === "bounded";
    var list = el("ol", "tp-bars" + (ranged ? " tp-bars-range" : ""));
    var chosen = sc.chosen[s], a = sc.topStart[s], b = sc.topStart[s + 1];
    var pos = {};
    view.listed.forEach(function (j, i) { pos[j] = i; });
    for (var j = a; j < b; j++) {
      var lp = sc.topLp[j], i = pos[j], has = i !== undefined;
      var lo = has ? view.low[i] : NaN, hi = has ? view.high[i] : NaN;
      var isChosen = chosen === j - a, label = tr.vocab.labels[sc.topTok[j]];
      var row = el("li", "tp-bar-row" + (isChosen ? " chosen" : ""));
      row.setAttribute("data-p", has && lo === hi ? String(lo) : "");
      row.setAttribute("data-low", has ? String(lo) : "");
      row.setAttribute("data-high", has ? String(hi) : "");
      row.setAttribute("data-token", label);
      var name = el("span", "tp-bar-label", tokenNode(label)), glyph = completedGlyph(tr, sc, s, sc.topTok[j]);
      if (glyph !== null) name.appendChild(el("span", "tp-bar-glyph", " \u2192 " + glyph));
      else if (isChosen && sc.groups[sc.stepGroup[s] + 1] - sc.groups[sc.stepGroup[s]] > 1)
        name.appendChild(el("span", "tp-bar-glyph", " of " + sc.gText[sc.stepGroup[s]]));
      append(row, [el("span", "tp-bar-mark", isChosen ? "\u25b8" : ""), name]);
      if (has) append(row, [barTrack(lo, hi, recorded || isNaN(lp) ? null : Math.exp(lp)),
        el("span", "tp-bar-pct num", fmtRange(lo, hi)), el("span", "tp-bar-lp num", fmtNum(lp, 2))]);
      else append(row, el("span", "tp-bar-pct tp-bar-nr", NR));
      if (isChosen) row.title = "the chosen token";
      else if (this.pickable(sc)) this.makePickable(row, s, j - a, label);
      list.appendChild(row);
    }
    var foot = el("div", "tp-bars-foot");
    if (view.listed.length && !isNaN(view.chosenLow) && !(chosen >= 0 && pos[a + chosen] !== undefined)) {
      var un = el("div", "tp-bar-row chosen tp-unlisted", [el("span", "tp-bar-mark", "\u25b8"),
        el("span", "tp-bar-label", tokenNode(tr.vocab.labels[sc.tok[s]])),
        el("span", "tp-bar-track tp-unlisted-note", "chosen, not in the list"),
        el("span", "tp-bar-pct num", fmtRange(view.chosenLow, view.chosenHigh)), el("span", "tp-bar-lp num", fmtNum(sc.lp[s], 2))]);
      un.setAttribute("data-low", String(view.chosenLow));
      un.setAttribute("data-high", String(view.chosenHigh));
      foot.appendChild(un);
    }
    var acc = view.accuracy, tailTxt = fmtRange(view.tailLow, view.tailHigh), text;
    if (view.tailLow === null) text = "tail mass " + NR;
    else if (recorded) text = "everything else " + tailTxt;
    else text = viewNote(view) + "; tail " + tailTxt;
    var accEl = el("div", "tp-acc acc-" + acc, text);
    accEl.setAttribute("data-tail-low", view.tailLow === null ? "" : String(view.tailLow));
    accEl.setAttribute("data-tail-high", view.tailHigh === null ? "" : String(view.tailHigh));
    foot.appendChild(accEl);
    return el("div", "tp-bars-wrap", [list, foot]);
  };

  App.prototype.placePop = function () {
    var c = this.popChip === THINK_POP ? this.thinkChip : this.chips[this.popChip];
    if (!c) return;
    var pop = this.pop, r = c.getBoundingClientRect(), vw = window.innerWidth, vh = window.innerHeight;
    pop.style.maxHeight = "";
    var pw = pop.offsetWidth, ph = pop.offsetHeight, gap = 8;
    var below = vh - r.bottom - gap - 8, above = r.top - gap - 8, top;
    // Never cover the token itself: below if it fits, else above, else on the roomier side
    // with the popover scrolling inside.
    if (ph <= below) top = r.bottom + gap;
    else if (ph <= above) top = r.top - gap - ph;
    else if (below >= above) { top = r.bottom + gap; pop.style.maxHeight = Math.max(120, below) + "px"; }
    else { pop.style.maxHeight = Math.max(120, above) + "px"; top = r.top - gap - pop.offsetHeight; }
    pop.style.left = Math.max(8, Math.min(r.left, vw - pw - 8)) + "px";
    pop.style.top = Math.max(8, top) + "px";
  };

  P.LOGIT_NOTE = LOGIT_NOTE; P.logitDetail = logitDetail; P.completedGlyph = completedGlyph;
  P.glyphNode = glyphNode; P.stepTokenNode = stepTokenNode; P.barTrack = barTrack;
})(typeof window !== "undefined" ? window : globalThis);
