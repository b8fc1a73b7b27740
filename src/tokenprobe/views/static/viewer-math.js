/* tokenprobe viewer: the temperature, top-k and top-p re-normalisation of a step (a port of
 * distribution.py), with bounds where only the top-N was reported.
 * (One of the viewer's files, loaded in the order of views/html.py's SCRIPTS; they share
 * their parts through the TokenprobeParts namespace. See docs/architecture.md.) */
(function (root) {
  "use strict";
  var P = root.TokenprobeParts = root.TokenprobeParts || {};

  var LN2 = Math.LN2;

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


  P.LN2 = LN2; P.logsumexp = logsumexp; P.localCubic = localCubic; P.tailLseAt = tailLseAt;
  P.makeGrid = makeGrid; P.LP_FLOOR = LP_FLOOR; P.lseLog1p = lseLog1p;
  P.tailSumBounds = tailSumBounds; P.stepWeights = stepWeights; P.makeView = makeView;
  P.normalisedView = normalisedView; P.stepAtT = stepAtT; P.chosenAtT = chosenAtT;
  P.viewNote = viewNote; P.CUT_EDGE = CUT_EDGE; P.PIN_EDGE = PIN_EDGE; P.sampledAtT = sampledAtT;
  P.keptMass = keptMass; P.heaviest = heaviest; P.pinnedQ = pinnedQ; P.pinnedMass = pinnedMass;
  P.keptView = keptView; P.asReported = asReported; P.keptReason = keptReason;
  // In node (the tests), the same parts as a module.
  if (typeof module === "object" && module.exports) module.exports = P;
})(typeof window !== "undefined" ? window : globalThis);
