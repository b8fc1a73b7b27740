/* tokenprobe viewer: number formats: percentages, bounds as ranges, tiny probabilities, the
 * summary's figures in words. Missing values are spelled out, never drawn as 0.
 * (One of the viewer's files, loaded in the order of views/html.py's SCRIPTS; they share
 * their parts through the TokenprobeParts namespace. See docs/architecture.md.) */
(function (root) {
  "use strict";
  var P = root.TokenprobeParts = root.TokenprobeParts || {};

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
  // A probability known only by its bounds: "62.0–71.3%" (a point when they meet).
  function fmtRange(lo, hi) {
    if (lo === null || lo === undefined || isNaN(lo) || hi === null || hi === undefined || isNaN(hi)) return NR;
    var a = fmtPct(lo), b = fmtPct(hi);
    if (a === b) return a;
    var plain = /^[0-9.]+%$/;
    return plain.test(a) && plain.test(b) ? a.slice(0, -1) + "\u2013" + b : a + " \u2013 " + b;
  }
  // A probability that may be far too small for a percentage (the whole answer's): from
  // its natural log, so that it is written even where exp() underflows to 0.
  function fmtSmallProb(logp) {
    if (logp === null || logp === undefined || isNaN(logp)) return NR;
    var p = Math.exp(logp);
    if (p >= 0.001) return fmtPct(p);
    var l10 = logp / Math.LN10, e = Math.floor(l10), m = Math.pow(10, l10 - e);
    if (m >= 9.95) { m = 1; e += 1; }
    return m.toFixed(1) + "e" + e; // 3.2e-45, as the terminal writes it
  }
  function plural(n, one, many) { return n + " " + (n === 1 ? one : many); }



  // The summary's probability figures in words (metrics.Summary's names). An older summary
  // without the geometric mean's own field still has mean_logprob, whose exp() it is.
  function summaryPerToken(s) {
    var g = s.geometric_mean_prob;
    if (g === undefined && typeof s.mean_logprob === "number") g = Math.exp(s.mean_logprob);
    if (g === null || g === undefined) return NR;
    return "geometric mean " + fmtPct(g) + ", arithmetic mean " + fmtPct(s.arithmetic_mean_prob);
  }
  function summaryWhole(s) {
    if (typeof s.sequence_prob === "number" && s.sequence_prob >= 0.001) return fmtPct(s.sequence_prob);
    return fmtSmallProb(s.total_logprob);
  }

  P.NR = NR; P.minus = minus; P.fmtNum = fmtNum; P.fmtPct = fmtPct; P.fmtRange = fmtRange;
  P.fmtSmallProb = fmtSmallProb; P.plural = plural; P.summaryPerToken = summaryPerToken;
  P.summaryWhole = summaryWhole;
  // In node (the tests), the same parts as a module.
  if (typeof module === "object" && module.exports) module.exports = P;
})(typeof window !== "undefined" ? window : globalThis);
