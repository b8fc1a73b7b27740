/* The temperature sweep page (page.sweep, views/encode_ops.py): one greedy continuation, and
 * at each of its steps the model's distribution re-normalised at every temperature of the
 * sweep, side by side as bars (the same context; only T changes), with the entropy at each
 * T; the entropy along the text at each T; and the fresh sample drawn at each temperature.
 *
 * Every probability and entropy drawn here is the one ops/sweep.py computed (the page
 * carries them as they are); at T = 0 the library gives no distribution, only the greedy
 * token, which is drawn with all the mass. */
(function () {
  "use strict";

  var TP = window.TokenprobeViewer, Ops = window.TokenprobeOps;
  var D = TP.dom, F = TP.format, el = D.el, append = D.append, clear = D.clear;

  function tColour(i) { return "var(--t" + (i % 6) + ")"; }
  function tName(T) { return "T = " + T; }
  function dot(i) { var s = el("span", "ops-tdot"); s.style.background = tColour(i); return s; }

  function render(root, page) {
    var sw = page.sweep, base = page.traces[sw.base], tr = TP.loadTrace(base), sc = tr.gen;
    var cols = sw.columns, temps = cols.map(function (c) { return c.temperature; });
    Ops.start(root, "ops-sweep");
    root.appendChild(Ops.header({
      kind: "temperature sweep",
      title: page.title || sw.prompt,
      meta: [["model", base.model], ["temperatures", temps.join(", ")], ["seed", sw.seed],
        ["greedy steps", sc.n], ["logprobs", base.logprobs_kind], ["", Ops.created(base.created)]]
    }));
    root.appendChild(el("p", "ops-lede", "One greedy continuation of the prompt; at each of its steps, the model's distribution re-normalised at each temperature (the same context, so only T changes: low T sharpens it onto the likeliest token, high T flattens it), and below, a fresh sample drawn at each temperature with the same seed."));

    var stepCard = Ops.card("Step by step", null, "ops-sweep-steps");
    var context = el("div", "ops-sweep-context");
    var counter = el("span", "tp-step-counter num");
    var prev = D.button("\u25c0 Previous", "tp-btn", "Previous step");
    var next = D.button("Next \u25b6", "tp-btn", "Next step");
    var tableBox = el("div", "ops-scroll ops-sweep-table");
    var chartBox = el("div", "ops-sweep-chart");
    append(stepCard, [el("div", "tp-step-controls", [prev, next, counter]), context, tableBox,
      el("h3", "ops-subtitle", "Entropy along the text at each temperature"), chartBox]);
    root.appendChild(stepCard);

    var samples = Ops.card("A fresh sample at each temperature", "Drawn from the prompt " +
      (sw.seed === null || sw.seed === undefined ? "without a recorded seed" : "with seed " + sw.seed) +
      " at each temperature: where a sample still reads like the greedy text, the step table marks the token it drew (\u25cf).");
    cols.forEach(function (col, i) {
      var host = el("div", "ops-sample-text");
      var row = el("div", "ops-sample", [el("div", "ops-sample-t num", [dot(i), tName(col.temperature)]), host]);
      row.dataset.column = String(i);
      samples.appendChild(row);
      Ops.mountText(host, page.traces[col.sample]);
    });
    root.appendChild(samples);

    // The greedy text as chips to pick a step; the prompt before it.
    var chips = [];
    context.appendChild(el("span", "ops-sweep-prompt", sw.prompt));
    for (var k = 0; k < sc.n; k++) {
      var g = sc.stepGroup[k], frag = sc.groups[g + 1] - sc.groups[g] > 1;
      var label = frag ? tr.vocab.labels[sc.tok[k]] : (k === sc.groups[g] ? sc.gText[g] : "");
      var b = D.button(Ops.tokenText(label), "ops-sweep-chip", "step " + (k + 1));
      b.dataset.step = String(k);
      (function (k) { b.addEventListener("click", function () { go(k); }); })(k);
      chips.push(b);
      context.appendChild(b);
    }
    prev.addEventListener("click", function () { go(cur - 1); });
    next.addEventListener("click", function () { go(cur + 1); });
    stepCard.addEventListener("keydown", function (e) {
      if (e.key === "ArrowRight") { go(cur + 1); e.preventDefault(); }
      if (e.key === "ArrowLeft") { go(cur - 1); e.preventDefault(); }
    });
    var chart = entropyChart(chartBox, cols, sc.n, function (k) { go(k); });

    var cur = 0;
    function go(k) {
      if (!sc.n) return;
      cur = Math.max(0, Math.min(sc.n - 1, k));
      chips.forEach(function (c, j) { c.classList.toggle("on", j === cur); c.classList.toggle("done", j < cur); });
      counter.textContent = "step " + (cur + 1) + " of " + sc.n;
      prev.disabled = cur === 0;
      next.disabled = cur === sc.n - 1;
      clear(tableBox).appendChild(stepTable(tr, sc, cols, cur));
      chart.mark(cur);
      stepCard.dataset.step = String(cur);
    }
    if (sc.n) go(0);
    else tableBox.appendChild(el("p", "tp-none", "The greedy continuation has no tokens."));
    Ops.ready();
    return { go: go };
  }

  // Rows: the base step's candidates (those with a logprob, in its order); columns: the
  // temperatures. The greedy token is marked ▸, the token a sample drew here ●.
  function stepTable(tr, sc, cols, k) {
    var a = sc.topStart[k], b = sc.topStart[k + 1], listed = [], j;
    for (j = a; j < b; j++) if (!isNaN(sc.topLp[j])) listed.push(j);
    var t = el("table", "ops-table ops-sweep-grid");
    var head = el("tr", null, el("th", null, "candidate"));
    cols.forEach(function (col, i) {
      var H = col.entropies[k];
      var th = el("th", null, [el("div", "ops-th-t num", [dot(i), tName(col.temperature)]),
        el("div", "ops-th-h num", H === null || H === undefined ? "H not known" : "H " + F.num(H, 2) + " nats")]);
      th.dataset.column = String(i);
      head.appendChild(th);
    });
    t.appendChild(el("thead", null, head));
    var body = el("tbody");
    listed.forEach(function (jj, i) {
      var chosen = sc.chosen[k] === jj - a;
      var row = el("tr", chosen ? "chosen" : null, el("td", "ops-cand", [el("span", "tp-bar-mark", chosen ? "\u25b8" : ""),
        F.tokenNode(tr.vocab.labels[sc.topTok[jj]])]));
      row.dataset.token = tr.vocab.labels[sc.topTok[jj]];
      cols.forEach(function (col, c) {
        var st = col.steps[k], r = st ? candRange(st, i) : [chosen ? 1 : 0, chosen ? 1 : 0], lo = r[0], hi = r[1];
        var fill = el("span", "ops-sbar-fill");
        fill.style.width = (lo > 0 ? Math.max(0.5, 100 * lo) : 0) + "%";
        fill.style.background = tColour(c);
        var bar = el("span", "ops-sbar", fill);
        if (hi > lo) { // only bounds are known: solid to the low end, hatched to the high end
          var band = el("span", "ops-sbar-range");
          band.style.left = 100 * lo + "%";
          band.style.width = Math.min(100, 100 * (hi - lo)) + "%";
          band.style.color = tColour(c);
          bar.appendChild(band);
        }
        var cell = el("td", "ops-scell" + (hi === 0 ? " zero" : ""), [bar, el("span", "ops-sp num", el("span", "ops-pv", F.range(lo, hi)))]);
        cell.dataset.p = lo === hi ? String(lo) : "";
        cell.dataset.low = String(lo);
        cell.dataset.high = String(hi);
        cell.dataset.column = String(c);
        if (col.drawn[k] === jj - a) {
          cell.classList.add("drawn");
          cell.lastChild.appendChild(el("span", "ops-drawn", " \u25cf"));
          cell.title = "the sample at " + tName(col.temperature) + " drew this token here";
        }
        row.appendChild(cell);
      });
      body.appendChild(row);
    });
    t.appendChild(body);
    var tail = el("tr", "ops-sweep-tail", el("td", "ops-cand", "everything else"));
    var acc = el("tr", "ops-sweep-acc", el("td", "ops-cand", "accuracy"));
    cols.forEach(function (col, c) {
      var st = col.steps[k], tr0 = st ? tailRange(st) : [0, 0];
      var cell = el("td", "ops-scell num", tr0[0] === null ? Ops.NR : F.range(tr0[0], tr0[1]));
      cell.dataset.low = String(tr0[0]);
      cell.dataset.high = String(tr0[1]);
      cell.dataset.column = String(c);
      if (col.drawn[k] === -1) { cell.appendChild(el("span", "ops-drawn", " \u25cf not listed")); }
      tail.appendChild(cell);
      acc.appendChild(el("td", "ops-acc", accuracyText(st, tr, sc, k)));
    });
    t.appendChild(el("tfoot", null, [tail, acc]));
    return t;
  }

  // A candidate's probability at a column's temperature as [low, high]: equal where the
  // trace has a tail summary, the library's bounds where it has none (low/high; the older
  // encoding carried points only, in p).
  function candRange(st, i) {
    if (st.low && st.high) return [st.low[i], st.high[i]];
    return [st.p[i], st.p[i]];
  }
  function tailRange(st) {
    if (st.tail_low !== undefined) return [st.tail_low, st.tail_high];
    return [st.tail === undefined ? null : st.tail, st.tail === undefined ? null : st.tail];
  }

  // The viewer's words for how the re-normalised numbers were made; for ranges, the
  // library's own note (TemperatureView.note).
  function accuracyText(st, tr, sc, k) {
    if (!st) return "greedy (T = 0)";
    if (st.accuracy === "bounded") return "range: " + (st.note || "only the top-N were reported");
    if (st.accuracy !== "approximate") return st.accuracy + " over the whole vocabulary";
    return tr.grid && sc.tailN[k] > 0 ? "approximate (outside the stored temperatures)"
      : "approximate over the top-" + (sc.topStart[k + 1] - sc.topStart[k]);
  }

  // One line per temperature over the steps; a click picks the step.
  function entropyChart(box, cols, n, onPick) {
    var W = 1000, H = 120, max = 0;
    cols.forEach(function (c) { c.entropies.forEach(function (h) { if (h !== null && h > max) max = h; }); });
    var top = Math.max(1, Math.ceil(max));
    function x(k) { return n <= 1 ? W / 2 : 8 + k / (n - 1) * (W - 16); }
    function y(h) { return H - 6 - h / top * (H - 14); }
    var s = D.svg("svg", { viewBox: "0 0 " + W + " " + H, preserveAspectRatio: "none", class: "tp-chart-svg ops-echart",
      role: "img", "aria-label": "Entropy per step at each temperature" });
    [0.5, 1].forEach(function (f) { s.appendChild(D.svg("line", { x1: 0, x2: W, y1: y(f * top), y2: y(f * top), class: "grid" })); });
    var cursor = D.svg("line", { x1: 0, x2: 0, y1: 0, y2: H, class: "cursor" });
    s.appendChild(cursor);
    cols.forEach(function (c, i) {
      var d = "", on = false;
      c.entropies.forEach(function (h, k) {
        if (h === null || h === undefined) { on = false; return; }
        d += (on ? "L" : "M") + x(k).toFixed(1) + " " + y(h).toFixed(1);
        on = true;
      });
      if (d) {
        var path = D.svg("path", { d: d, class: "ops-eline" });
        path.style.stroke = tColour(i);
        s.appendChild(path);
      }
    });
    var keys = el("div", "tp-chart-head", cols.map(function (c, i) {
      var sw = el("span", "sw-line"); sw.style.background = tColour(i);
      return el("span", "tp-key", [sw, tName(c.temperature)]);
    }).concat([el("span", "tp-chart-hint", "0\u2013" + top + " nats \u00b7 click a step")]));
    var plot = el("div", "tp-chart-plot ops-echart-plot", s);
    append(box, [keys, plot]);
    plot.addEventListener("click", function (e) {
      var r = plot.getBoundingClientRect(), f = (e.clientX - r.left) / r.width;
      onPick(Math.round((f * W - 8) / (W - 16) * (n - 1)));
    });
    return { mark: function (k) { cursor.setAttribute("x1", x(k)); cursor.setAttribute("x2", x(k)); } };
  }

  Ops.register({
    match: function (page) { return !!(page.sweep && page.sweep.columns); },
    render: render
  });
})();
