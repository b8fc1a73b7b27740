/* tokenprobe viewer: the trace model: the page encoding's columns as typed arrays (NaN for
 * "not reported"), glyph groups per scope, rank buckets, the colourings' bands, and LiveDoc, a
 * trace being made from the server's live batches.
 * (One of the viewer's files, loaded in the order of views/html.py's SCRIPTS; they share
 * their parts through the TokenprobeParts namespace. See docs/architecture.md.) */
(function (root) {
  "use strict";
  var P = root.TokenprobeParts = root.TokenprobeParts || {};
  // In node (the tests) this file is required alone: the parts it builds on come first.
  if (typeof module === "object" && module.exports && !P.glyphGroups) {
    require("./viewer-format.js"); require("./viewer-math.js"); require("./viewer-bytes.js");
  }
  var NR = P.NR, LN2 = P.LN2, makeGrid = P.makeGrid, WS_RE = P.WS_RE, decodeLabel = P.decodeLabel,
    glyphGroups = P.glyphGroups;

  var SCHEMA = "tokenprobe/trace@1";
  var SCHEMA_PREFIX = "tokenprobe/trace@";
  var PAGE_FORMAT = "tokenprobe/page@1";

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
      forced: c.forced || null, special: c.special || null,
      // A server's logits (logprobs_kind "logits"): shown as logits, never as probabilities.
      lg: c.lg ? numCol(c.lg, n) : null, topLg: c.top_lg ? numCol(c.top_lg, topStart[n]) : null
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
  // unknown (no list or no logprob).
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
      vocabSize: typeof doc.vocab_size === "number" ? doc.vocab_size : null,
      prompt: loadScope(doc.prompt_steps, vocab),
      gen: loadScope(doc.steps, vocab),
      summary: doc.summary || null
    };
    // A scored text's steps are its prompt's; a trace with none at all is an answer (one
    // still waiting for its first token), never a scored text.
    tr.main = tr.gen.n || !tr.prompt.n ? tr.gen : tr.prompt;
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

  // A trace being made: starts from the server's encoding of the empty trace and appends
  // each batch of steps (encode.LiveEncoder: new vocabulary entries and step columns).
  var PER_STEP = { tok: 0, lp: null, slp: null, rank: null, chosen: -1, H: null, Hx: 0, top_n: 0, tail_n: 0, forced: 0, special: 0 };
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
    // Logits only where the server reported them (their presence marks a logits trace).
    if (c.lg || cols.lg) {
      if (!cols.lg) cols.lg = new Array(cols.n).fill(null);
      for (i = 0; i < n; i++) cols.lg.push(c.lg ? c.lg[i] : null);
      var m = (c.top_tok || []).length;
      if (!cols.top_lg) cols.top_lg = new Array(cols.top_tok.length - m).fill(null);
      for (i = 0; i < m; i++) cols.top_lg.push(c.top_lg ? c.top_lg[i] : null);
    }
    cols.n += n;
    if (batch.trace) for (k in batch.trace) doc[k] = batch.trace[k];
    return doc;
  };
  LiveDoc.prototype.setSummary = function (summary) { this.doc.summary = summary; return this.doc; };
  // A reasoning model's thinking tokens as they arrive (the `thinking` event: the same
  // encoding and vocabulary as the answer's), appended to `reasoning.steps` by `add`
  // itself; `reset` drops what was shown as thinking (it follows as the answer's).
  LiveDoc.prototype.addThinking = function (batch) {
    var doc = this.doc;
    if (batch.reset) doc.reasoning = null;
    if (!doc.reasoning) {
      var cols = { n: 0 };
      Object.keys(PER_STEP).concat(FLAT).forEach(function (c) { cols[c] = []; });
      doc.reasoning = { text: "", source: batch.source || null, logprobs_for: [], text_steps: null,
        steps: cols, summary: null, live: true };
    }
    var answer = doc.steps;
    doc.steps = doc.reasoning.steps;
    try { this.add({ vocab: batch.vocab, steps: batch.steps, trace: batch.trace }); } finally { doc.steps = answer; }
    if (!doc.reasoning.steps.n && batch.reset) doc.reasoning = null;
    return doc;
  };


  P.SCHEMA = SCHEMA; P.SCHEMA_PREFIX = SCHEMA_PREFIX; P.PAGE_FORMAT = PAGE_FORMAT; P.Q = Q;
  P.numCol = numCol; P.undelta = undelta; P.prefix = prefix; P.loadScope = loadScope;
  P.RANK_LABELS = RANK_LABELS; P.rankBucket = rankBucket; P.loadTrace = loadTrace;
  P.schemaProblem = schemaProblem; P.MEASURES = MEASURES; P.probBand = probBand;
  P.surpBand = surpBand; P.entBand = entBand; P.rankBand = rankBand; P.PER_STEP = PER_STEP;
  P.FLAT = FLAT; P.LiveDoc = LiveDoc;
  // In node (the tests), the same parts as a module.
  if (typeof module === "object" && module.exports) module.exports = P;
})(typeof window !== "undefined" ? window : globalThis);
