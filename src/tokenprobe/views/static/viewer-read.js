/* tokenprobe viewer: the reading view: the text as glyph chips coloured by the measure, and
 * moving between them.
 * (One of the viewer's files, loaded in the order of views/html.py's SCRIPTS; they share
 * their parts through the TokenprobeParts namespace. See docs/architecture.md.) */
(function (root) {
  "use strict";
  var P = root.TokenprobeParts = root.TokenprobeParts || {};
  var clipLabel = P.clipLabel, visibleWs = P.visibleWs, entBand = P.entBand, probBand = P.probBand,
    rankBand = P.rankBand, surpBand = P.surpBand, append = P.append, el = P.el, App = P.App;

  // ---------------------------------------------------------------- reading view

  App.prototype.buildRead = function () {
    var tr = this.tr, sidePanel = this.opts.panel !== "none";
    var grid = el("div", sidePanel ? "tp-grid" : "tp-grid tp-grid-single");
    var main = el("div", "tp-main");
    var side = sidePanel ? el("aside", "tp-side") : null;
    this.sideEl = side;
    this.chartBox = sidePanel ? el("div", "tp-chart") : null;
    this.textWrap = el("div", "tp-textwrap");
    this.chips = [];
    this.genText = null;
    var req = tr.request, showPrompt = this.opts.prompt !== false;
    if (tr.prompt.n) {
      var pbox = el("div", "tp-prompt");
      pbox.appendChild(el("div", "tp-section-label", tr.gen.n ? "Prompt (scored)" : "Scored text"));
      var pt = el("div", "tp-text tp-text-prompt");
      pt.appendChild(this.buildChips(tr.prompt, 0));
      pbox.appendChild(pt);
      this.textWrap.appendChild(pbox);
    } else if (showPrompt && (req.prompt || (req.messages && req.messages.length))) {
      var box = el("div", "tp-prompt tp-prompt-plain");
      box.appendChild(el("div", "tp-section-label", "Prompt"));
      if (req.messages && req.messages.length) {
        req.messages.forEach(function (m) {
          box.appendChild(el("div", "tp-msg", [el("span", "tp-msg-role", String(m.role || "")),
            el("span", "tp-msg-content", String(m.content === undefined ? "" : m.content))]));
        });
      } else box.appendChild(el("div", "tp-text tp-plain", String(req.prompt)));
      this.textWrap.appendChild(box);
    }
    if (tr.gen.n || !tr.prompt.n) {
      var gbox = el("div", "tp-gen");
      if (tr.prompt.n || (showPrompt && (req.prompt || req.messages))) gbox.appendChild(el("div", "tp-section-label", this.opts.genLabel || "Generated"));
      var gt = el("div", "tp-text tp-text-gen");
      if (tr.gen.n) gt.appendChild(this.buildChips(tr.gen, 1));
      else if (this.opts.live) gt.appendChild(el("span", "tp-empty tp-waiting", "\u2026"));
      else gt.appendChild(el("span", "tp-empty", "This trace has no tokens."));
      gbox.appendChild(gt);
      this.textWrap.appendChild(gbox);
      this.genText = gt;
    }
    if (this.chips.length) { this.active = 0; this.chips[0].tabIndex = 0; }
    this.textWrap.setAttribute("aria-label", "Tokens; arrow keys move from token to token, Enter pins the details");
    this.bindText(this.textWrap);
    append(main, [this.chartBox, this.textWrap]);
    this.placeThinking(tr);
    if (side) this.buildSummary(side);
    append(grid, [main, side]);
    this.readView.appendChild(grid);
    this.setMeasure(this.measure);
    if (this.chartBox) this.buildChart(this.chartBox);
    if (this.panelEl) this.renderPanel(this.panelEl);
  };

  // One span per glyph group, built into a fragment in one pass; every class needed by the
  // four colourings is set now, so switching the colouring only changes the parent's class.
  // Chips go into paragraph blocks that end after a chip ending in a newline: a forced line
  // break there, so the split changes nothing on screen, and lets the browser skip laying out
  // paragraphs that are off screen (content-visibility), which is what keeps a 20,000-token
  // page fast to open. Each block gets an estimated height until it is first laid out.
  App.prototype.buildChips = function (sc, which) {
    var frag = document.createDocumentFragment(), chips = new Array(sc.G);
    var base = this.chips.length, para = null, lines = 0, run = 0;
    var CPL = 90, LINE = 32; // characters per line and line height, for the estimate
    function closePara() {
      if (!para) return;
      lines += Math.ceil(run / CPL);
      para.style.containIntrinsicSize = "auto " + Math.max(1, lines) * LINE + "px";
      para = null; lines = 0; run = 0;
    }
    for (var g = 0; g < sc.G; g++) {
      if (!para) { para = document.createElement("div"); para.className = "tp-para"; frag.appendChild(para); }
      var span = makeChip(sc, g, base);
      chips[g] = span;
      this.chips.push(span);
      para.appendChild(span);
      var text = sc.gText[g], nl = text.indexOf("\n");
      if (nl < 0) run += text.length;
      else {
        // Count the lines this chip ends and starts, for the height estimate.
        var pieces = text.split("\n");
        lines += Math.max(1, Math.ceil((run + pieces[0].length) / CPL)) + pieces.length - 2;
        run = pieces[pieces.length - 1].length;
        if (text.charCodeAt(text.length - 1) === 10) closePara();
      }
    }
    closePara();
    sc.chips = chips;
    sc.chipBase = base;
    sc.which = which;
    return frag;
  };

  function makeChip(sc, g, base) {
    var span = document.createElement("span");
    var lp = sc.gLp[g], p = "p" + probBand(lp), s = "s" + surpBand(lp);
    var kind = sc.gKind[g];
    span.className = "t " + p + " r" + rankBand(sc.gRank[g]) + " e" + entBand(sc.gH[g]) + " " + s +
      (kind === 1 ? " ws" : kind === 2 ? " special" : "");
    span.textContent = sc.gText[g];
    if (kind === 1) {
      var clip = clipLabel(sc.gText[g]);
      span.setAttribute("data-vis", clip ? visibleWs(clip.head) + "\u2026" : visibleWs(sc.gText[g]));
    }
    span._k = base + g; span._p = p; span._s = s;
    return span;
  }

  // The chip (glyph group) that shows generated step i, for hosts that mark places in the text.
  App.prototype.chipOfStep = function (i) {
    var sc = this.tr && this.tr.gen;
    if (!sc || !sc.chips || i < 0 || i >= sc.n) return null;
    return sc.chips[sc.stepGroup[i]];
  };

  App.prototype.chipRef = function (k) {
    var tr = this.tr, sc = tr.prompt.n && k < tr.prompt.chipBase + tr.prompt.G && tr.prompt.chips ? tr.prompt : tr.gen;
    return { sc: sc, g: k - sc.chipBase };
  };

  App.prototype.bindText = function (root) {
    var self = this;
    function chipOf(e) { var t = e.target; return t && t.closest ? t.closest(".t") : null; }
    root.addEventListener("mouseover", function (e) {
      var c = chipOf(e);
      if (!c || self.pinned) return;
      clearTimeout(self.hideTimer);
      self.showPop(c._k);
    });
    root.addEventListener("mouseout", function (e) {
      if (self.pinned) return;
      var to = e.relatedTarget;
      if (to && to.closest && (to.closest(".t") || to.closest(".tp-pop"))) return;
      self.scheduleHide();
    });
    root.addEventListener("click", function (e) {
      var c = chipOf(e);
      if (!c) return;
      if (self.pinned && self.popChip === c._k) { self.unpin(); return; }
      self.setActive(c._k, false);
      self.pin(c._k);
    });
    root.addEventListener("focusin", function (e) {
      var c = chipOf(e);
      if (!c) return;
      if (self.active !== c._k) self.setActive(c._k, false);
      if (!self.pinned || self.popChip !== c._k) { self.unpin(); self.showPop(c._k); }
    });
    root.addEventListener("focusout", function (e) {
      if (self.pinned) return;
      var to = e.relatedTarget;
      if (to && to.closest && to.closest(".t")) return;
      self.scheduleHide();
    });
    root.addEventListener("keydown", function (e) {
      var c = chipOf(e);
      if (!c) return;
      var k = c._k, n = self.chips.length, next = -1;
      if (e.key === "ArrowRight" || e.key === "ArrowDown") next = Math.min(n - 1, k + 1);
      else if (e.key === "ArrowLeft" || e.key === "ArrowUp") next = Math.max(0, k - 1);
      else if (e.key === "Home") next = 0;
      else if (e.key === "End") next = n - 1;
      else if (e.key === "Enter" || e.key === " ") {
        e.preventDefault();
        if (self.pinned && self.popChip === k) self.unpin(); else self.pin(k);
        return;
      } else return;
      e.preventDefault();
      var wasPinned = self.pinned;
      self.unpin();
      self.setActive(next, true);
      if (wasPinned) self.pin(next);
    });
  };

  // Roving tabindex: one chip is in the tab order; arrows move it.
  App.prototype.setActive = function (k, focus) {
    var old = this.chips[this.active];
    if (old && this.active !== k) { old.removeAttribute("tabindex"); old.classList.remove("active"); }
    var c = this.chips[k];
    if (!c) return;
    this.active = k;
    c.tabIndex = 0;
    c.classList.add("active");
    if (focus) c.focus({ preventScroll: true });
    if (focus) this.scrollToChip(c);
  };

  App.prototype.scrollToChip = function (c) {
    var r = c.getBoundingClientRect();
    if (r.top < 60 || r.bottom > window.innerHeight - 40) c.scrollIntoView({ block: "center" });
  };

  App.prototype.jumpTo = function (sc, step) {
    if (this.tab !== "read") this.setTab("read");
    var k = sc.chipBase + sc.stepGroup[step];
    this.unpin();
    this.setActive(k, false);
    var c = this.chips[k];
    c.scrollIntoView({ block: "center" });
    c.focus({ preventScroll: true });
    this.pin(k);
    c.classList.add("flash");
    setTimeout(function () { c.classList.remove("flash"); }, 1200);
  };

  P.makeChip = makeChip;
})(typeof window !== "undefined" ? window : globalThis);
