/* tokenprobe viewer: the viewer (App): its shell, the trace switcher, the meta line and
 * notices.
 * (One of the viewer's files, loaded in the order of views/html.py's SCRIPTS; they share
 * their parts through the TokenprobeParts namespace. See docs/architecture.md.) */
(function (root) {
  "use strict";
  var P = root.TokenprobeParts = root.TokenprobeParts || {};
  var NR = P.NR, MEASURES = P.MEASURES, loadTrace = P.loadTrace, schemaProblem = P.schemaProblem,
    append = P.append, button = P.button, clear = P.clear, currentTheme = P.currentTheme,
    el = P.el, storeTheme = P.storeTheme, storedTheme = P.storedTheme;

  // ------------------------------------------------------------------------------------
  // The app

  // Options (all optional; the export uses none): chrome (header and trace switcher, default
  // true), toolbar (default true), prompt (show the prompt, default true), panel ("side":
  // summary and chart beside the text, the default; "none": the text alone, the host may
  // draw the panel elsewhere with renderPanel), live (an empty trace is waiting for its first
  // token), measure (the first colouring), onPick(pick) (alternatives of generated tokens
  // can be clicked: pick = {step, candidate, token}), pickHint (the text saying so), slot (an
  // element of the host's, shown between the header and the trace; with chrome only),
  // genLabel (the heading over the generated text), summaryTitle (the summary card's).
  function App(root, page, opts) {
    this.root = root;
    this.page = page;
    this.opts = opts || {};
    this.traces = page.traces || [];
    this.current = 0;
    this.T = 1;
    this.measure = this.opts.measure && MEASURES[this.opts.measure] ? this.opts.measure : "prob";
    this.tab = "read";
    this.pinned = false;
    this.popChip = -1;
    this.active = -1;
    this.hideTimer = 0;
    this.playTimer = 0;
  }

  App.prototype.start = function () {
    var t = storedTheme();
    if (t === "light" || t === "dark") document.documentElement.setAttribute("data-theme", t);
    clear(this.root);
    this.buildShell();
    this.show(0);
  };

  App.prototype.chrome = function () { return this.opts.chrome !== false; };

  // Document-level listeners, kept so that destroy() can remove them.
  App.prototype.listen = function (target, type, fn) {
    target.addEventListener(type, fn);
    (this.listeners = this.listeners || []).push([target, type, fn]);
  };

  App.prototype.buildShell = function () {
    var self = this;
    this.body = el("div", "tp-body");
    this.pop = el("div", "tp-pop");
    this.pop.setAttribute("role", "dialog");
    this.pop.hidden = true;
    this.pop.addEventListener("mouseenter", function () { clearTimeout(self.hideTimer); });
    this.pop.addEventListener("mouseleave", function () { if (!self.pinned) self.scheduleHide(); });
    document.body.appendChild(this.pop);
    this.listen(document, "click", function (e) {
      if (!self.pinned) return;
      if (self.pop.contains(e.target) || (e.target.closest && e.target.closest(".t"))) return;
      self.unpin();
    });
    this.listen(document, "keydown", function (e) {
      if (e.key === "Escape" && !self.pop.hidden) { self.unpin(); self.hidePop(); }
    });
    this.listen(window, "resize", function () { if (!self.pop.hidden) self.placePop(); });
    if (!this.chrome()) { this.root.appendChild(this.body); return; }
    var head = el("header", "tp-header");
    var brand = el("div", "tp-brand", [el("span", "tp-logo", "tokenprobe")]);
    this.titleEl = el("h1", "tp-title");
    this.metaEl = el("div", "tp-meta");
    var themeBtn = button("", "tp-icon-btn tp-theme", "Switch between light and dark");
    themeBtn.addEventListener("click", function () {
      var next = currentTheme() === "dark" ? "light" : "dark";
      document.documentElement.setAttribute("data-theme", next);
      storeTheme(next);
      self.syncThemeButton();
    });
    this.themeBtn = themeBtn;
    append(head, [el("div", "tp-head-text", [brand, this.titleEl, this.metaEl]), themeBtn]);
    this.switcher = el("nav", "tp-switcher");
    this.switcher.setAttribute("aria-label", "Traces in this page");
    append(this.root, [head, this.switcher, this.opts.slot || null, this.body]);
    this.syncThemeButton();
    if (window.matchMedia) {
      var mq = window.matchMedia("(prefers-color-scheme: dark)");
      if (mq.addEventListener) mq.addEventListener("change", function () { self.syncThemeButton(); });
    }
    if (this.traces.length > 1) {
      this.traces.forEach(function (doc, i) {
        var req = (doc && doc.request) || {};
        var hint = (req.prompt || (doc && doc.text) || "").slice(0, 40);
        var b = button([el("span", "tp-sw-n", String(i + 1)), " " + (doc.model || "trace") +
          (hint ? " \u00b7 " + hint : "")], "tp-sw");
        b.addEventListener("click", function () { self.show(i); });
        self.switcher.appendChild(b);
      });
    } else this.switcher.hidden = true;
  };

  App.prototype.syncThemeButton = function () {
    var dark = currentTheme() === "dark";
    this.themeBtn.textContent = dark ? "\u2600\ufe0e Light" : "\u263e Dark";
  };

  App.prototype.message = function (text) {
    clear(this.body);
    this.body.appendChild(el("p", "tp-message tp-error", text));
  };

  // Show trace i: rebuild the body. Problems in one trace never blank the page.
  App.prototype.show = function (i) {
    var chrome = this.chrome();
    this.stopPlay();
    this.unpin(); this.hidePop();
    this.current = i;
    if (chrome) {
      Array.prototype.forEach.call(this.switcher.children, function (b, j) {
        b.classList.toggle("on", j === i);
        b.setAttribute("aria-pressed", j === i ? "true" : "false");
      });
    }
    var doc = this.traces[i];
    var pageTitle = this.page.title;
    if (chrome) {
      this.titleEl.textContent = pageTitle || (doc && doc.model ? doc.model : "Trace");
      clear(this.metaEl);
    }
    var problem = schemaProblem(doc);
    if (problem) {
      this.message(problem);
      this.tr = null;
      if (chrome) document.documentElement.setAttribute("data-tp-ready", "message");
      return;
    }
    var tr;
    try { tr = loadTrace(doc); } catch (e) { this.message("The viewer could not read this trace: " + e.message); return; }
    this.tr = tr;
    this.rangedColours = false;
    this.stepDist = null;
    if (chrome && window.performance && performance.mark) performance.mark("tokenprobe-loaded");
    if (chrome) this.buildMeta(doc);
    this.T = 1;
    clear(this.body);
    this.buildToolbar();
    this.notice = el("div", "tp-notices");
    this.body.appendChild(this.notice);
    this.buildNotices(doc);
    this.readView = el("section", "tp-read");
    this.stepView = el("section", "tp-stepview");
    this.stepView.hidden = true;
    append(this.body, [this.readView, this.stepView]);
    this.buildRead();
    this.buildStepView();
    this.setTab(this.tab);
    if (chrome && !window.__tokenprobeReady) {
      window.__tokenprobeReady = true;
      document.documentElement.setAttribute("data-tp-ready", "1");
      if (window.performance && performance.mark) performance.mark("tokenprobe-interactive");
    }
  };

  App.prototype.buildMeta = function (doc) {
    var req = doc.request || {}, bits = [];
    if (this.page.title && doc.model) bits.push(["model", doc.model]);
    bits.push(["backend", doc.backend || NR]);
    bits.push(["mode", req.mode || "completion"]);
    if (req.temperature !== null && req.temperature !== undefined) bits.push(["sampled at T", String(req.temperature)]);
    if (req.top_p !== null && req.top_p !== undefined && req.top_p < 1) bits.push(["top-p", String(req.top_p)]);
    if (req.top_k) bits.push(["top-k", String(req.top_k)]);
    if (req.seed !== null && req.seed !== undefined) bits.push(["seed", String(req.seed)]);
    bits.push(["logprobs", doc.logprobs_kind || "unknown"]);
    if (doc.finish_reason) bits.push(["finished", doc.finish_reason]);
    if (doc.created) bits.push(["", String(doc.created).replace("T", " ").replace("Z", " UTC")]);
    var m = this.metaEl;
    bits.forEach(function (b) {
      m.appendChild(el("span", "tp-meta-item", b[0] ? [el("span", "tp-meta-k", b[0]), " ", b[1]] : b[1]));
    });
  };

  App.prototype.buildNotices = function (doc) {
    // A live trace is incomplete only because it is still being made.
    if (!this.opts.live && (doc.complete === false || doc.error)) {
      this.notice.appendChild(el("p", "tp-note tp-note-warn",
        "This generation did not complete" + (doc.error ? ": " + String(doc.error).replace(/\.?$/, ".") : ".") +
        " The tokens received are shown."));
    }
  };

  var THINK_POP = -2; // popChip while the popover shows a thinking chip

  P.App = App; P.THINK_POP = THINK_POP;
})(typeof window !== "undefined" ? window : globalThis);
