/* tokenprobe viewer: draws traces in the tokenprobe/page@1 encoding (docs/architecture.md).
 * An exported page embeds them in #tp-data and the viewer boots on it; the web app loads
 * this same file and mounts viewers on its own containers (window.TokenprobeViewer.mount),
 * feeding them live steps as they arrive (LiveDoc, App.update). Everything the model wrote
 * is data: it reaches the page only through textContent and attribute setters, never
 * through markup. No network access.
 *
 * Sections: math (temperature re-normalisation, a port of distribution.py), bytes (labels
 * and glyph groups, a port of textbytes.py), the trace model and its live form, and the
 * views (reading view with its popover, step view, summary and chart). The pages of
 * operations (comparison, choice, sweep, branch tree) are drawn by ops*.js, which register
 * themselves in pageViews and mount this viewer for each trace they show. */
(function () {
  "use strict";

  var SCHEMA = "tokenprobe/trace@1";
  var SCHEMA_PREFIX = "tokenprobe/trace@";
  var PAGE_FORMAT = "tokenprobe/page@1";
  var SVG_NS = "http://www.w3.org/2000/svg";
  var LN2 = Math.LN2;

  // ------------------------------------------------------------------------------------
  // Small DOM helpers. Children that are strings become text nodes.

  function el(tag, cls, children) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (children !== undefined) append(e, children);
    return e;
  }
  function append(parent, children) {
    if (children === null || children === undefined) return parent;
    if (!Array.isArray(children)) children = [children];
    for (var i = 0; i < children.length; i++) {
      var c = children[i];
      if (c === null || c === undefined || c === false) continue;
      parent.appendChild(typeof c === "string" || typeof c === "number"
        ? document.createTextNode(String(c)) : c);
    }
    return parent;
  }
  function attrs(e, a) {
    for (var k in a) if (Object.prototype.hasOwnProperty.call(a, k)) e.setAttribute(k, a[k]);
    return e;
  }
  function button(label, cls, title) {
    var b = el("button", cls, label);
    b.type = "button";
    if (title) { b.title = title; b.setAttribute("aria-label", title); }
    return b;
  }
  function svg(tag, a) { return attrs(document.createElementNS(SVG_NS, tag), a || {}); }
  function clear(e) { while (e.firstChild) e.removeChild(e.firstChild); return e; }

  // ------------------------------------------------------------------------------------
  // Number formatting. Missing values are always spelled out.

  var NR = "not reported";
  function minus(s) { return s.replace(/^-/, "\u2212"); }
  function fmtNum(x, d) { return x === null || x === undefined || isNaN(x) ? NR : minus(x.toFixed(d)); }
  function fmtPct(p) {
    if (p === null || p === undefined || isNaN(p)) return NR;
    var v = 100 * p;
    if (v >= 0.1 || v === 0) return v.toFixed(1) + "%";
    if (v >= 1e-4) return v.toPrecision(2) + "%";
    return "<0.0001%";
  }
  function plural(n, one, many) { return n + " " + (n === 1 ? one : many); }

  // ------------------------------------------------------------------------------------
  // Math: the same re-normalisation as distribution.step_at_temperature.

  function logsumexp(xs) {
    var m = -Infinity, i;
    for (i = 0; i < xs.length; i++) if (xs[i] > m) m = xs[i];
    if (m === -Infinity || m === Infinity) return m;
    var s = 0;
    for (i = 0; i < xs.length; i++) s += Math.exp(xs[i] - m);
    return m + Math.log(s);
  }

  // The cubic through the (up to) four grid points nearest to x, in Lagrange form
  // (distribution._local_cubic, term for term, so both give the same doubles).
  function localCubic(xs, ys, x) {
    var n = xs.length, i, j;
    if (n <= 2) {
      var t = (x - xs[0]) / (xs[1] - xs[0]);
      return ys[0] + t * (ys[1] - ys[0]);
    }
    var k = 0;
    for (i = 0; i < n - 1; i++) if (xs[i] <= x) k = i;
    var lo = Math.min(Math.max(k - 1, 0), Math.max(n - 4, 0)), hi = Math.min(lo + 4, n);
    var total = 0;
    for (i = lo; i < hi; i++) {
      var w = 1;
      for (j = lo; j < hi; j++) if (j !== i) w *= (x - xs[j]) / (xs[i] - xs[j]);
      total += w * ys[i];
    }
    return total;
  }

  // log Σ exp(lp/T) over a step's tail at any T, from its stored grid (tail_logsumexp_at).
  // `grid` holds the β = 1/T values sorted ascending and the order that sorts them.
  function tailLseAt(T, grid, values, off) {
    var beta = 1 / T, n = grid.xs.length, ys = new Array(n), i;
    for (i = 0; i < n; i++) ys[i] = values[off + grid.order[i]];
    for (i = 0; i < n; i++) if (Math.abs(grid.xs[i] - beta) < 1e-9) return [ys[i], "exact"];
    if (beta < grid.xs[0] || beta > grid.xs[n - 1]) {
      var j = beta < grid.xs[0] ? 0 : n - 2;
      var slope = (ys[j + 1] - ys[j]) / (grid.xs[j + 1] - grid.xs[j]);
      return [ys[j] + slope * (beta - grid.xs[j]), "approximate"];
    }
    return [localCubic(grid.xs, ys, beta), "interpolated"];
  }

  function makeGrid(temps) {
    if (!temps || !temps.length) return null;
    var order = temps.map(function (_, i) { return i; });
    order.sort(function (i, j) { return 1 / temps[i] - 1 / temps[j] || i - j; });
    return { order: order, xs: order.map(function (i) { return 1 / temps[i]; }), temps: temps };
  }

  // A step's listed candidates at temperature T. Returns the indices (into the scope's flat
  // top arrays) of the candidates with a logprob, their probabilities, the probability of
  // everything else, the accuracy ("exact", "interpolated", "approximate") and log Z.
  function stepAtT(sc, s, T, grid) {
    var a = sc.topStart[s], b = sc.topStart[s + 1], listed = [], scaled = [], j;
    var beta = 1 / T;
    for (j = a; j < b; j++) if (!isNaN(sc.topLp[j])) { listed.push(j); scaled.push(beta * sc.topLp[j]); }
    if (!listed.length) return { listed: listed, probs: [], tail: null, accuracy: "approximate", logZ: null };
    var head = logsumexp(scaled), logZ, tail, accuracy, tl;
    if (grid && sc.tailN[s] > 0) {
      var r = tailLseAt(T, grid, sc.tail, sc.tailStart[s]);
      tl = r[0]; accuracy = r[1];
      logZ = logsumexp([head, tl]);
      tail = Math.exp(tl - logZ);
    } else {
      // Nothing is known about how the unlisted mass is spread: one lump scaling as p^β.
      var mass = 1;
      for (j = 0; j < listed.length; j++) mass -= Math.exp(sc.topLp[listed[j]]);
      accuracy = "approximate";
      if (mass > 1e-12) {
        tl = beta * Math.log(mass);
        logZ = logsumexp([head, tl]);
        tail = Math.exp(tl - logZ);
      } else { logZ = head; tail = 0; }
    }
    var probs = scaled.map(function (x) { return Math.exp(x - logZ); });
    return { listed: listed, probs: probs, tail: tail, accuracy: accuracy, logZ: logZ };
  }

  // The chosen token's probability at T (NaN when its logprob was not reported).
  function chosenAtT(sc, s, T, grid) {
    var lp = sc.lp[s];
    if (isNaN(lp)) return NaN;
    if (T === 1) return Math.exp(lp);
    var v = stepAtT(sc, s, T, grid);
    if (v.logZ === null) return NaN;
    return Math.exp(lp / T - v.logZ);
  }

  // ------------------------------------------------------------------------------------
  // Bytes: labels that never hide bytes behind U+FFFD, and glyph groups (textbytes.py).

  function hex2(x) { return (x < 16 ? "0" : "") + x.toString(16); }

  // UTF-8 where valid, \xNN for each byte of an invalid sequence (Python's backslashreplace).
  function decodeLabel(b) {
    var out = "", i = 0, n = b.length;
    while (i < n) {
      var c = b[i];
      if (c < 0x80) { out += String.fromCharCode(c); i++; continue; }
      var need = 0, lo = 0x80, hi = 0xbf, cp = 0;
      if (c >= 0xc2 && c <= 0xdf) { need = 1; cp = c & 0x1f; }
      else if (c >= 0xe0 && c <= 0xef) { need = 2; cp = c & 0x0f; if (c === 0xe0) lo = 0xa0; if (c === 0xed) hi = 0x9f; }
      else if (c >= 0xf0 && c <= 0xf4) { need = 3; cp = c & 0x07; if (c === 0xf0) lo = 0x90; if (c === 0xf4) hi = 0x8f; }
      else { out += "\\x" + hex2(c); i++; continue; }
      var j = 1, ok = true;
      for (; j <= need; j++) {
        var d = i + j < n ? b[i + j] : -1;
        if (d < (j === 1 ? lo : 0x80) || d > (j === 1 ? hi : 0xbf)) { ok = false; break; }
        cp = (cp << 6) | (d & 0x3f);
      }
      if (!ok) { for (var k = 0; k < j; k++) out += "\\x" + hex2(b[i + k]); i += j; continue; }
      out += String.fromCodePoint(cp);
      i += need + 1;
    }
    return out;
  }

  function leadNeed(x) {
    if (x >= 0xc2 && x <= 0xdf) return 1;
    if (x >= 0xe0 && x <= 0xef) return 2;
    if (x >= 0xf0 && x <= 0xf4) return 3;
    return 0;
  }

  // Runs of consecutive tokens whose bytes only make whole characters together, as start
  // indices (plus n at the end). A token without `bytes` is valid UTF-8 on its own, so it
  // starts with a non-continuation byte and ends on a character boundary: only tokens with
  // `bytes` need looking at byte by byte.
  function glyphGroups(sc, vocab) {
    var starts = [], start = 0, need = 0, n = sc.n;
    for (var i = 0; i < n; i++) {
      var v = sc.tok[i], bytes = vocab.bytes[v];
      if (bytes === undefined) {
        if (vocab.labels[v] !== "") {
          if (need) { starts.push(start); start = i; }
          need = 0;
        }
      } else {
        if (need && bytes.length && !(bytes[0] >= 0x80 && bytes[0] <= 0xbf)) {
          starts.push(start); start = i; need = 0;
        }
        for (var k = 0; k < bytes.length; k++) {
          var x = bytes[k];
          if (need && x >= 0x80 && x <= 0xbf) need--; else need = leadNeed(x);
        }
      }
      if (need === 0) { starts.push(start); start = i + 1; }
    }
    if (start < n) starts.push(start);
    starts.push(n);
    return Int32Array.from(starts);
  }

  var WS_RE = /^[ \t\n\r\v\f]+$/;
  function visibleWs(s) {
    return s.replace(/ /g, "\u2423").replace(/\n/g, "\u21b5").replace(/\t/g, "\u21e5")
      .replace(/\r/g, "\u240d").replace(/[\v\f]/g, "\u2420");
  }
  // A token label for lists: whitespace drawn as marks, so " the" and "the" differ.
  function tokenNode(label) {
    var span = el("span", "tok");
    if (label === "") { span.appendChild(el("span", "tok-ws", "\u2205")); return span; }
    var re = /[ \t\n\r\v\f]+/g, last = 0, m;
    while ((m = re.exec(label)) !== null) {
      if (m.index > last) span.appendChild(document.createTextNode(label.slice(last, m.index)));
      span.appendChild(el("span", "tok-ws", visibleWs(m[0])));
      last = m.index + m[0].length;
    }
    if (last < label.length) span.appendChild(document.createTextNode(label.slice(last)));
    return span;
  }

  // ------------------------------------------------------------------------------------
  // The trace model: columns as typed arrays (NaN for "not reported"), glyph groups.

  // Numbers in nats travel as integer counts of 1e-4 nats (encode.py); dividing gives the
  // same double as Python's round(x, 4). NaN stands for "not reported".
  var Q = 1e4;
  function numCol(a, n) {
    var out = new Float64Array(n);
    for (var i = 0; i < n; i++) { var v = a ? a[i] : null; out[i] = v === null || v === undefined ? NaN : v / Q; }
    return out;
  }
  // Sorted values travel as the first, then each as its predecessor minus itself, per step.
  function undelta(a, starts, n) {
    var out = new Float64Array(starts[n]);
    for (var s = 0; s < n; s++) {
      var prev = null;
      for (var j = starts[s]; j < starts[s + 1]; j++) {
        var v = a[j];
        if (v === null || v === undefined) { out[j] = NaN; continue; }
        prev = prev === null ? v : prev - v;
        out[j] = prev / Q;
      }
    }
    return out;
  }
  function prefix(counts, n) {
    var out = new Int32Array(n + 1);
    for (var i = 0; i < n; i++) out[i + 1] = out[i] + (counts ? counts[i] : 0);
    return out;
  }

  function loadScope(c, vocab) {
    c = c || { n: 0 };
    var n = c.n || 0;
    var topStart = prefix(c.top_n, n), tailStart = prefix(c.tail_n, n);
    var sc = {
      n: n, tok: c.tok || [], lp: numCol(c.lp, n), slp: numCol(c.slp, n), H: numCol(c.H, n),
      Hx: c.Hx || [], rank: c.rank || [], chosen: c.chosen || [],
      topStart: topStart, topTok: c.top_tok || [], topLp: undelta(c.top_lp || [], topStart, n),
      tailN: c.tail_n || new Array(n).fill(0), tailStart: tailStart, tail: undelta(c.tail || [], tailStart, n),
      forced: c.forced || null
    };
    sc.groups = glyphGroups(sc, vocab);
    var G = sc.groups.length - 1;
    sc.G = G;
    sc.stepGroup = new Int32Array(n);
    sc.gText = new Array(G);
    sc.gLp = new Float64Array(G);
    sc.gRank = new Int8Array(G);
    sc.gH = new Float64Array(G);
    sc.gKind = new Int8Array(G); // 0 text, 1 whitespace only, 2 special (no bytes)
    for (var g = 0; g < G; g++) {
      var a = sc.groups[g], b = sc.groups[g + 1], lp = 0, rk = 0, h = NaN, s;
      for (s = a; s < b; s++) {
        sc.stepGroup[s] = g;
        lp += sc.lp[s];
        rk = Math.max(rk, rankBucket(sc, s));
        // A glyph's uncertainty is its most uncertain moment.
        if (!isNaN(sc.H[s]) && !(sc.H[s] <= h)) h = sc.H[s];
      }
      sc.gLp[g] = lp; sc.gRank[g] = rk; sc.gH[g] = h;
      var text;
      if (b - a === 1 && vocab.bytes[sc.tok[a]] === undefined) text = vocab.labels[sc.tok[a]];
      else {
        var parts = [], len = 0;
        for (s = a; s < b; s++) { var bb = vocab.bytesOf(sc.tok[s]); parts.push(bb); len += bb.length; }
        var all = new Uint8Array(len), o = 0;
        for (s = 0; s < parts.length; s++) { all.set(parts[s], o); o += parts[s].length; }
        text = decodeLabel(all);
      }
      if (text === "") {
        var labels = [];
        for (s = a; s < b; s++) labels.push(vocab.labels[sc.tok[s]]);
        text = labels.join("");
        sc.gKind[g] = 2;
      } else if (WS_RE.test(text)) sc.gKind[g] = 1;
      sc.gText[g] = text;
    }
    return sc;
  }

  // Rank buckets, worst last: top-1, top-10, top-100, beyond 100, not in a shorter list,
  // unknown (no list or no logprob). The same buckets as metrics.rank_counts.
  var RANK_LABELS = ["top-1", "top-10", "top-100", "beyond 100", "not in the listed top-N", NR];
  function rankBucket(sc, s) {
    var len = sc.topStart[s + 1] - sc.topStart[s];
    if (!len || isNaN(sc.lp[s])) return 5;
    var r = sc.rank[s];
    if (r === null || r === undefined) return len >= 100 ? 3 : 4;
    return r === 1 ? 0 : r <= 10 ? 1 : r <= 100 ? 2 : 3;
  }

  function loadTrace(doc) {
    var labels = doc.vocab || [], bytes = [], encoder = new TextEncoder();
    (doc.vocab_bytes || []).forEach(function (p) { bytes[p[0]] = Uint8Array.from(p[1]); });
    var vocab = {
      labels: labels, bytes: bytes,
      bytesOf: function (v) { return bytes[v] !== undefined ? bytes[v] : encoder.encode(labels[v]); }
    };
    var tr = {
      doc: doc, vocab: vocab, request: doc.request || {},
      grid: makeGrid(doc.tail_temperatures),
      prompt: loadScope(doc.prompt_steps, vocab),
      gen: loadScope(doc.steps, vocab),
      summary: doc.summary || null
    };
    tr.main = tr.gen.n ? tr.gen : tr.prompt;
    return tr;
  }

  function schemaProblem(doc) {
    var s = doc && doc.schema;
    if (typeof s !== "string" || s.indexOf(SCHEMA_PREFIX) !== 0)
      return "This is not a tokenprobe trace (its schema is " + JSON.stringify(s === undefined ? null : s) + ").";
    if (s !== SCHEMA)
      return "This trace uses schema " + s + ", which is newer than this viewer reads (" + SCHEMA +
        "). Open it with a newer version of tokenprobe.";
    return null;
  }

  // ------------------------------------------------------------------------------------
  // Measures: band index per group for each colouring, and their legends.

  var MEASURES = {
    prob: { name: "Probability", prefix: "p",
      legend: ["\u226590%", "60\u201390%", "30\u201360%", "10\u201330%", "<10%"],
      note: "probability of the chosen token" },
    rank: { name: "Rank", prefix: "r", legend: RANK_LABELS.slice(0, 5),
      note: "where the chosen token stood among the alternatives" },
    entropy: { name: "Entropy", prefix: "e",
      legend: ["<0.5 nats", "0.5\u20131.5", "1.5\u20133", "\u22653 nats"],
      note: "how spread out the distribution was (\u2265 where only the top-N was known)" },
    surprisal: { name: "Surprisal", prefix: "s",
      legend: ["<1 bit", "1\u20133 bits", "3\u20136 bits", "6\u201310 bits", "\u226510 bits"],
      note: "\u2212log\u2082 p of the chosen token" }
  };
  function probBand(lp) {
    if (isNaN(lp)) return "n";
    var p = Math.exp(lp);
    return p >= 0.9 ? 0 : p >= 0.6 ? 1 : p >= 0.3 ? 2 : p >= 0.1 ? 3 : 4;
  }
  function surpBand(lp) {
    if (isNaN(lp)) return "n";
    var bits = -lp / LN2;
    return bits < 1 ? 0 : bits < 3 ? 1 : bits < 6 ? 2 : bits < 10 ? 3 : 4;
  }
  function entBand(h) {
    if (isNaN(h)) return "n";
    return h < 0.5 ? 0 : h < 1.5 ? 1 : h < 3 ? 2 : 3;
  }
  function rankBand(r) { return r === 5 ? "n" : r; }

  // ------------------------------------------------------------------------------------
  // Theme: the system's scheme unless the reader picked one (remembered when storage works;
  // a sandboxed notebook frame has none).

  function storedTheme() { try { return window.localStorage.getItem("tokenprobe-theme"); } catch (e) { return null; } }
  function storeTheme(v) { try { window.localStorage.setItem("tokenprobe-theme", v); } catch (e) { /* no storage */ } }
  function currentTheme() {
    var t = document.documentElement.getAttribute("data-theme");
    if (t) return t;
    return window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light";
  }

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
    fillLegend(clear(this.legend), k);
  };

  function fillLegend(lg, k) {
    var M = MEASURES[k];
    lg.appendChild(el("span", "tp-legend-title", M.note));
    M.legend.forEach(function (label, i) {
      lg.appendChild(el("span", "tp-legend-item", [el("span", "sw " + M.prefix + i), label]));
    });
    lg.appendChild(el("span", "tp-legend-item", [el("span", "sw " + M.prefix + "n"), NR]));
    return lg;
  }

  // ---------------------------------------------------------------- temperature

  App.prototype.setTemperature = function (T, fromSlider) {
    this.T = Math.round(T * 100) / 100;
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
    if (this.tab === "step") this.renderStep();
  };

  App.prototype.updateTempNote = function () {
    var tr = this.tr, T = this.T, note = clear(this.tNote), text;
    var hasTail = tr.grid && tr.main.n && tr.main.tailN[0] > 0;
    if (T === 1) text = "T = 1: the distribution as recorded.";
    else if (hasTail) {
      var lo = Math.min.apply(null, tr.grid.temps), hi = Math.max.apply(null, tr.grid.temps);
      text = T >= lo - 1e-9 && T <= hi + 1e-9
        ? "Re-normalised over the whole vocabulary (stored tail sums, interpolated between " +
          tr.grid.temps.length + " temperatures)."
        : "Outside the stored range " + lo.toFixed(2) + "\u2013" + hi.toFixed(2) + ": approximate (extrapolated).";
    } else text = "Approximate: re-normalised over the listed top-N, the rest treated as one lump.";
    note.appendChild(el("span", "tp-tnote-text", text));
    if (T !== 1 && this.tr.doc.logprobs_kind === "processed")
      note.appendChild(el("span", "tp-tnote-warn", " The logprobs were reported after processing."));
  };

  // Probability and surprisal colours follow the temperature; rank does not change with T
  // and entropy stays as recorded.
  App.prototype.recolour = function () {
    var self = this;
    [this.tr.prompt, this.tr.gen].forEach(function (sc) {
      if (!sc.n || !sc.chips) return;
      var T = self.T, grid = self.tr.grid;
      for (var g = 0; g < sc.G; g++) {
        var lp = 0;
        if (T === 1) lp = sc.gLp[g];
        else for (var s = sc.groups[g]; s < sc.groups[g + 1]; s++) lp += Math.log(chosenAtT(sc, s, T, grid));
        var pb = "p" + probBand(lp), sb = "s" + surpBand(lp), chip = sc.chips[g];
        if (chip._p !== pb) { chip.classList.replace(chip._p, pb); chip._p = pb; }
        if (chip._s !== sb) { chip.classList.replace(chip._s, sb); chip._s = sb; }
      }
    });
  };

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
    if (kind === 1) span.setAttribute("data-vis", visibleWs(sc.gText[g]));
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
      var prev = this.chips[this.popChip];
      if (prev) prev.classList.remove("shown");
      this.fillPop(k);
      this.chips[k].classList.add("shown");
    }
    this.pop.hidden = false;
    this.placePop();
  };

  App.prototype.fillPop = function (k) {
    var self = this, ref = this.chipRef(k), sc = ref.sc, g = ref.g, pop = clear(this.pop);
    this.popChip = k;
    var a = sc.groups[g], b = sc.groups[g + 1];
    var close = button("\u00d7", "tp-pop-close", "Close");
    close.addEventListener("click", function () { self.unpin(); self.hidePop(); });
    var where = (sc === this.tr.prompt ? (this.tr.gen.n ? "prompt" : "scored") : "generated") +
      " \u00b7 " + (b - a === 1 ? "step " + (a + 1) : "steps " + (a + 1) + "\u2013" + b) + " of " + sc.n;
    pop.appendChild(el("div", "tp-pop-head", [el("span", "tp-pop-tok", tokenNode(sc.gText[g])),
      el("span", "tp-pop-where", where), close]));
    if (b - a > 1) {
      pop.appendChild(el("p", "tp-pop-glyph", ["One glyph made of " + (b - a) +
        " byte-fragment tokens; its probability is the product: ", el("b", "num", fmtPct(Math.exp(sc.gLp[g]))),
        isNaN(sc.gLp[g]) ? "" : " (logprob " + fmtNum(sc.gLp[g], 3) + ")"]));
    }
    for (var s = a; s < b; s++) pop.appendChild(this.stepDetail(sc, s, b - a > 1));
    if (this.pickable(sc)) pop.appendChild(el("p", "tp-pick-hint", this.opts.pickHint ||
      "Click the token to pin this, then click an alternative to continue from it."));
    pop.setAttribute("aria-label", "Token details");
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
    var lp = sc.lp[s], len = sc.topStart[s + 1] - sc.topStart[s];
    var view = len ? stepAtT(sc, s, T, tr.grid) : null;
    var pT = T === 1 ? Math.exp(lp) : chosenAtT(sc, s, T, tr.grid);
    var stats = el("dl", "tp-stats");
    function stat(k, v, cls) { stats.appendChild(el("div", "tp-stat" + (cls ? " " + cls : ""), [el("dt", null, k), el("dd", "num", v)])); }
    stat(T === 1 ? "probability" : "probability at T " + T.toFixed(2), fmtPct(pT), "tp-stat-p");
    if (T !== 1 && !isNaN(lp)) stat("recorded (T 1)", fmtPct(Math.exp(lp)));
    stat("logprob", fmtNum(lp, 3));
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
    box.appendChild(this.bars(sc, s, view, T));
    return box;
  };

  // Candidate bars: the live probability at T, and a faint mark at the recorded one.
  App.prototype.bars = function (sc, s, view, T) {
    var tr = this.tr, list = el("ol", "tp-bars");
    var chosen = sc.chosen[s], a = sc.topStart[s], b = sc.topStart[s + 1];
    var pos = {};
    view.listed.forEach(function (j, i) { pos[j] = i; });
    for (var j = a; j < b; j++) {
      var lp = sc.topLp[j], has = pos[j] !== undefined, p = has ? view.probs[pos[j]] : NaN;
      var isChosen = chosen === j - a;
      var row = el("li", "tp-bar-row" + (isChosen ? " chosen" : ""));
      row.setAttribute("data-p", has ? String(p) : "");
      row.setAttribute("data-token", tr.vocab.labels[sc.topTok[j]]);
      var fill = el("span", "tp-bar-fill");
      fill.style.width = (has ? Math.max(0.5, 100 * p) : 0) + "%";
      var track = el("span", "tp-bar-track", [fill]);
      if (T !== 1 && !isNaN(lp)) {
        var ghost = el("span", "tp-bar-ghost");
        ghost.style.left = Math.min(100, 100 * Math.exp(lp)) + "%";
        track.appendChild(ghost);
      }
      append(row, [
        el("span", "tp-bar-mark", isChosen ? "\u25b8" : ""),
        el("span", "tp-bar-label", tokenNode(tr.vocab.labels[sc.topTok[j]]))]);
      if (has) append(row, [track, el("span", "tp-bar-pct num", fmtPct(p)), el("span", "tp-bar-lp num", fmtNum(lp, 2))]);
      else append(row, el("span", "tp-bar-pct tp-bar-nr", NR));
      if (isChosen) row.title = "the chosen token";
      else if (this.pickable(sc)) this.makePickable(row, s, j - a, tr.vocab.labels[sc.topTok[j]]);
      list.appendChild(row);
    }
    var foot = el("div", "tp-bars-foot");
    if (chosen < 0 && !isNaN(sc.lp[s])) {
      var pc = T === 1 ? Math.exp(sc.lp[s]) : chosenAtT(sc, s, T, tr.grid);
      foot.appendChild(el("div", "tp-bar-row chosen tp-unlisted", [el("span", "tp-bar-mark", "\u25b8"),
        el("span", "tp-bar-label", tokenNode(tr.vocab.labels[sc.tok[s]])),
        el("span", "tp-bar-track tp-unlisted-note", "chosen, not in the list"),
        el("span", "tp-bar-pct num", fmtPct(pc)), el("span", "tp-bar-lp num", fmtNum(sc.lp[s], 2))]));
    }
    var acc = view.accuracy, n = view.listed.length, tailTxt = fmtPct(view.tail), label;
    if (view.tail === null) label = "tail mass " + NR;
    else if (T === 1) label = "everything else " + tailTxt;
    else if (acc === "approximate" && !(tr.grid && sc.tailN[s] > 0))
      label = "approximate over the top-" + n + "; tail " + tailTxt;
    else if (acc === "approximate") label = "approximate (outside the stored temperatures); tail " + tailTxt;
    else label = acc + " over the whole vocabulary; tail " + tailTxt;
    var accEl = el("div", "tp-acc acc-" + acc, label);
    accEl.setAttribute("data-tail", view.tail === null ? "" : String(view.tail));
    foot.appendChild(accEl);
    return el("div", "tp-bars-wrap", [list, foot]);
  };

  App.prototype.placePop = function () {
    var c = this.chips[this.popChip];
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

  // ---------------------------------------------------------------- summary and chart

  App.prototype.buildSummary = function (side) {
    var self = this, tr = this.tr, s = tr.summary;
    var box = el("section", "tp-card tp-summary");
    box.appendChild(el("h2", "tp-card-title", this.opts.summaryTitle || (tr.main === tr.gen ? "Summary" : "Summary of the scored text")));
    if (!s) { box.appendChild(el("p", "tp-none", "Summary " + NR + ".")); side.appendChild(box); return; }
    var dl = el("dl", "tp-metrics");
    function metric(k, v, hint) {
      var d = el("div", "tp-metric", [el("dt", null, k), el("dd", "num", v)]);
      if (hint) d.title = hint;
      dl.appendChild(d);
    }
    metric("tokens", String(s.tokens), s.missing ? s.missing + " without a logprob, excluded from every figure" : null);
    metric("total logprob", fmtNum(s.total_logprob, 2), "sum of the chosen tokens' logprobs (nats)");
    metric("mean logprob", fmtNum(s.mean_logprob, 3));
    metric("mean probability", fmtPct(s.mean_prob), "geometric mean: exp(mean logprob)");
    metric("perplexity", fmtNum(s.perplexity, 2), "exp(\u2212mean logprob)");
    var ent = s.mean_entropy === null ? NR : (s.entropy_exact ? "" : "\u2265 ") + fmtNum(s.mean_entropy, 2) + " nats";
    metric("mean entropy", ent, s.entropy_exact ? "nats, over the full vocabulary" : "nats; a lower bound: some entropies cover only the top-N");
    metric("top-1 share", fmtPct(s.top1_share), "how often the chosen token was the most likely one");
    box.appendChild(dl);
    if (s.missing) box.appendChild(el("p", "tp-foot", plural(s.missing, "token", "tokens") + " without a logprob (not reported) excluded from these figures."));
    side.appendChild(box);

    var least = el("section", "tp-card tp-least");
    least.appendChild(el("h2", "tp-card-title", "Least confident tokens"));
    var ol = el("ol", "tp-least-list");
    (s.least || []).forEach(function (i) {
      var sc = tr.main;
      if (i >= sc.n) return;
      // A byte fragment is named by the glyph it belongs to.
      var g = sc.stepGroup[i], frag = sc.groups[g + 1] - sc.groups[g] > 1;
      var b = button([el("span", "tp-least-tok", [tokenNode(sc.gText[g]),
        frag ? el("span", "tp-least-frag", " byte " + (i - sc.groups[g] + 1) + " of " + (sc.groups[g + 1] - sc.groups[g])) : null]),
        el("span", "tp-least-p num", fmtPct(Math.exp(sc.lp[i]))), el("span", "tp-least-i", "#" + (i + 1))], "tp-least-btn");
      // The jump pins the token's detail; this click must not reach the document's
      // "click elsewhere unpins" handler.
      b.addEventListener("click", function (e) { e.stopPropagation(); self.jumpTo(sc, i); });
      ol.appendChild(el("li", null, b));
    });
    if (!ol.firstChild) least.appendChild(el("p", "tp-none", "No token has a reported logprob."));
    else least.appendChild(ol);
    side.appendChild(least);
  };

  // Probability (area) and entropy (line) along the text, averaged into at most 400 buckets.
  App.prototype.buildChart = function (target) {
    var self = this, sc = this.tr.main, box = clear(target), n = sc.n;
    if (!n) { box.hidden = true; return; }
    var W = 1000, H = 84, B = Math.min(n, 400), pSum = new Float64Array(B), pCnt = new Float64Array(B),
        hSum = new Float64Array(B), hCnt = new Float64Array(B), i, maxH = 0;
    for (i = 0; i < n; i++) {
      var k = Math.floor(i * B / n);
      if (!isNaN(sc.lp[i])) { pSum[k] += Math.exp(sc.lp[i]); pCnt[k]++; }
      if (!isNaN(sc.H[i])) { hSum[k] += sc.H[i]; hCnt[k]++; if (sc.H[i] > maxH) maxH = sc.H[i]; }
    }
    var hTop = Math.max(1, Math.ceil(maxH));
    function x(k) { return B === 1 ? W / 2 : k / (B - 1) * W; }
    var area = "", line = "", started = false, hStarted = false;
    for (k = 0; k < B; k++) {
      if (pCnt[k]) {
        var y = H - (pSum[k] / pCnt[k]) * (H - 4) - 2;
        area += (started ? "L" : "M") + x(k).toFixed(1) + " " + y.toFixed(1);
        started = true;
      }
      if (hCnt[k]) {
        var yh = H - (hSum[k] / hCnt[k]) / hTop * (H - 4) - 2;
        line += (hStarted ? "L" : "M") + x(k).toFixed(1) + " " + yh.toFixed(1);
        hStarted = true;
      }
    }
    var s = svg("svg", { viewBox: "0 0 " + W + " " + H, preserveAspectRatio: "none", class: "tp-chart-svg",
      role: "img", "aria-label": "Probability and entropy along the text" });
    [0.25, 0.5, 0.75].forEach(function (f) {
      s.appendChild(svg("line", { x1: 0, x2: W, y1: H - f * (H - 4) - 2, y2: H - f * (H - 4) - 2, class: "grid" }));
    });
    if (area) {
      var first = area.slice(1).split(" ")[0];
      s.appendChild(svg("path", { d: area + "L" + x(B - 1).toFixed(1) + " " + H + "L" + first + " " + H + "Z", class: "p-area" }));
      s.appendChild(svg("path", { d: area, class: "p-line" }));
    }
    if (line) s.appendChild(svg("path", { d: line, class: "h-line" }));
    var cursor = svg("line", { x1: 0, x2: 0, y1: 0, y2: H, class: "cursor" });
    cursor.style.display = "none";
    s.appendChild(cursor);
    var tip = el("div", "tp-chart-tip");
    tip.hidden = true;
    var head = el("div", "tp-chart-head", [
      el("span", "tp-chart-title", "Along the text"),
      el("span", "tp-key", [el("span", "sw-line p"), "probability (0\u2013100%)"]),
      el("span", "tp-key", [el("span", "sw-line h"), "entropy (0\u2013" + hTop + " nats)"]),
      el("span", "tp-chart-hint", "click to jump")]);
    var plot = el("div", "tp-chart-plot", [s, tip]);
    append(box, [head, plot]);
    function stepAt(e) {
      var r = plot.getBoundingClientRect();
      var f = Math.min(1, Math.max(0, (e.clientX - r.left) / r.width));
      return { step: Math.min(n - 1, Math.round(f * (n - 1))), f: f, r: r };
    }
    plot.addEventListener("mousemove", function (e) {
      var at = stepAt(e), st = at.step;
      cursor.setAttribute("x1", at.f * W); cursor.setAttribute("x2", at.f * W);
      cursor.style.display = "";
      clear(tip);
      append(tip, [el("b", null, "#" + (st + 1) + " "), tokenNode(sc.gText[sc.stepGroup[st]]),
        el("span", "num", " " + fmtPct(Math.exp(sc.lp[st])) + " \u00b7 H " + fmtNum(sc.H[st], 2))]);
      tip.hidden = false;
      tip.style.left = Math.min(at.r.width - 180, Math.max(0, e.clientX - at.r.left + 10)) + "px";
    });
    plot.addEventListener("mouseleave", function () { cursor.style.display = "none"; tip.hidden = true; });
    plot.addEventListener("click", function (e) { e.stopPropagation(); self.jumpTo(sc, stepAt(e).step); });
  };

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
    append(sv, [el("div", "tp-card tp-step-card", [controls,
      el("div", "tp-section-label", "Context the model saw"), this.ctxEl,
      el("div", "tp-step-body", [el("div", "tp-step-left", [el("div", "tp-section-label", "Candidates for the next token"),
        this.candEl]), this.chosenEl])])]);
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
    var tail = [];
    for (s = sc.groups[g]; s < i; s++) tail.push(tr.vocab.labels[sc.tok[s]]);
    for (var h = g - 1; h >= 0 && len < LIMIT; h--) { parts.push(sc.gText[h]); len += sc.gText[h].length; }
    parts.reverse();
    var text = parts.join("") + tail.join(""), cut = false;
    if (sc === tr.gen && len < LIMIT) {
      var pre = tr.prompt.n ? tr.prompt.gText.join("") : (tr.request.prompt ? String(tr.request.prompt) : "");
      text = pre + text;
    }
    if (text.length > LIMIT) { text = text.slice(text.length - LIMIT); cut = true; }
    return { text: text, cut: cut };
  };

  App.prototype.renderStep = function () {
    var tr = this.tr;
    if (!tr || !this.ctxEl) return;
    var sc = tr.main, i = this.stepI;
    this.stepRange.value = String(i);
    this.stepCounter.textContent = "step " + (i + 1) + " of " + sc.n;
    var ctx = this.contextBefore(sc, i), box = clear(this.ctxEl);
    if (ctx.cut) box.appendChild(el("span", "tp-ctx-cut", "\u2026"));
    box.appendChild(document.createTextNode(ctx.text));
    box.appendChild(el("span", "tp-caret", "\u2588"));
    box.scrollTop = box.scrollHeight;
    var len = sc.topStart[i + 1] - sc.topStart[i];
    clear(this.candEl);
    if (len) this.candEl.appendChild(this.bars(sc, i, stepAtT(sc, i, this.T, tr.grid), this.T));
    else this.candEl.appendChild(el("p", "tp-none", "Alternatives " + NR + "."));
    var ch = clear(this.chosenEl);
    var pT = this.T === 1 ? Math.exp(sc.lp[i]) : chosenAtT(sc, i, this.T, tr.grid);
    var r = sc.rank[i];
    append(ch, [el("div", "tp-section-label", "Chosen"), el("div", "tp-chosen-tok", tokenNode(tr.vocab.labels[sc.tok[i]])),
      el("dl", "tp-stats", [
        el("div", "tp-stat", [el("dt", null, this.T === 1 ? "probability" : "probability at T " + this.T.toFixed(2)), el("dd", "num", fmtPct(pT))]),
        el("div", "tp-stat", [el("dt", null, "logprob"), el("dd", "num", fmtNum(sc.lp[i], 3))]),
        el("div", "tp-stat", [el("dt", null, "rank"), el("dd", "num", isNaN(sc.lp[i]) || !len ? NR : r ? String(r) : "not in the top " + len)]),
        el("div", "tp-stat", [el("dt", null, "entropy"), el("dd", "num", isNaN(sc.H[i]) ? NR : (sc.Hx[i] ? "" : "\u2265 ") + fmtNum(sc.H[i], 2) + " nats")])
      ])]);
  };

  // ---------------------------------------------------------------- live and hosted use

  // The same trace with more steps (a LiveDoc's doc): chips are added for the new glyphs
  // only; the last old glyph is rebuilt, since a byte fragment may have completed it.
  App.prototype.update = function (doc) {
    this.traces[this.current] = doc;
    var old = this.tr;
    if (!old || !this.genText || schemaProblem(doc)) { this.show(this.current); return; }
    var tr = loadTrace(doc), sc = tr.gen, osc = old.gen;
    tr.prompt = old.prompt;
    tr.main = sc.n ? sc : tr.prompt;
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
    var chart = el("div", "tp-chart");
    host.appendChild(chart);
    this.buildChart(chart);
    this.buildSummary(host);
    host.appendChild(fillLegend(el("div", "tp-legend tp-panel-legend"), this.measure));
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

  // A trace being made: starts from the server's encoding of the empty trace and appends
  // each batch of steps (encode.LiveEncoder: new vocabulary entries and step columns).
  var PER_STEP = { tok: 0, lp: null, slp: null, rank: null, chosen: -1, H: null, Hx: 0, top_n: 0, tail_n: 0, forced: 0 };
  var FLAT = ["top_tok", "top_lp", "tail"];
  function LiveDoc(head) {
    var doc = {};
    for (var k in head) if (Object.prototype.hasOwnProperty.call(head, k)) doc[k] = head[k];
    var cols = { n: 0 };
    Object.keys(PER_STEP).concat(FLAT).forEach(function (c) { cols[c] = []; });
    doc.steps = cols;
    doc.vocab = [];
    doc.vocab_bytes = [];
    this.doc = doc;
  }
  LiveDoc.prototype.add = function (batch) {
    var doc = this.doc, cols = doc.steps, c = batch.steps, n = c.n, k, i;
    (batch.vocab || []).forEach(function (v) {
      doc.vocab[v[0]] = v[1];
      if (v.length > 2) doc.vocab_bytes.push([v[0], v[2]]);
    });
    for (k in PER_STEP) {
      var given = c[k];
      for (i = 0; i < n; i++) cols[k].push(given ? given[i] : PER_STEP[k]);
    }
    FLAT.forEach(function (f) { if (c[f]) Array.prototype.push.apply(cols[f], c[f]); });
    cols.n += n;
    if (batch.trace) for (k in batch.trace) doc[k] = batch.trace[k];
    return doc;
  };
  LiveDoc.prototype.setSummary = function (summary) { this.doc.summary = summary; return this.doc; };

  // Mount a viewer on `root` for `page` ({traces: [...]}, or one trace) with `opts`.
  function mount(root, page, opts) {
    if (page && !page.traces) page = { format: PAGE_FORMAT, title: null, traces: [page] };
    var app = new App(root, page, opts);
    app.start();
    return app;
  }

  // Pages of operations (a comparison, a choice, a sweep, a branch tree) are drawn by page
  // views that other files register here: {match(page), render(root, page)}; boot() gives
  // the page to the first that matches, and to the plain viewer when none does.
  var pageViews = [];

  window.TokenprobeViewer = {
    mount: mount, LiveDoc: LiveDoc, PAGE_FORMAT: PAGE_FORMAT, SCHEMA: SCHEMA,
    format: { pct: fmtPct, num: fmtNum, plural: plural, tokenNode: tokenNode, el: el },
    dom: { el: el, append: append, attrs: attrs, button: button, svg: svg, clear: clear },
    theme: {
      current: currentTheme,
      set: function (v) { document.documentElement.setAttribute("data-theme", v); storeTheme(v); },
      restore: function () {
        var t = storedTheme();
        if (t === "light" || t === "dark") document.documentElement.setAttribute("data-theme", t);
      }
    },
    schemaProblem: schemaProblem,
    // The trace model (columns as typed arrays, glyph groups) for page views that draw
    // numbers of a trace outside a mounted viewer.
    loadTrace: loadTrace,
    pageViews: pageViews
  };

  // ------------------------------------------------------------------------------------
  // Boot: any failure becomes a message on the page, never a blank page.

  function boot() {
    var root = document.getElementById("tp-app");
    // A page that mounts viewers itself (the web app) embeds no data.
    if (!root || !document.getElementById("tp-data")) return;
    function fail(text) {
      clear(root);
      root.appendChild(el("p", "tp-message tp-error", text));
      document.documentElement.setAttribute("data-tp-ready", "error");
    }
    var page;
    try {
      page = JSON.parse(document.getElementById("tp-data").textContent);
      if (window.performance && performance.mark) performance.mark("tokenprobe-parsed");
    } catch (e) { fail("The embedded trace could not be read: " + e.message); return; }
    if (!page || page.format !== PAGE_FORMAT) {
      fail("This page holds data in format " + JSON.stringify(page && page.format) +
        ", which this viewer does not read (it reads " + PAGE_FORMAT + ").");
      return;
    }
    try {
      for (var i = 0; i < pageViews.length; i++) {
        if (pageViews[i].match(page)) {
          window.tokenprobeViewer = pageViews[i].render(root, page);
          return;
        }
      }
      var app = new App(root, page);
      app.start();
      window.tokenprobeViewer = app;
    } catch (e) { fail("The viewer failed: " + (e && e.message ? e.message : String(e))); }
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", boot);
  else boot();
})();
