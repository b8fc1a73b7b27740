/* tokenprobe viewer: the toolbar: tabs, colouring and its legend, the temperature slider and
 * what it may and may not show.
 * (One of the viewer's files, loaded in the order of views/html.py's SCRIPTS; they share
 * their parts through the TokenprobeParts namespace. See docs/architecture.md.) */
(function (root) {
  "use strict";
  var P = root.TokenprobeParts = root.TokenprobeParts || {};
  var NR = P.NR, chosenAtT = P.chosenAtT, MEASURES = P.MEASURES, probBand = P.probBand,
    surpBand = P.surpBand, append = P.append, attrs = P.attrs, button = P.button, clear = P.clear,
    el = P.el, App = P.App, THINK_POP = P.THINK_POP;

  // ---------------------------------------------------------------- toolbar

  App.prototype.buildToolbar = function () {
    var self = this, tr = this.tr;
    var bar = el("div", "tp-toolbar");
    var tabs = el("div", "tp-tabs");
    tabs.setAttribute("role", "tablist");
    this.tabButtons = {};
    [["read", "Read"], ["step", "Step by step"]].forEach(function (t) {
      var b = button(t[1], "tp-tab");
      b.setAttribute("role", "tab");
      b.addEventListener("click", function () { self.setTab(t[0]); });
      self.tabButtons[t[0]] = b;
      tabs.appendChild(b);
    });
    var measure = el("div", "tp-seg");
    measure.setAttribute("role", "radiogroup");
    measure.setAttribute("aria-label", "Colour tokens by");
    this.measureButtons = {};
    Object.keys(MEASURES).forEach(function (k) {
      var b = button(MEASURES[k].name, "tp-seg-btn");
      b.setAttribute("role", "radio");
      b.dataset.measure = k;
      b.addEventListener("click", function () { self.setMeasure(k); });
      self.measureButtons[k] = b;
      measure.appendChild(b);
    });
    var measureBox = el("div", "tp-control", [el("span", "tp-label", "Colour by"), measure]);

    var slider = attrs(el("input", "tp-slider"), { type: "range", min: "0.1", max: "2", step: "0.05", value: "1",
      "aria-label": "Temperature" });
    this.slider = slider;
    this.tValue = el("output", "tp-tvalue", "1.00");
    var reset = button("Reset", "tp-link-btn", "Back to T = 1 (as recorded)");
    reset.addEventListener("click", function () { self.setTemperature(1); });
    this.tNote = el("div", "tp-tnote");
    var raf = 0;
    slider.addEventListener("input", function () {
      var v = parseFloat(slider.value);
      if (raf) cancelAnimationFrame(raf);
      raf = requestAnimationFrame(function () { raf = 0; self.setTemperature(v, true); });
    });
    var sampled = tr.request.temperature;
    var ticks = el("div", "tp-ticks");
    if (typeof sampled === "number" && sampled >= 0.1 && sampled <= 2 && sampled !== 1) {
      var tick = el("span", "tp-tick", "\u25b4 sampled at " + sampled);
      tick.style.left = ((sampled - 0.1) / 1.9 * 100) + "%";
      ticks.appendChild(tick);
    }
    if (isProcessed(tr)) { slider.disabled = true; reset.hidden = true; }
    var tempBox = el("div", "tp-control tp-temp", [
      el("label", "tp-label", ["Temperature ", this.tValue]),
      el("div", "tp-slider-wrap", [slider, ticks]), reset]);
    append(bar, [tabs, measureBox, tempBox]);
    this.legend = el("div", "tp-legend");
    var sub = el("div", "tp-subbar", [this.legend, this.tNote]);
    // Without a toolbar the controls still exist (the state they hold is shared), unseen.
    bar.hidden = sub.hidden = this.opts.toolbar === false;
    append(this.body, [bar, sub]);
    this.updateTempNote();
  };

  App.prototype.setTab = function (t) {
    this.tab = t;
    for (var k in this.tabButtons) {
      this.tabButtons[k].classList.toggle("on", k === t);
      this.tabButtons[k].setAttribute("aria-selected", k === t ? "true" : "false");
    }
    if (this.readView) this.readView.hidden = t !== "read";
    if (this.stepView) this.stepView.hidden = t !== "step";
    if (t !== "step") this.stopPlay();
    // The colouring applies to the reading view only.
    if (this.legend) this.legend.style.visibility = t === "read" ? "" : "hidden";
    this.unpin(); this.hidePop();
    if (t === "step") this.renderStep();
  };

  App.prototype.setMeasure = function (k) {
    this.measure = k;
    for (var m in this.measureButtons) {
      this.measureButtons[m].classList.toggle("on", m === k);
      this.measureButtons[m].setAttribute("aria-checked", m === k ? "true" : "false");
    }
    if (this.textWrap) this.textWrap.className = "tp-textwrap by-" + k;
    fillLegend(clear(this.legend), k, this.rangedColours);
  };

  // `ranged`: some glyph's probability at T is a range that spans bands (no tail summary).
  function fillLegend(lg, k, ranged) {
    var M = MEASURES[k];
    lg.appendChild(el("span", "tp-legend-title", M.note));
    M.legend.forEach(function (label, i) {
      lg.appendChild(el("span", "tp-legend-item", [el("span", "sw " + M.prefix + i), label]));
    });
    if (ranged && (k === "prob" || k === "surprisal"))
      lg.appendChild(el("span", "tp-legend-item tp-legend-range", [el("span", "sw " + M.prefix + "u"),
        "range at T spans bands"]));
    lg.appendChild(el("span", "tp-legend-item", [el("span", "sw " + M.prefix + "n"), NR]));
    return lg;
  }

  // ---------------------------------------------------------------- temperature

  App.prototype.setTemperature = function (T, fromSlider) {
    if (isProcessed(this.tr)) T = 1;
    this.T = Math.round(T * 100) / 100;
    // Moving the slider shows its temperature in the step view too; back at 1, the step
    // view returns to the distribution it opens on.
    if (this.T !== 1) this.stepDist = "slider";
    else if (this.stepDist === "slider") this.stepDist = null;
    if (!fromSlider) this.slider.value = String(this.T);
    this.tValue.textContent = this.T.toFixed(2);
    this.updateTempNote();
    // Re-colouring a long text takes a few frames: while the slider moves, do it once the
    // reader pauses; the popover and the step view follow at once.
    var self = this;
    clearTimeout(this.recolourTimer);
    if (this.chips.length > 2000 && fromSlider) this.recolourTimer = setTimeout(function () { self.recolour(); }, 150);
    else this.recolour();
    if (!this.pop.hidden && this.popChip >= 0) this.fillPop(this.popChip);
    else if (!this.pop.hidden && this.popChip === THINK_POP) this.fillThinkPop(this.thinkChip._think);
    if (this.tab === "step") this.renderStep();
  };

  // Whether values at T ≠ 1 are ranges: the trace has no tail summary (servers, imports).
  function isBounded(tr) {
    var sc = tr.main;
    if (!tr.grid) return true;
    for (var s = 0; s < sc.n; s++) if (sc.tailN[s] > 0) return false;
    return true;
  }

  // Processed logprobs are already the distribution the token was drawn from: applying a
  // temperature to them again would not give the model's distribution at that temperature.
  function isProcessed(tr) { return tr.doc.logprobs_kind === "processed"; }

  App.prototype.updateTempNote = function () {
    var tr = this.tr, T = this.T, note = clear(this.tNote), text;
    if (isProcessed(tr)) text = "Temperature off: these logprobs were reported after the server's own " +
      "temperature, top-k and top-p, so re-normalising them again would not give the model's distribution.";
    else if (T === 1) text = "T = 1: the distribution as recorded.";
    else if (!isBounded(tr)) {
      var lo = Math.min.apply(null, tr.grid.temps), hi = Math.max.apply(null, tr.grid.temps);
      text = T >= lo - 1e-9 && T <= hi + 1e-9
        ? "Re-normalised over the whole vocabulary (stored tail sums, interpolated between " +
          tr.grid.temps.length + " temperatures)."
        : "Outside the stored range " + lo.toFixed(2) + "\u2013" + hi.toFixed(2) + ": approximate (extrapolated).";
    } else {
      text = "Ranges: only the top-N of each step were reported, so at T = " + T +
        " each probability is a range over every distribution consistent with them" +
        (tr.vocabSize !== null ? " (vocabulary of " + tr.vocabSize + " tokens)." : " (vocabulary size unknown: the widest ranges).") +
        " Text colours: a band only where the whole range is in it.";
    }
    note.appendChild(el("span", "tp-tnote-text", text));
  };

  // Probability and surprisal colours follow the temperature; rank does not change with T
  // and entropy stays as recorded. Where only bounds are known (no tail summary), a glyph
  // gets a band only when its whole range falls in it, else the "range spans bands" colour:
  // the data cannot say which band it is in.
  App.prototype.recolour = function () {
    var self = this, tr = this.tr, ranged = false;
    [tr.prompt, tr.gen].forEach(function (sc) {
      if (!sc.n || !sc.chips) return;
      var T = self.T;
      for (var g = 0; g < sc.G; g++) {
        var lo = 0, hi = 0;
        if (T === 1) lo = hi = sc.gLp[g];
        else for (var s = sc.groups[g]; s < sc.groups[g + 1]; s++) {
          var r = chosenAtT(sc, s, T, tr.grid, tr.vocabSize);
          lo += Math.log(r[0]); hi += Math.log(r[1]);
        }
        var pb = "p" + bandOf(lo, hi, probBand), sb = "s" + bandOf(lo, hi, surpBand), chip = sc.chips[g];
        if (pb === "pu") ranged = true;
        if (chip._p !== pb) { chip.classList.replace(chip._p, pb); chip._p = pb; }
        if (chip._s !== sb) { chip.classList.replace(chip._s, sb); chip._s = sb; }
      }
    });
    if (ranged !== !!this.rangedColours) { this.rangedColours = ranged; this.setMeasure(this.measure); }
  };
  function bandOf(lo, hi, band) { var a = band(lo), b = band(hi); return a === b ? a : "u"; }

  P.fillLegend = fillLegend; P.isBounded = isBounded; P.isProcessed = isProcessed;
  P.bandOf = bandOf;
})(typeof window !== "undefined" ? window : globalThis);
