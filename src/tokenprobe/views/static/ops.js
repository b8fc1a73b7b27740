/* tokenprobe pages of operations: the pieces they share (the page header with the theme
 * switch, cards, number badges, segmented switches, a hover tip, mounting a viewer on a
 * trace and carrying the reader's colouring and temperature over when it is swapped).
 * Each page view (ops-compare.js, ops-tree.js, ops-sweep.js, ops-choice.js) registers
 * itself with Ops.register; viewer.js's boot gives it the page when it matches.
 *
 * Like the viewer, everything the model or the user wrote reaches the page through
 * textContent and attribute setters only. It leaves out the numbers: every figure drawn
 * here was computed by the library and travels in the page (views/encode_ops.py). */
(function () {
  "use strict";

  var TP = window.TokenprobeViewer;
  var D = TP.dom, F = TP.format, el = D.el, append = D.append, clear = D.clear;
  var NR = "not reported";

  function register(view) { TP.pageViews.push(view); }

  // The page's frame: the root cleared and marked, the stored theme applied.
  function start(root, cls) {
    clear(root);
    root.className = "tp-app ops-page " + (cls || "");
    TP.theme.restore();
    return root;
  }

  // The same header as the viewer's: brand (with what kind of page), title, facts, theme.
  function header(opts) {
    var head = el("header", "tp-header");
    var brand = el("div", "tp-brand", [el("span", "tp-logo", "tokenprobe"),
      opts.kind ? el("span", "ops-kind", " \u00b7 " + opts.kind) : null]);
    var title = el("h1", "tp-title", opts.title || "");
    var meta = el("div", "tp-meta");
    (opts.meta || []).forEach(function (b) {
      if (b === null || b[1] === null || b[1] === undefined || b[1] === "") return;
      meta.appendChild(el("span", "tp-meta-item", b[0] ? [el("span", "tp-meta-k", b[0]), " ", String(b[1])] : String(b[1])));
    });
    var themeBtn = D.button("", "tp-icon-btn tp-theme", "Switch between light and dark");
    function sync() { themeBtn.textContent = TP.theme.current() === "dark" ? "\u2600\ufe0e Light" : "\u263e Dark"; }
    themeBtn.addEventListener("click", function () {
      TP.theme.set(TP.theme.current() === "dark" ? "light" : "dark");
      sync();
    });
    sync();
    append(head, [el("div", "tp-head-text", [brand, title, meta]), themeBtn]);
    return head;
  }

  function created(iso) { return iso ? String(iso).replace("T", " ").replace(/(\.\d+)?Z$/, " UTC") : null; }

  // The page is drawn: tests and benchmarks wait for this mark.
  function ready() {
    if (!document.documentElement.hasAttribute("data-tp-ready"))
      document.documentElement.setAttribute("data-tp-ready", "1");
  }

  function card(title, hint, cls) {
    var box = el("section", "tp-card ops-card" + (cls ? " " + cls : ""));
    if (title) box.appendChild(el("h2", "ops-card-title", title));
    if (hint) box.appendChild(el("p", "ops-hint", hint));
    return box;
  }

  // A variant's (or an option's) number, as the web app draws it.
  function badge(n, cls) { return el("span", "ops-n" + (cls ? " " + cls : ""), String(n)); }

  // A row of buttons of which one is on. items: [{label, title}]; onPick(i).
  function seg(items, current, onPick, label) {
    var box = el("div", "tp-seg ops-seg");
    box.setAttribute("role", "radiogroup");
    if (label) box.setAttribute("aria-label", label);
    var buttons = items.map(function (it, i) {
      var b = D.button(it.label, "tp-seg-btn", it.title);
      b.setAttribute("role", "radio");
      b.dataset.index = String(i);
      b.addEventListener("click", function () { set(i); onPick(i); });
      box.appendChild(b);
      return b;
    });
    function set(i) {
      buttons.forEach(function (b, j) {
        b.classList.toggle("on", j === i);
        b.setAttribute("aria-checked", j === i ? "true" : "false");
      });
    }
    set(current);
    return { el: box, set: set };
  }

  // Δ logprob with its sign, three decimals, U+2212 for minus; 0.000 carries no sign.
  function fmtDelta(d) {
    if (d === null || d === undefined || isNaN(d)) return NR;
    var s = Math.abs(d).toFixed(3);
    if (s === "0.000") return s;
    return (d > 0 ? "+" : "\u2212") + s;
  }

  // How many times as likely a logprob difference makes a token.
  function times(r) { return r < 10 ? r.toPrecision(2) : r < 1000 ? String(Math.round(r)) : r.toExponential(1).replace("e+", "e"); }
  function fmtRatio(d) {
    if (d === null || d === undefined || isNaN(d)) return "";
    return d >= 0 ? times(Math.exp(d)) + "\u00d7 as likely" : times(Math.exp(-d)) + "\u00d7 less likely";
  }

  // A token label in running text: the text itself, whitespace-only tokens drawn as marks.
  var WS_ONLY = /^[ \t\n\r\v\f]+$/;
  function tokenText(label) {
    if (label === "" || WS_ONLY.test(label)) return F.tokenNode(label);
    return document.createTextNode(label);
  }

  // ------------------------------------------------------------------ hover tip

  var tipEl = null, tipFor = null;
  function tipBox() {
    if (!tipEl) {
      tipEl = el("div", "ops-tip");
      tipEl.setAttribute("role", "tooltip");
      tipEl.hidden = true;
      document.body.appendChild(tipEl);
      window.addEventListener("scroll", hideTip, true);
    }
    return tipEl;
  }
  function hideTip() { if (tipEl) { tipEl.hidden = true; tipFor = null; } }
  function showTip(target, fill) {
    var box = clear(tipBox());
    fill(box);
    box.hidden = false;
    tipFor = target;
    var r = target.getBoundingClientRect(), w = box.offsetWidth, h = box.offsetHeight;
    var top = r.bottom + 8 + h > window.innerHeight - 8 ? r.top - 8 - h : r.bottom + 8;
    box.style.left = Math.max(8, Math.min(r.left, window.innerWidth - w - 8)) + "px";
    box.style.top = Math.max(8, top) + "px";
  }
  // `fill(box)` draws the tip's content when it is shown (on hover and on keyboard focus).
  function tip(target, fill) {
    target.addEventListener("mouseenter", function () { showTip(target, fill); });
    target.addEventListener("mouseleave", function () { if (tipFor === target) hideTip(); });
    target.addEventListener("focus", function () { showTip(target, fill); });
    target.addEventListener("blur", function () { if (tipFor === target) hideTip(); });
  }
  // Rows of a tip: [label, value] pairs, values in tabular figures.
  function tipRows(rows) {
    var dl = el("dl", "ops-tip-rows");
    rows.forEach(function (r) {
      if (!r) return;
      dl.appendChild(el("div", "ops-tip-row" + (r[2] ? " " + r[2] : ""), [el("dt", null, r[0]), el("dd", "num", r[1])]));
    });
    return dl;
  }

  // ------------------------------------------------------------------ viewers

  function onePage(doc, title) { return { format: TP.PAGE_FORMAT, title: title || null, traces: [doc] }; }

  // A trace's tokens alone (no header, toolbar or panel), with the popover of alternatives.
  function mountText(host, doc, opts) {
    return TP.mount(host, onePage(doc), Object.assign({ chrome: false, toolbar: false, panel: "none", prompt: false }, opts || {}));
  }

  // What the reader set on a viewer, to carry over to the one that replaces it.
  function viewState(app) { return app ? { measure: app.measure, T: app.T, tab: app.tab } : null; }
  function restoreState(app, st) {
    if (!st || !app.tr) return;
    if (st.measure && st.measure !== app.measure) app.setMeasure(st.measure);
    if (st.T !== 1 && app.slider) app.setTemperature(st.T);
    if (st.tab && st.tab !== app.tab) app.setTab(st.tab);
  }

  // A trace's generated tokens as labels and logprobs (nats; NaN = not reported), with the
  // glyph a byte fragment belongs to: `glyph` (the character, shown instead of the
  // fragments' byte spellings), `frag` (k of n, or null for a whole token) and `text`, the
  // token's share of the running text (the glyph on its first fragment, "" on the others).
  function stepsOf(doc) {
    var c = doc.steps || { n: 0 }, out = [], sc = TP.loadTrace(doc).gen;
    for (var i = 0; i < (c.n || 0); i++) {
      var lp = c.lp ? c.lp[i] : null, g = sc.stepGroup[i], a = sc.groups[g], n = sc.groups[g + 1] - a;
      var label = doc.vocab[c.tok[i]];
      out.push({ label: label, lp: lp === null || lp === undefined ? NaN : lp / 1e4,
        glyph: sc.gText[g], frag: n > 1 ? [i - a + 1, n] : null, text: n > 1 ? (i === a ? sc.gText[g] : "") : label });
    }
    return out;
  }

  // A token of stepsOf in a list: its label and, for a byte fragment, the glyph it is part of.
  function stepLabel(s) {
    var node = F.tokenNode(s.label);
    if (s.frag) node.appendChild(el("span", "tp-frag-of", " byte " + s.frag[0] + " of " + s.frag[1] + " of \u201c" + s.glyph + "\u201d"));
    return node;
  }

  window.TokenprobeOps = {
    register: register, start: start, header: header, created: created, ready: ready,
    card: card, badge: badge, seg: seg, fmtDelta: fmtDelta, fmtRatio: fmtRatio,
    tokenText: tokenText, tip: tip, tipRows: tipRows, hideTip: hideTip,
    mountText: mountText, onePage: onePage, viewState: viewState, restoreState: restoreState,
    stepsOf: stepsOf, stepLabel: stepLabel, NR: NR
  };
})();
