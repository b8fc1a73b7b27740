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

  // ---- What is known of a step at β = 1/T (renormalise.step_weights, term for term) ----
  // Weights p^β of the listed candidates, scaled so the top listed one weighs 1; `wOut` the
  // chosen token's when it is outside the list; the other unlisted tokens' weights sum to
  // between sLow and sHigh (equal with a tail summary), each at most uMax, at most `count`
  // of them (null: V unknown). Without a tail summary only the listed probabilities and the
  // unlisted mass M are known: every unlisted token is at most as likely as the least
  // likely listed one (the cap c), so Σ p_j^β lies between the "concentrated" spread
  // (floor(M/c) tokens at c plus a remainder) and the "even" one (V − N tokens at M/(V − N));
  // with V unknown the even one is 0 (β > 1) or ∞ (β < 1). Values at T are then ranges.

  var LP_FLOOR = -700; // exp() of anything above is a normal double: no ratio divides by 0

  // log Σ exp(x), with log1p around the largest term (renormalise._lse).
  function lseLog1p(xs) {
    var i = 0, k;
    for (k = 1; k < xs.length; k++) if (xs[k] > xs[i]) i = k;
    var m = xs[i], rest = 0;
    for (k = 0; k < xs.length; k++) if (k !== i) rest += Math.exp(xs[k] - m);
    return m + Math.log1p(rest);
  }

  // Bounds [low, high] on Σ p_j^β over unlisted tokens (renormalise.tail_sum_bounds).
  function tailSumBounds(mass, cap, count, beta) {
    if (mass <= 0 || count === 0) return [0, 0];
    if (beta === 1) return [mass, mass];
    if (count !== null) mass = Math.min(mass, count * cap); // more than count × cap: rounding
    if (cap <= 0 || mass <= 0 || !isFinite(mass / cap)) return beta > 1 ? [0, 0] : [Infinity, Infinity];
    var nFull = Math.floor(mass / cap), rest = Math.max(mass - nFull * cap, 0);
    var conc = (nFull ? nFull * Math.exp(beta * Math.log(cap)) : 0) +
      (rest > 0 ? Math.exp(beta * Math.log(rest)) : 0);
    var even = count === null ? (beta > 1 ? 0 : Infinity)
      : Math.exp(beta * Math.log(mass) + (1 - beta) * Math.log(count));
    return beta > 1 ? [even, conc] : [conc, even];
  }

  // `listed`: indices into the scope's flat top arrays of the candidates with a logprob;
  // `chosenAt`: the chosen token's place in `listed` (-1: not listed). Null: nothing listed.
  function stepWeights(sc, s, beta, grid, V) {
    var a = sc.topStart[s], b = sc.topStart[s + 1], listed = [], lps = [], j;
    for (j = a; j < b; j++) if (!isNaN(sc.topLp[j])) { listed.push(j); lps.push(Math.max(sc.topLp[j], LP_FLOOR)); }
    if (!listed.length) return null;
    var topLp = Math.max.apply(null, lps), capLp = Math.min.apply(null, lps);
    var w = lps.map(function (lp) { return Math.exp(beta * (lp - topLp)); });
    var ci = sc.chosen[s], chosenAt = ci >= 0 ? listed.indexOf(a + ci) : -1;
    var outLp = !isNaN(sc.lp[s]) && chosenAt < 0 ? Math.max(sc.lp[s], LP_FLOOR) : null;
    var wOut = outLp !== null ? Math.exp(beta * (outLp - topLp)) : 0;
    var nKnown = listed.length + (outLp !== null ? 1 : 0);
    var count = V !== null && V !== undefined ? Math.max(V - nKnown, 0) : null;
    var wt = { listed: listed, chosenAt: chosenAt, w: w, wOut: wOut, uMax: Math.exp(beta * (capLp - topLp)),
      count: count, logScale: beta * topLp };
    if (grid && sc.tailN[s] > 0) {
      // The summary covers every token outside `top`, the chosen one among them.
      var r = tailLseAt(1 / beta, grid, sc.tail, sc.tailStart[s]);
      wt.sLow = wt.sHigh = Math.max(Math.exp(r[0] - wt.logScale) - wOut, 0);
      wt.accuracy = r[1];
      wt.basis = "summary";
      return wt;
    }
    // The unlisted mass as −expm1(log Σ known p), which keeps its last digits when the list
    // holds nearly everything; cap and mass scaled by the top p, as the weights are.
    var known = outLp !== null ? lps.concat([outLp]) : lps;
    var mass = Math.max(-Math.expm1(lseLog1p(known)), 0);
    var scale = Math.exp(-topLp), cap = Math.exp(capLp - topLp);
    if (beta === 1) {
      var sb = tailSumBounds(mass * scale, cap, count, beta);
      wt.sLow = sb[0]; wt.sHigh = sb[1];
    } else {
      // The mass is known to the rounding of the sum it comes from; away from T = 1 a
      // rounding-sized mass spread over many tokens still weighs, so the bounds take the
      // mass within that rounding.
      var slack = 4 * (known.length + 1) * Math.pow(2, -52);
      wt.sLow = tailSumBounds(Math.max(mass - slack, 0) * scale, cap, count, beta)[0];
      wt.sHigh = tailSumBounds((mass + slack) * scale, cap, count, beta)[1];
    }
    // As close as rounding (the top listed weighs 1): no value moves visibly.
    if (wt.sHigh - wt.sLow <= 1e-12) wt.sLow = wt.sHigh = (wt.sLow + wt.sHigh) / 2;
    wt.accuracy = wt.sLow === wt.sHigh ? "exact" : "bounded";
    wt.basis = "listed";
    return wt;
  }

  // A view of a step at T, as the pages use it: {T, listed, low, high (each candidate's
  // probability; equal when known), tailLow, tailHigh (everything outside the list, the
  // chosen token included when it is not listed), chosenLow, chosenHigh, accuracy ("exact",
  // "interpolated", "approximate", "bounded"), basis ("summary", "listed", "reported"),
  // logZ (tail summary only), vocabKnown, reason} (renormalise.TemperatureView).
  function makeView(T, wt, low, high, tailLow, tailHigh, accuracy, logZ, vocabKnown, basis) {
    return { T: T, listed: wt ? wt.listed : [], low: low, high: high, tailLow: tailLow, tailHigh: tailHigh,
      chosenLow: NaN, chosenHigh: NaN, accuracy: accuracy, logZ: logZ, vocabKnown: vocabKnown,
      basis: basis, reason: "" };
  }

  // Every listed candidate w_i / Z with Z = H + wOut + S, S anywhere in its bounds
  // (renormalise.normalised_view): the low ends take the largest S, the high ends the
  // smallest.
  function normalisedView(wt, T, vocabKnown) {
    var h = 0, i, v;
    for (i = 0; i < wt.w.length; i++) h += wt.w[i];
    h += wt.wOut;
    if (wt.sLow === wt.sHigh) {
      var z = h + wt.sLow, p = wt.w.map(function (x) { return x / z; }), tail = (wt.sLow + wt.wOut) / z;
      v = makeView(T, wt, p, p, tail, tail, wt.accuracy, wt.basis === "summary" ? wt.logScale + Math.log(z) : null,
        vocabKnown || wt.basis === "summary", wt.basis);
      v.chosenLow = v.chosenHigh = wt.chosenAt >= 0 ? p[wt.chosenAt] : wt.wOut > 0 ? wt.wOut / z : NaN;
      return v;
    }
    var zLow = h + wt.sLow, zHigh = h + wt.sHigh; // zHigh may be Infinity: x / Infinity is 0
    v = makeView(T, wt, wt.w.map(function (x) { return x / zHigh; }), wt.w.map(function (x) { return x / zLow; }),
      (wt.sLow + wt.wOut) / zLow, zHigh === Infinity ? 1 : (wt.sHigh + wt.wOut) / zHigh, "bounded", null,
      vocabKnown, wt.basis);
    if (wt.chosenAt >= 0) { v.chosenLow = v.low[wt.chosenAt]; v.chosenHigh = v.high[wt.chosenAt]; }
    else if (wt.wOut > 0) { v.chosenLow = wt.wOut / zHigh; v.chosenHigh = wt.wOut / zLow; }
    return v;
  }

  // A step's listed candidates at temperature T (renormalise.step_at_temperature). `V` is
  // the trace's vocabulary size (null when unknown).
  function stepAtT(sc, s, T, grid, V) {
    var vocabKnown = V !== null && V !== undefined, wt = stepWeights(sc, s, 1 / T, grid, V);
    if (wt === null) return makeView(T, null, [], [], null, null, "bounded", null, vocabKnown, "listed");
    return normalisedView(wt, T, vocabKnown);
  }

  // The chosen token's probability at T as [low, high] (NaN when not reported).
  function chosenAtT(sc, s, T, grid, V) {
    var lp = sc.lp[s];
    if (isNaN(lp)) return [NaN, NaN];
    if (T === 1) return [Math.exp(lp), Math.exp(lp)];
    var v = stepAtT(sc, s, T, grid, V);
    return [v.chosenLow, v.chosenHigh];
  }

  // One line saying how a view's values were made (renormalise.TemperatureView.note).
  function viewNote(v) {
    var n = v.listed.length;
    if (v.reason) return v.reason;
    if (v.basis === "reported") return "as the server reported them, after its samplers";
    if (v.basis === "listed") {
      if (v.accuracy === "exact") return v.T === 1 ? "as reported (T = 1)" : "exact: the top " + n + " reported leave nothing unknown";
      return "only the top " + n + " were reported, so away from T = 1 each value is a range over every " +
        "distribution consistent with them" + (v.vocabKnown ? "" : " (vocabulary size unknown: the widest ranges)");
    }
    if (v.accuracy === "exact") return "exact over the whole vocabulary";
    if (v.accuracy === "interpolated") return "over the whole vocabulary, the tail interpolated between stored temperatures";
    if (v.accuracy === "bounded") return "over the whole vocabulary; ranges where the kept tokens are not known";
    return "over the whole vocabulary, the tail extrapolated beyond stored temperatures";
  }

  // ---- The distribution a token was drawn from (sampled.step_sampled, term for term) ----
  // Temperature, then top-k, then top-p. The kept set is a prefix of the tokens by
  // probability (the top one always kept) and a kept token's sampled value is w_i / Q, Q the
  // kept weight: exact where the settings or the chosen token's sampled probability fix Q,
  // a range where they do not. sampled.py's docstring gives every rule.

  // A top-p cut, or a pinned kept mass, this close (relative) to a candidate is not taken
  // as known. Wider than sampled.py's 1e-9 and 1e-6: the page's logprobs are rounded to
  // 1e-4 nats, which moves a ratio of probabilities by up to 1e-4.
  var CUT_EDGE = 1e-4, PIN_EDGE = 1e-4;

  // Returns null for greedy decoding or an unknown temperature; the reported values as
  // they are for processed logprobs, never processed again.
  function sampledAtT(sc, s, req, grid, V, logprobsKind) {
    var T = req.temperature;
    if (typeof T !== "number" || T <= 0) return null;
    if (logprobsKind === "processed") return asReported(sc, s, T);
    var wt = stepWeights(sc, s, 1 / T, grid, V), vocabKnown = V !== null && V !== undefined;
    var k = req.top_k && req.top_k > 0 ? req.top_k : null;
    if (k !== null && vocabKnown && k >= V) k = null;
    var p = typeof req.top_p === "number" && req.top_p < 1 ? req.top_p : null;
    if (wt === null) return stepAtT(sc, s, T, grid, V);
    var order = wt.w.map(function (_, i) { return i; });
    order.sort(function (x, y) { return wt.w[y] - wt.w[x]; }); // stable: ties keep `top` order
    var chosen = wt.chosenAt >= 0 ? order.indexOf(wt.chosenAt) : null;
    var pin = pinnedQ(sc, s, wt, order, chosen);
    if (k === null && p === null && pin === null) return stepAtT(sc, s, T, grid, V);
    var kept = keptMass(wt, order, chosen, k, p);
    if (pin !== null) kept = pinnedMass(wt, order, kept, pin);
    var view = keptView(wt, order, kept, T, vocabKnown, pin !== null);
    if (wt.chosenAt < 0 && wt.wOut > 0) { view.chosenLow = wt.wOut / kept.qHigh; view.chosenHigh = wt.wOut / kept.qLow; }
    if (pin !== null) view.chosenLow = view.chosenHigh = Math.exp(sc.slp[s]);
    view.reason = keptReason(kept, wt, k, p, pin !== null);
    return view;
  }

  // The kept weight Q in [qLow, qHigh] and, by rank among the listed, which are surely kept
  // (< sure), possibly kept (< maybe) and dropped; the kept unlisted weight's bounds.
  function keptMass(wt, order, chosen, k, p) {
    var n = order.length, ws = order.map(function (i) { return wt.w[i]; }), prefix = [0], r;
    for (r = 0; r < n; r++) prefix.push(prefix[r] + ws[r]);
    var nK = k === null ? n : Math.min(k, n), hK = prefix[nK], uLow = 0, uHigh = 0;
    if (!(k !== null && k <= n)) { // the unlisted weight top-k keeps
      var hv = heaviest(wt, k === null ? null : k - n - (wt.wOut > 0 ? 1 : 0));
      uLow = hv[0] + wt.wOut; uHigh = hv[1] + wt.wOut;
    }
    var zLow = hK + uLow, zHigh = hK + uHigh;
    if (p === null) return { qLow: zLow, qHigh: zHigh, sure: nK, maybe: nK, uLow: uLow, uHigh: uHigh };
    // The chosen token was kept, so the weight before it was below p × Z.
    var before = chosen !== null ? prefix[chosen] : wt.wOut > 0 ? hK : null;
    if (before !== null && chosen !== null && chosen >= nK) before = null;
    if (before !== null && before / p <= zHigh) zLow = Math.max(zLow, before / p);
    var sure = 1, maybe = nK;
    for (r = 1; r < nK; r++) {
      if (prefix[r] >= p * zHigh * (1 + CUT_EDGE)) { maybe = r; break; }
      if (prefix[r] < p * zLow * (1 - CUT_EDGE) && sure === r) sure = r + 1;
    }
    var unlisted = maybe === nK && uHigh > 0 && hK < p * zHigh * (1 + CUT_EDGE);
    if (sure === maybe && !unlisted) return { qLow: prefix[sure], qHigh: prefix[sure], sure: sure, maybe: maybe, uLow: 0, uHigh: 0 };
    var through = chosen !== null && chosen < nK ? prefix[chosen + 1] : wt.wOut > 0 ? hK + wt.wOut : 0;
    var qLow = Math.max(prefix[sure], through, p * zLow);
    var qHigh = Math.min(zHigh, p * zHigh + ws[sure - 1]);
    if (!unlisted) qHigh = Math.min(qHigh, prefix[maybe]);
    qLow = Math.min(qLow, qHigh); // data the settings cannot explain: keep a range
    if (unlisted) { uLow = wt.wOut > 0 ? wt.wOut : 0; uHigh = Math.max(Math.min(uHigh, qHigh - prefix[sure]), uLow); }
    else uLow = uHigh = 0;
    return { qLow: qLow, qHigh: qHigh, sure: sure, maybe: maybe, uLow: uLow, uHigh: uHigh };
  }

  // Bounds on the weight of the `slots` heaviest unlisted tokens (null: all of them).
  function heaviest(wt, slots) {
    if (slots === null || (wt.count !== null && slots >= wt.count)) return [wt.sLow, wt.sHigh];
    if (slots <= 0) return [0, 0];
    return [wt.count ? wt.sLow * slots / wt.count : 0, Math.min(wt.sHigh, slots * wt.uMax)];
  }

  // Q from the chosen token's recorded sampled probability, when there is one.
  function pinnedQ(sc, s, wt, order, chosen) {
    if (isNaN(sc.slp[s]) || isNaN(sc.lp[s])) return null;
    var wc = chosen !== null ? wt.w[order[chosen]] : wt.wOut > 0 ? wt.wOut : null;
    if (wc === null) return null;
    var q = wc / Math.exp(sc.slp[s]);
    return isFinite(q) && q > 0 ? q : null;
  }
  // The kept set with Q known: a listed token is kept when Q is not reached before it,
  // dropped when the prefix through it exceeds Q; one too light to tell within the rounding
  // is left to the settings (`bySettings`, keptMass), else undetermined.
  function pinnedMass(wt, order, bySettings, q) {
    var n = order.length, through = 0, sure = n, maybe = n, r;
    for (r = 0; r < n; r++) {
      var before = through;
      through += wt.w[order[r]];
      var fits = r === 0 || r < bySettings.sure || before < q * (1 - PIN_EDGE);
      if (!fits && sure === n) sure = r;
      if (r > 0 && (r >= bySettings.maybe || through > q * (1 + PIN_EDGE))) { maybe = r; break; }
    }
    sure = Math.min(sure, maybe);
    var listed = [0];
    for (r = 0; r < maybe; r++) listed.push(listed[r] + wt.w[order[r]]);
    return { qLow: q, qHigh: q, sure: sure, maybe: maybe, uLow: Math.max(q - listed[maybe], 0),
      uHigh: Math.max(q - listed[sure], 0) };
  }

  function keptView(wt, order, kept, T, vocabKnown, pinned) {
    var rank = [], through = [], prefix = 0, low = [], high = [], sureSum = 0, maybeSum = 0;
    order.forEach(function (i, r) {
      rank[i] = r; prefix += wt.w[i]; through[i] = prefix;
      if (r < kept.sure) sureSum += wt.w[i];
      if (r < kept.maybe) maybeSum += wt.w[i];
    });
    wt.w.forEach(function (x, i) {
      var r = rank[i];
      if (r < kept.sure) { low.push(x / kept.qHigh); high.push(x / kept.qLow); }
      else if (r < kept.maybe) { low.push(0); high.push(x / Math.max(kept.qLow, through[i])); }
      else { low.push(0); high.push(0); }
    });
    var v;
    if (kept.qLow === kept.qHigh && kept.sure === kept.maybe) {
      // The kept weight is known, and the tail is what the listed kept leave. Only a kept
      // mass that takes in unlisted tokens depends on how the tail was made.
      var tail = kept.uHigh > 0 ? Math.max(kept.qLow - sureSum, 0) / kept.qLow : 0;
      var exact = pinned || kept.uHigh === 0 || wt.basis === "listed";
      v = makeView(T, wt, low, high, tail, tail, exact ? "exact" : wt.accuracy, null, vocabKnown, wt.basis);
    } else {
      var tailLow = kept.uLow > 0 ? kept.uLow / kept.qHigh : 0, tailHigh = 0;
      if (kept.uHigh > 0) {
        tailLow = Math.max(tailLow, 1 - maybeSum / kept.qLow);
        tailHigh = Math.min(1, kept.uHigh / (kept.uHigh + sureSum));
      } else tailLow = 0;
      v = makeView(T, wt, low, high, tailLow, tailHigh, "bounded", null, vocabKnown, wt.basis);
    }
    if (wt.chosenAt >= 0) { v.chosenLow = low[wt.chosenAt]; v.chosenHigh = high[wt.chosenAt]; }
    return v;
  }

  // The server's own values after its samplers: the sampled distribution as it is.
  function asReported(sc, s, T) {
    var a = sc.topStart[s], listed = [], p = [], sum = 0;
    for (var j = a; j < sc.topStart[s + 1]; j++) if (!isNaN(sc.topLp[j])) { listed.push(j); p.push(Math.exp(sc.topLp[j])); sum += p[p.length - 1]; }
    var tail = listed.length ? Math.max(1 - sum, 0) : null;
    var v = makeView(T, { listed: listed }, p, p, tail, tail, "exact", null, true, "reported");
    v.chosenLow = v.chosenHigh = isNaN(sc.lp[s]) ? NaN : Math.exp(sc.lp[s]);
    v.reason = "as the server reported them after its samplers (not applied again)";
    return v;
  }

  function keptReason(kept, wt, k, p, pinned) {
    var n = wt.listed.length, known = kept.qLow === kept.qHigh && kept.sure === kept.maybe;
    if (pinned) return "exact: the kept mass follows from the chosen token's sampled probability";
    if (known && kept.uHigh === 0) {
      if (k !== null && k <= n && p === null) return "exact: top-k " + k + " keeps only listed tokens";
      return "exact: the tokens kept are all listed, whatever the unlisted ones are";
    }
    if (known) return ""; // the view's own note says how the tail was made
    if (wt.basis === "summary") return "which unlisted tokens top-k / top-p kept is not known, so each value is a range";
    return "only the top " + n + " were reported, and which tokens top-k / top-p kept depends on the unlisted " +
      "ones, so each value is a range" + (wt.count === null ? " (vocabulary size unknown: the widest ranges)" : "");
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
  // A label longer than LABEL_MAX characters is shown by its start and the count of the
  // rest: a list or a detail has one line for it, and drawing a whole 200,000-character
  // token there (a mark per whitespace run, one unbroken line) took seconds of layout for
  // each list, popover and step that showed it. The reading view shows the text whole.
  var LABEL_MAX = 200;
  function countChars(s) { // code points, as a reader counts characters
    var n = s.length;
    for (var i = 0; i < s.length; i++) { var c = s.charCodeAt(i); if (c >= 0xdc00 && c <= 0xdfff) n--; }
    return n;
  }
  function clipLabel(label) {
    if (label.length <= LABEL_MAX) return null;
    var end = LABEL_MAX, c = label.charCodeAt(end);
    if (c >= 0xdc00 && c <= 0xdfff) end--; // not between the halves of a surrogate pair
    var head = label.slice(0, end);
    return { head: head, rest: countChars(label) - countChars(head), all: countChars(label) };
  }
  // A token label for lists: whitespace drawn as marks, so " the" and "the" differ.
  function tokenNode(label) {
    var span = el("span", "tok");
    if (label === "") { span.appendChild(el("span", "tok-ws", "\u2205")); return span; }
    var clip = clipLabel(label), shown = clip ? clip.head : label;
    var re = /[ \t\n\r\v\f]+/g, last = 0, m;
    while ((m = re.exec(shown)) !== null) {
      if (m.index > last) span.appendChild(document.createTextNode(shown.slice(last, m.index)));
      span.appendChild(el("span", "tok-ws", visibleWs(m[0])));
      last = m.index + m[0].length;
    }
    if (last < shown.length) span.appendChild(document.createTextNode(shown.slice(last)));
    if (clip) {
      span.appendChild(el("span", "tok-cut", "\u2026 +" + clip.rest.toLocaleString("en-US") + " characters"));
      span.title = "a token of " + clip.all.toLocaleString("en-US") + " characters; the first " +
        (clip.all - clip.rest) + " are shown";
    }
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
    this.distSeg = el("div", "tp-seg tp-dist-seg");
    this.distSeg.setAttribute("aria-label", "Distribution shown");
    this.distLabel = el("p", "tp-dist-label");
    append(sv, [el("div", "tp-card tp-step-card", [controls,
      el("div", "tp-section-label", "Context the model saw"), this.ctxEl,
      el("div", "tp-step-body", [el("div", "tp-step-left", [el("div", "tp-section-label", "Candidates for the next token"),
        this.distSeg, this.distLabel, this.candEl]), this.chosenEl])])]);
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
    // The earlier byte fragments of the glyph step i is in: not a character yet, so they
    // are shown apart, by their byte spelling, with the glyph they became.
    var pending = [];
    for (s = sc.groups[g]; s < i; s++) pending.push(tr.vocab.labels[sc.tok[s]]);
    for (var h = g - 1; h >= 0 && len < LIMIT; h--) { parts.push(sc.gText[h]); len += sc.gText[h].length; }
    parts.reverse();
    var text = parts.join(""), cut = false;
    if (sc === tr.gen && len < LIMIT) {
      var pre = tr.prompt.n ? tr.prompt.gText.join("") : (tr.request.prompt ? String(tr.request.prompt) : "");
      text = pre + text;
    }
    if (text.length > LIMIT) { text = text.slice(text.length - LIMIT); cut = true; }
    return { text: text, cut: cut, pending: pending.join(""), glyph: pending.length ? sc.gText[g] : null };
  };

  // ---- The step view's distribution. It opens on the one the token was drawn from, as the
  // terminal's step view does (the request's temperature, then its top-k and top-p; the
  // values as reported when the server's logprobs are already processed), with the raw
  // T = 1 one a click away, and the slider's temperature when the slider is moved.

  // Sampling settings in words: "T = 0.3, top-k 40, top-p 0.9".
  function settingsText(req) {
    var out = "T = " + req.temperature;
    if (req.top_k) out += ", top-k " + req.top_k;
    if (typeof req.top_p === "number" && req.top_p < 1) out += ", top-p " + req.top_p;
    return out;
  }

  // How the shown steps were drawn: "processed" (the logprobs are already after the
  // server's processing), "processing" (temperature, top-k or top-p changed the raw
  // distribution), "plain" (T = 1, no truncation: raw is what they were drawn from),
  // "greedy" (T = 0), or null (a scored text, or settings not known).
  App.prototype.sampledKind = function () {
    var tr = this.tr, req = tr.request, T = req.temperature;
    if (isProcessed(tr)) return "processed";
    if (tr.main !== tr.gen || typeof T !== "number") return null;
    if (T === 0) return "greedy";
    if (T !== 1 || req.top_k || (typeof req.top_p === "number" && req.top_p < 1)) return "processing";
    return "plain";
  };

  // The distributions offered, [id, button label], the first being the default.
  App.prototype.stepDistOptions = function () {
    var kind = this.sampledKind(), out = [];
    if (kind === "processed") return [["sampled", "As reported (processed)"]];
    if (kind === "processing") out.push(["sampled", "Drawn from: " + settingsText(this.tr.request)]);
    out.push(["raw", "Raw: T = 1"]);
    if (this.T !== 1) out.push(["slider", "Slider: T = " + this.T.toFixed(2)]);
    return out;
  };

  // Step i under the distribution picked: {view, recorded (the values as recorded), label}.
  App.prototype.stepDistView = function (sc, i) {
    var tr = this.tr, req = tr.request, kind = this.sampledKind(), opts = this.stepDistOptions();
    var mode = this.stepDist;
    if (!opts.some(function (o) { return o[0] === mode; })) mode = opts[0][0];
    this.stepDistShown = mode;
    var V = tr.vocabSize, unsure = tr.doc.logprobs_kind === "unknown"
      ? " The server does not say whether its logprobs are before or after its own processing." : "";
    if (mode === "sampled" && kind === "processed") {
      return { view: asReported(sc, i, 1), recorded: true, label: "As the server reported them: " +
        "already after its temperature, top-k and top-p" + (typeof req.temperature === "number" ? " (" + settingsText(req) + ")" : "") +
        ", so this is the distribution the token was drawn from; nothing is applied again." };
    }
    if (mode === "sampled") {
      return { view: sampledAtT(sc, i, req, tr.grid, V, tr.doc.logprobs_kind), recorded: false,
        label: "The distribution the token was drawn from: " + settingsText(req) +
        " applied to the raw logprobs. The faint marks are the raw values (T = 1)." + unsure };
    }
    if (mode === "slider") {
      return { view: stepAtT(sc, i, this.T, tr.grid, V), recorded: false,
        label: "Re-normalised at T = " + this.T.toFixed(2) + " (the temperature slider). The faint marks are the raw values (T = 1)." };
    }
    var words = kind === "plain" ? "Raw distribution (T = 1): the one the token was drawn from."
      : kind === "greedy" ? "Raw distribution (T = 1); the token was taken greedily (T = 0: always the most likely one)."
      : kind === "processing" ? "Raw distribution (T = 1), before " + settingsText(req) + "."
      : tr.main === tr.gen ? "Raw distribution (T = 1) as recorded; the sampling settings are not known." : "Raw distribution (T = 1).";
    return { view: stepAtT(sc, i, 1, tr.grid, V), recorded: true, label: words + unsure };
  };

  App.prototype.renderStep = function () {
    var self = this, tr = this.tr;
    if (!tr || !this.ctxEl) return;
    var sc = tr.main, i = this.stepI;
    this.stepRange.value = String(i);
    this.stepCounter.textContent = "step " + (i + 1) + " of " + sc.n;
    var ctx = this.contextBefore(sc, i), box = clear(this.ctxEl);
    if (ctx.cut) box.appendChild(el("span", "tp-ctx-cut", "\u2026"));
    box.appendChild(document.createTextNode(ctx.text));
    if (ctx.pending) {
      var pend = el("span", "tp-ctx-bytes", ctx.pending);
      pend.title = "the first bytes of \u201c" + ctx.glyph + "\u201d, which this step completes";
      box.appendChild(pend);
    }
    box.appendChild(el("span", "tp-caret", "\u2588"));
    box.scrollTop = box.scrollHeight;
    var len = sc.topStart[i + 1] - sc.topStart[i], dv = this.stepDistView(sc, i);
    var opts = this.stepDistOptions(), seg = clear(this.distSeg);
    seg.hidden = opts.length < 2;
    opts.forEach(function (o) {
      var b = button(o[1], "tp-seg-btn" + (o[0] === self.stepDistShown ? " on" : ""));
      b.dataset.dist = o[0];
      b.setAttribute("aria-pressed", o[0] === self.stepDistShown ? "true" : "false");
      b.addEventListener("click", function () { self.stepDist = o[0]; self.renderStep(); });
      seg.appendChild(b);
    });
    this.distLabel.textContent = dv.label;
    this.distLabel.dataset.dist = this.stepDistShown;
    clear(this.candEl);
    if (sc.lg) { this.candEl.appendChild(logitDetail(tr, sc, i)); clear(this.chosenEl); return; }
    if (len) this.candEl.appendChild(this.bars(sc, i, dv.view, dv.recorded));
    else this.candEl.appendChild(el("p", "tp-none", "Alternatives " + NR + "."));
    var ch = clear(this.chosenEl), lp = sc.lp[i], why = isNaN(lp) ? this.noLogprob(sc, i) : null;
    var p = dv.recorded ? [Math.exp(lp), Math.exp(lp)] : [dv.view.chosenLow, dv.view.chosenHigh];
    if (!dv.recorded && this.stepDistShown === "sampled" && !isNaN(sc.slp[i])) p = [Math.exp(sc.slp[i]), Math.exp(sc.slp[i])];
    var r = sc.rank[i];
    function stat(k, v) { return el("div", "tp-stat", [el("dt", null, k), el("dd", "num", v)]); }
    append(ch, [el("div", "tp-section-label", "Chosen"), el("div", "tp-chosen-tok", stepTokenNode(tr, sc, i)),
      el("dl", "tp-stats", [
        stat("probability", why || fmtRange(p[0], p[1])),
        dv.recorded || isNaN(lp) ? null : stat("raw (T 1)", fmtPct(Math.exp(lp))),
        stat("logprob", why || fmtNum(lp, 3)),
        stat("rank", isNaN(lp) || !len ? NR : r ? String(r) : "not in the top " + len),
        stat("entropy", isNaN(sc.H[i]) ? NR : (sc.Hx[i] ? "" : "\u2265 ") + fmtNum(sc.H[i], 2) + " nats")
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

  // ------------------------------------------------------------------------------------
  // A reasoning model's thinking (the page's `reasoning`: encode.py): folded above the
  // answer, which the summary, chart and popovers are about. Its tokens are coloured as the
  // answer's are, by the same measure; its own figures are on the fold's line; one click
  // on that line shows the thinking and the answer together.
  App.prototype.placeThinking = function (tr) {
    var r = tr.doc.reasoning, gen = this.textWrap.querySelector(".tp-gen");
    this.thinkWrap = null;
    if (!r || !gen) return;
    var box = el("details", "tp-thinking");
    if (r.live) box.open = true; // streaming: shown as it grows
    box.appendChild(el("summary", "tp-thinking-line", thinkingLine(r)));
    var sc = loadScope(r.steps, tr.vocab);
    this.thinkSc = sc;
    var text = el("div", "tp-text tp-text-thinking");
    if (sc.n) {
      for (var g = 0; g < sc.G; g++) {
        var chip = makeChip(sc, g, -1);
        chip._k = undefined; // not one of the answer's chips (keys, step view, chart)
        chip._think = g;
        text.appendChild(chip);
      }
      if (sc.G) text.firstChild.tabIndex = 0;
    } else text.appendChild(el("span", "tp-plain", String(r.text || "")));
    this.bindThinking(box);
    this.thinkWrap = el("div", "tp-textwrap by-" + this.measure, text);
    box.appendChild(this.thinkWrap);
    gen.parentNode.insertBefore(box, gen);
    var label = gen.querySelector(".tp-section-label");
    if (label) label.textContent = "Answer (the summary and chart are its own)";
    else gen.insertBefore(el("div", "tp-section-label", "Answer (the summary and chart are its own)"), gen.firstChild);
  };

  // The thinking's chips get the answer's popover (its numbers, alternatives and bars, at
  // the page's temperature), through their own listeners: the answer's text listens for
  // hover, focus and keys over its chips, numbered for the step view and the chart, which
  // are the answer's alone, so the thinking's events stop here.
  var THINK_POP = -2; // popChip while the popover shows a thinking chip
  App.prototype.bindThinking = function (box) {
    var self = this;
    function chipOf(e) { var t = e.target, c = t && t.closest ? t.closest(".t") : null; return c && c._think !== undefined ? c : null; }
    box.addEventListener("mouseover", function (e) {
      e.stopPropagation();
      var c = chipOf(e);
      if (c && !self.pinned) { clearTimeout(self.hideTimer); self.showThinkPop(c); }
    });
    box.addEventListener("mouseout", function (e) {
      e.stopPropagation();
      if (self.pinned) return;
      var to = e.relatedTarget;
      if (to && to.closest && (to.closest(".t") || to.closest(".tp-pop"))) return;
      self.scheduleHide();
    });
    box.addEventListener("click", function (e) {
      e.stopPropagation();
      var c = chipOf(e);
      if (c) self.pinThink(c);
    });
    box.addEventListener("focusin", function (e) {
      e.stopPropagation();
      var c = chipOf(e);
      if (c && !(self.pinned && self.thinkChip === c)) { self.unpin(); self.showThinkPop(c); }
    });
    box.addEventListener("keydown", function (e) {
      e.stopPropagation();
      var c = chipOf(e);
      if (!c) return;
      var next = null;
      if (e.key === "ArrowRight" || e.key === "ArrowDown") next = c.nextSibling;
      else if (e.key === "ArrowLeft" || e.key === "ArrowUp") next = c.previousSibling;
      else if (e.key === "Enter" || e.key === " ") { e.preventDefault(); self.pinThink(c); return; }
      else return;
      e.preventDefault();
      if (!next || next._think === undefined) return;
      c.removeAttribute("tabindex");
      next.tabIndex = 0;
      next.focus();
    });
  };

  App.prototype.pinThink = function (c) {
    if (this.pinned && this.popChip === THINK_POP && this.thinkChip === c) { this.unpin(); return; }
    this.unpin();
    this.showThinkPop(c);
    this.pinned = true;
    this.pop.classList.add("pinned");
  };

  App.prototype.showThinkPop = function (c) {
    clearTimeout(this.hideTimer);
    var prev = this.popChip === THINK_POP ? this.thinkChip : this.chips[this.popChip];
    if (prev) prev.classList.remove("shown");
    this.popChip = THINK_POP;
    this.thinkChip = c;
    this.fillThinkPop(c._think);
    c.classList.add("shown");
    this.pop.hidden = false;
    this.placePop();
  };

  // The popover of thinking group g: as the answer's (fillPop), named as the thinking's.
  App.prototype.fillThinkPop = function (g) {
    var self = this, sc = this.thinkSc, pop = clear(this.pop);
    var a = sc.groups[g], b = sc.groups[g + 1];
    var close = button("\u00d7", "tp-pop-close", "Close");
    close.addEventListener("click", function () { self.unpin(); self.hidePop(); });
    var where = "thinking \u00b7 " + (b - a === 1 ? "step " + (a + 1) : "steps " + (a + 1) + "\u2013" + b) + " of " + sc.n;
    pop.appendChild(el("div", "tp-pop-head", [el("span", "tp-pop-tok", tokenNode(sc.gText[g])),
      el("span", "tp-pop-where", where), close]));
    if (b - a > 1) {
      pop.appendChild(el("p", "tp-pop-glyph", ["One glyph made of " + (b - a) +
        " byte-fragment tokens; its probability is the product: ", el("b", "num", fmtPct(Math.exp(sc.gLp[g]))),
        isNaN(sc.gLp[g]) ? "" : " (logprob " + fmtNum(sc.gLp[g], 3) + ")"]));
    }
    for (var s = a; s < b; s++) pop.appendChild(this.stepDetail(sc, s, b - a > 1));
    pop.setAttribute("aria-label", "Thinking token details");
  };

  // A live trace's thinking grows: its fold is opened while it streams, and the chips from
  // the last glyph group on (whose bytes may have grown) are made again.
  App.prototype.updateThinking = function (tr) {
    var r = tr.doc.reasoning, box = this.textWrap.querySelector("details.tp-thinking");
    if (!r) { if (box) box.parentNode.removeChild(box); this.thinkWrap = null; return; }
    if (!box) {
      this.placeThinking(tr);
      box = this.textWrap.querySelector("details.tp-thinking");
      if (box && r.live) box.open = true;
      return;
    }
    var old = this.thinkSc, sc = loadScope(r.steps, tr.vocab), text = box.querySelector(".tp-text-thinking");
    var from = old && old.n ? Math.max(0, old.G - 1) : 0;
    if (!old || !old.n) clear(text);
    else while (text.childNodes.length > from) text.removeChild(text.lastChild);
    for (var g = from; g < sc.G; g++) {
      var chip = makeChip(sc, g, -1);
      chip._k = undefined;
      chip._think = g;
      text.appendChild(chip);
    }
    if (!text.querySelector("[tabindex]") && text.firstChild) text.firstChild.tabIndex = 0;
    this.thinkSc = sc;
    box.querySelector("summary").textContent = thinkingLine(r);
    if (this.popChip === THINK_POP && !this.thinkChip.isConnected) { this.unpin(); this.hidePop(); }
  };

  function thinkingLine(r) {
    if (r.live) return "Thinking\u2026 \u00b7 " + plural(r.steps.n, "token", "tokens") + " so far";
    var s = r.summary, line = "Thinking";
    if (r.source === "responses_summary") line += " (the server\u2019s summary of it)";
    if (s && s.reported) {
      line += " \u00b7 " + plural(s.tokens, "token", "tokens") + " \u00b7 per-token probability " +
        summaryPerToken(s);
      if (s.missing) line += " \u00b7 " + s.missing + " not reported";
    } else line += " \u00b7 " + countChars(String(r.text || "")) + " characters, no logprobs reported";
    return line;
  }

  var setMeasureBase = App.prototype.setMeasure;
  App.prototype.setMeasure = function (k) {
    setMeasureBase.call(this, k);
    if (this.thinkWrap) this.thinkWrap.className = "tp-textwrap by-" + k;
  };

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
    format: { pct: fmtPct, num: fmtNum, plural: plural, tokenNode: tokenNode, el: el, range: fmtRange,
      smallProb: fmtSmallProb, perToken: summaryPerToken, whole: summaryWhole,
      glyphNode: glyphNode, stepTokenNode: stepTokenNode },
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
    pageViews: pageViews,
    // The viewer itself, for files that add a view to it (viewer-lens.js).
    App: App
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
