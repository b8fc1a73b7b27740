/* tokenprobe viewer: the summary card and the chart along the text.
 * (One of the viewer's files, loaded in the order of views/html.py's SCRIPTS; they share
 * their parts through the TokenprobeParts namespace. See docs/architecture.md.) */
(function (root) {
  "use strict";
  var P = root.TokenprobeParts = root.TokenprobeParts || {};
  var NR = P.NR, fmtNum = P.fmtNum, fmtPct = P.fmtPct, plural = P.plural,
    summaryPerToken = P.summaryPerToken, summaryWhole = P.summaryWhole, append = P.append,
    button = P.button, clear = P.clear, el = P.el, svg = P.svg, tokenNode = P.tokenNode,
    App = P.App, glyphNode = P.glyphNode;

  // ---------------------------------------------------------------- summary and chart

  App.prototype.buildSummary = function (side) {
    var self = this, tr = this.tr, s = tr.summary;
    var box = el("section", "tp-card tp-summary");
    var title = this.opts.summaryTitle || (tr.main === tr.gen ? "Summary" : "Summary of the scored text");
    if (!this.opts.live && (tr.doc.complete === false || tr.doc.error)) title += " (incomplete)";
    box.appendChild(el("h2", "tp-card-title", title));
    if (this.opts.live && !tr.main.n) { box.appendChild(el("p", "tp-none tp-waiting", "The figures follow the first token.")); side.appendChild(box); return; }
    if (!s) { box.appendChild(el("p", "tp-none", "Summary " + NR + ".")); side.appendChild(box); return; }
    var dl = el("dl", "tp-metrics");
    function metric(k, v, hint, wide) {
      // A wide figure's clauses ("geometric mean …, arithmetic mean …") wrap between them.
      if (wide) v = v.split(", ").reduce(function (out, part, i, all) {
        return out.concat([el("span", "tp-clause", part + (i < all.length - 1 ? "," : "")), i < all.length - 1 ? " " : null]);
      }, []);
      var d = el("div", "tp-metric" + (wide ? " tp-metric-wide" : ""), [el("dt", null, k), el("dd", "num", v)]);
      if (hint) d.title = hint;
      dl.appendChild(d);
    }
    var whole = tr.main === tr.gen ? "answer" : "text";
    metric("tokens", String(s.tokens), "tokens of the " + whole + "; control tokens the engine added (such as <bos>) are not counted");
    metric("total logprob", fmtNum(s.total_logprob, 2), "sum of the chosen tokens' logprobs (nats)");
    metric("mean logprob", fmtNum(s.mean_logprob, 3));
    metric("perplexity", fmtNum(s.perplexity, 2), "exp(\u2212mean logprob)");
    metric("per-token probability", summaryPerToken(s),
      "geometric mean: exp(mean logprob) = 1 / perplexity; arithmetic mean: the mean of the tokens' probabilities", true);
    metric("probability of the whole " + whole, summaryWhole(s), "exp(total logprob): the product of the tokens' probabilities", true);
    var ent = s.mean_entropy === null ? NR : (s.entropy_exact ? "" : "\u2265 ") + fmtNum(s.mean_entropy, 2) + " nats";
    metric("mean entropy", ent, s.entropy_exact ? "nats, over the full vocabulary" : "nats; a lower bound: some entropies cover only the top-N");
    metric("top-1 share", fmtPct(s.top1_share), "how often the chosen token was the most likely one");
    box.appendChild(dl);
    var foot = [], doc = tr.doc;
    // A trace that ended early (an error, a stop): the figures are those of what came.
    if (!this.opts.live && (doc.complete === false || doc.error)) {
      box.classList.add("tp-incomplete");
      foot.push("Incomplete: these figures cover the " + plural(s.tokens, "token", "tokens") + " received before it " +
        (doc.error ? "stopped (" + String(doc.error).replace(/\.$/, "") + ")." : "stopped."));
    }
    if (s.missing) foot.push(plural(s.missing, "token", "tokens") + " without a logprob (not reported) excluded from these figures.");
    if (s.no_context_first) foot.push("First token: no context (nothing came before it to predict it from), so it has no logprob and is not counted.");
    if (foot.length) box.appendChild(el("p", "tp-foot", foot.join(" ")));
    side.appendChild(box);

    var least = el("section", "tp-card tp-least");
    least.appendChild(el("h2", "tp-card-title", "Least confident tokens"));
    var ol = el("ol", "tp-least-list");
    (s.least || []).forEach(function (i) {
      var sc = tr.main;
      if (i >= sc.n) return;
      // A byte fragment is named by the glyph it belongs to.
      var b = button([el("span", "tp-least-tok", glyphNode(sc, i)),
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
      el("span", "tp-key", [el("span", "sw-line p"), "probability as recorded (0\u2013100%)"]),
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
        el("span", "num", " " + (isNaN(sc.lp[st]) ? self.noLogprob(sc, st) : fmtPct(Math.exp(sc.lp[st]))) +
          " \u00b7 H " + fmtNum(sc.H[st], 2))]);
      tip.hidden = false;
      tip.style.left = Math.min(at.r.width - 180, Math.max(0, e.clientX - at.r.left + 10)) + "px";
    });
    plot.addEventListener("mouseleave", function () { cursor.style.display = "none"; tip.hidden = true; });
    plot.addEventListener("click", function (e) { e.stopPropagation(); self.jumpTo(sc, stepAt(e).step); });
  };

})(typeof window !== "undefined" ? window : globalThis);
