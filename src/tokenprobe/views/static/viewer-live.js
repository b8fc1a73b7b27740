/* tokenprobe viewer: live and hosted use: a trace growing as steps arrive, the panel drawn by
 * the host, replacing and destroying a viewer.
 * (One of the viewer's files, loaded in the order of views/html.py's SCRIPTS; they share
 * their parts through the TokenprobeParts namespace. See docs/architecture.md.) */
(function (root) {
  "use strict";
  var P = root.TokenprobeParts = root.TokenprobeParts || {};
  var loadTrace = P.loadTrace, schemaProblem = P.schemaProblem, clear = P.clear, el = P.el,
    App = P.App, fillLegend = P.fillLegend, makeChip = P.makeChip;

  // ---------------------------------------------------------------- live and hosted use

  // The same trace with more steps (a LiveDoc's doc): chips are added for the new glyphs
  // only; the last old glyph is rebuilt, since a byte fragment may have completed it.
  App.prototype.update = function (doc) {
    this.traces[this.current] = doc;
    var old = this.tr;
    if (!old || !this.genText || schemaProblem(doc)) { this.show(this.current); return; }
    var tr = loadTrace(doc), sc = tr.gen, osc = old.gen;
    tr.prompt = old.prompt;
    tr.main = sc.n || !tr.prompt.n ? sc : tr.prompt;
    var oldG = osc.chips ? osc.G : 0, from = Math.max(0, oldG - 1);
    var base = osc.chips ? osc.chipBase : this.chips.length;
    for (var g = from; g < oldG; g++) {
      var c = osc.chips[g], para = c.parentNode;
      para.removeChild(c);
      if (!para.firstChild) para.parentNode.removeChild(para);
    }
    var waiting = this.genText.querySelector(".tp-empty");
    if (waiting && sc.n) this.genText.removeChild(waiting);
    this.chips.length = base + from;
    sc.chips = osc.chips ? osc.chips.slice(0, from) : [];
    sc.chipBase = base;
    sc.which = 1;
    this.tr = tr;
    this.appendChips(sc, from);
    if (this.active >= base + from) this.active = -1;
    if (this.active < 0 && this.chips.length) { this.active = 0; this.chips[0].tabIndex = 0; }
    if (this.popChip >= base + from) { this.unpin(); this.hidePop(); }
    if (this.T !== 1) this.recolour();
    this.updateThinking(tr);
    if (this.stepRange) {
      if (sc.n && !osc.n) this.buildStepView();
      else this.stepRange.max = String(Math.max(0, sc.n - 1));
      if (this.tab === "step") this.renderStep();
    }
    this.schedulePanel();
  };

  App.prototype.appendChips = function (sc, from) {
    var host = this.genText, para = host.lastElementChild;
    if (para && (!para.classList.contains("tp-para") || /\n$/.test(para.textContent))) para = null;
    for (var g = from; g < sc.G; g++) {
      if (!para) {
        para = el("div", "tp-para");
        // Remembered once laid out (auto); until then a line's height.
        para.style.containIntrinsicSize = "auto 32px";
        host.appendChild(para);
      }
      var span = makeChip(sc, g, sc.chipBase);
      sc.chips[g] = span;
      this.chips.push(span);
      para.appendChild(span);
      if (sc.gText[g].charCodeAt(sc.gText[g].length - 1) === 10) para = null;
    }
  };

  // The summary and chart follow the stream a few times a second: redrawing them for every
  // token would take the processor from the model that is making the tokens.
  var PANEL_EVERY = 200;
  App.prototype.schedulePanel = function () {
    var self = this;
    if (this.panelRaf) return;
    var wait = Math.max(0, (this.panelAt || 0) + PANEL_EVERY - Date.now());
    this.panelRaf = setTimeout(function () {
      requestAnimationFrame(function () { self.panelRaf = 0; self.panelAt = Date.now(); self.refreshPanel(); });
    }, wait);
  };
  App.prototype.refreshPanel = function () {
    if (!this.tr || this.destroyed) return;
    if (this.sideEl) this.buildSummary(clear(this.sideEl));
    if (this.chartBox) this.buildChart(this.chartBox);
    if (this.panelEl) this.renderPanel(this.panelEl);
  };

  // The confidence panel (chart, summary, least confident tokens, legend) drawn into a
  // container of the host's, for a viewer mounted with panel: "none".
  App.prototype.renderPanel = function (host) {
    this.panelEl = host;
    clear(host);
    if (!this.tr) return;
    // Nothing to sum up before the first token.
    if (this.opts.live && !this.tr.main.n) { host.appendChild(el("p", "tp-none tp-waiting", "The figures follow the first token.")); return; }
    var chart = el("div", "tp-chart");
    host.appendChild(chart);
    this.buildChart(chart);
    this.buildSummary(host);
    host.appendChild(fillLegend(el("div", "tp-legend tp-panel-legend"), this.measure, this.rangedColours));
  };
  App.prototype.releasePanel = function () { this.panelEl = null; };

  // A live summary (sent by the server every so often while the trace is being made).
  App.prototype.setSummary = function (summary) {
    this.traces[this.current].summary = summary;
    if (this.tr) { this.tr.summary = summary; this.schedulePanel(); }
  };

  // A finished trace in place of the live one (the server's own encoding of it), keeping
  // the reader's tab, colouring and temperature.
  App.prototype.replace = function (doc) {
    var T = this.T, tab = this.tab;
    this.traces[this.current] = doc;
    this.show(this.current);
    if (tab !== this.tab) this.setTab(tab);
    if (T !== 1 && this.slider) this.setTemperature(T);
  };

  App.prototype.destroy = function () {
    this.destroyed = true;
    this.stopPlay();
    clearTimeout(this.hideTimer);
    if (this.panelRaf) clearTimeout(this.panelRaf);
    (this.listeners || []).forEach(function (l) { l[0].removeEventListener(l[1], l[2]); });
    this.listeners = [];
    if (this.pop && this.pop.parentNode) this.pop.parentNode.removeChild(this.pop);
    clear(this.root);
  };

  P.PANEL_EVERY = PANEL_EVERY;
})(typeof window !== "undefined" ? window : globalThis);
