/* The calibration page (page.calibration, views/encode_ops.py; ops/calibrate.py computed
 * every figure): per run and signal, the reliability diagram (each bin's accuracy against
 * its mean confidence, the diagonal for a calibrated model, the bins' counts as a histogram
 * beneath), the selective-prediction curve (accuracy at each coverage) and every signal's
 * AUROC. Clicking a bin lists its items; an item opens in the viewer.
 *
 * SVG is drawn by hand; every text the model or the user wrote reaches the page through
 * textContent only. */
(function () {
  "use strict";

  var TP = window.TokenprobeViewer, Ops = window.TokenprobeOps;
  var D = TP.dom, F = TP.format, el = D.el;
  var NS = "http://www.w3.org/2000/svg";

  function svg(tag, attrs, text) {
    var n = document.createElementNS(NS, tag);
    Object.keys(attrs || {}).forEach(function (k) { n.setAttribute(k, String(attrs[k])); });
    if (text !== undefined) n.textContent = text;
    return n;
  }
  function f3(x) { return x === null || x === undefined ? "\u2013" : Number(x).toFixed(3); }
  function ece(e) {
    if (!e || e.value === null) return "\u2013";
    var iv = e.interval ? " (" + f3(e.interval[0]) + "\u2013" + f3(e.interval[1]) + ")" : "";
    return f3(e.value) + iv;
  }

  // The reliability diagram of `bins` (page.calibration's bins) and the counts beneath.
  function reliability(bins, onBin) {
    var W = 360, H = 340, L = 40, T = 10, S = 240, HH = 50;
    var box = svg("svg", { viewBox: "0 0 " + W + " " + H, "class": "cal-rel", role: "img" });
    box.appendChild(svg("title", {}, "Reliability diagram: accuracy per confidence bin; the diagonal is perfect calibration"));
    box.appendChild(svg("rect", { x: L, y: T, width: S, height: S, fill: "none", stroke: "currentColor", "stroke-opacity": 0.3 }));
    box.appendChild(svg("line", { x1: L, y1: T + S, x2: L + S, y2: T, stroke: "currentColor", "stroke-dasharray": "4 3", "stroke-opacity": 0.6 }));
    [0, 0.5, 1].forEach(function (v) {
      box.appendChild(svg("text", { x: L - 6, y: T + S - v * S + 4, "text-anchor": "end", "font-size": 10, fill: "currentColor" }, v.toFixed(1)));
      box.appendChild(svg("text", { x: L + v * S, y: T + S + HH + 24, "text-anchor": "middle", "font-size": 10, fill: "currentColor" }, v.toFixed(1)));
    });
    box.appendChild(svg("text", { x: 12, y: T + S / 2, transform: "rotate(-90 12 " + (T + S / 2) + ")", "text-anchor": "middle", "font-size": 11, fill: "currentColor" }, "accuracy"));
    box.appendChild(svg("text", { x: L + S / 2, y: H - 2, "text-anchor": "middle", "font-size": 11, fill: "currentColor" }, "confidence (bin)"));
    var most = Math.max.apply(null, bins.map(function (b) { return b.count; }).concat([1]));
    bins.forEach(function (b, i) {
      var x = L + b.lo * S, w = Math.max(1, (b.hi - b.lo) * S - 1);
      var g = svg("g", { "class": "cal-bin", tabindex: 0, "data-bin": i });
      g.appendChild(svg("title", {}, b.lo.toFixed(2) + "\u2013" + b.hi.toFixed(2) + ": " + b.count + " items" +
        (b.count ? ", mean confidence " + f3(b.mean_confidence) + ", accuracy " + f3(b.accuracy) : "")));
      if (b.count) {
        var over = b.mean_confidence > b.accuracy;
        g.appendChild(svg("rect", { x: x, y: T + S - b.accuracy * S, width: w, height: b.accuracy * S, "class": over ? "cal-over" : "cal-under" }));
        g.appendChild(svg("line", { x1: x, x2: x + w, y1: T + S - b.mean_confidence * S, y2: T + S - b.mean_confidence * S, stroke: "currentColor", "stroke-width": 2 }));
      }
      var hh = HH * b.count / most;
      g.appendChild(svg("rect", { x: x, y: T + S + 8 + HH - hh, width: w, height: hh, "class": "cal-count" }));
      g.appendChild(svg("rect", { x: x, y: T, width: w, height: S + HH + 8, fill: "transparent" }));
      g.addEventListener("click", function () { onBin(i); });
      g.addEventListener("keydown", function (e) { if (e.key === "Enter") onBin(i); });
      box.appendChild(g);
    });
    return box;
  }

  function selective(points) {
    var W = 360, H = 200, L = 40, T = 10, S = 150, SW = 300;
    var box = svg("svg", { viewBox: "0 0 " + W + " " + H, "class": "cal-sel", role: "img" });
    box.appendChild(svg("title", {}, "Selective prediction: accuracy among the items answered, answering only the most confident"));
    box.appendChild(svg("rect", { x: L, y: T, width: SW, height: S, fill: "none", stroke: "currentColor", "stroke-opacity": 0.3 }));
    var d = points.map(function (p, k) { return (k ? "L" : "M") + (L + p.coverage * SW).toFixed(1) + " " + (T + S - p.accuracy * S).toFixed(1); }).join(" ");
    box.appendChild(svg("path", { d: d, fill: "none", stroke: "currentColor", "stroke-width": 2, "class": "cal-curve" }));
    [0, 0.5, 1].forEach(function (v) {
      box.appendChild(svg("text", { x: L - 6, y: T + S - v * S + 4, "text-anchor": "end", "font-size": 10, fill: "currentColor" }, v.toFixed(1)));
      box.appendChild(svg("text", { x: L + v * SW, y: T + S + 14, "text-anchor": "middle", "font-size": 10, fill: "currentColor" }, v.toFixed(1)));
    });
    box.appendChild(svg("text", { x: L + SW / 2, y: H - 4, "text-anchor": "middle", "font-size": 11, fill: "currentColor" }, "coverage (share of items answered)"));
    return box;
  }

  // opts.embedded: drawn inside the web app's Calibrate page, which has its own header.
  function render(root, page, opts) {
    var cal = page.calibration, st = cal.settings;
    Ops.start(root, "ops-calibrate");
    if (!(opts && opts.embedded)) root.appendChild(Ops.header({
      kind: "calibrate", title: page.title || ("Calibration on " + cal.data),
      meta: [["items", cal.n_items], ["runs", cal.runs.length], ["judge", st.judge], ["", Ops.created(cal.created)]]
    }));
    var state = { run: 0, signal: null };
    var controls = el("div", "cal-controls");
    var body = el("div", "cal-body");
    root.appendChild(controls);
    root.appendChild(body);
    if (cal.runs.length > 1)
      controls.appendChild(Ops.seg(cal.runs.map(function (r) { return { label: r.label, title: r.label }; }), 0,
        function (i) { state.run = i; state.signal = null; draw(); }, "run").el);
    var sigHost = el("div", "cal-signals");
    controls.appendChild(sigHost);

    function draw() {
      var run = cal.runs[state.run], names = Object.keys(run.signals);
      var probs = names.filter(function (n) { return run.signals[n].probability; });
      if (state.signal === null || names.indexOf(state.signal) < 0) state.signal = probs[0] || names[0];
      D.clear(sigHost);
      sigHost.appendChild(Ops.seg(probs.map(function (n) { return { label: run.signals[n].label, title: n }; }),
        probs.indexOf(state.signal), function (i) { state.signal = probs[i]; draw(); }, "signal").el);
      D.clear(body);
      if (!names.length) {  // no item of this run was answered
        body.appendChild(el("p", "ops-hint", F.plural(run.failed.length, "item", "items") + " without an answer: nothing to measure."));
        return;
      }
      var s = run.signals[state.signal];
      var listCard = Ops.card("Items", "Click a bin of the diagram to list its items; click an item to open it in the viewer.", "cal-items");
      var viewerCard = Ops.card("The item in the viewer", null, "cal-viewer");
      viewerCard.hidden = true;
      function openItem(item) {
        viewerCard.hidden = false;
        D.clear(viewerCard);
        viewerCard.appendChild(el("h2", "ops-card-title", "Item " + item.id));
        viewerCard.appendChild(el("div", "ops-prompt-text", item.prompt));
        item.traces.forEach(function (ti, k) {
          var label = item.kind === "choice" ? "option " + (k + 1) + (k === item.answer ? " (right)" : "") + ": " : "answer: ";
          var host = el("div", "ops-choice-text");
          viewerCard.appendChild(el("div", "cal-trace", [el("span", "cal-trace-label", label + (item.kind === "choice" ? item.options[k] : "")), host]));
          Ops.mountText(host, page.traces[ti]);
        });
        viewerCard.scrollIntoView({ block: "nearest" });
      }
      function onBin(i) {
        var b = s.ece_width.bins[i];
        D.clear(listCard);
        listCard.appendChild(el("h2", "ops-card-title", "Bin " + b.lo.toFixed(1) + "\u2013" + b.hi.toFixed(1) + ": " + F.plural(b.count, "item", "items")));
        var list = el("ol", "cal-list");
        run.items.forEach(function (item) {
          var v = item.signals[state.signal];
          if (!v || v.confidence === null) return;
          var inBin = (v.confidence > b.lo || (i === 0 && v.confidence >= b.lo)) && v.confidence <= b.hi;
          if (!inBin) return;
          var what = item.kind === "open" ? item.text : item.options[item.outcome[state.signal].predicted];
          var li = el("li", "cal-item " + (v.correct ? "right" : "wrong"), [
            el("span", "num", f3(v.confidence)), " ", el("span", "cal-mark", v.correct ? "\u2713" : "\u2717"), " ",
            el("span", "cal-prompt", item.prompt.slice(-80)), " \u2192 ", el("span", "cal-said", String(what))]);
          li.tabIndex = 0;
          li.dataset.item = item.id;
          li.addEventListener("click", function () { openItem(item); });
          li.addEventListener("keydown", function (e) { if (e.key === "Enter") openItem(item); });
          list.appendChild(li);
        });
        listCard.appendChild(list);
      }
      var figs = Ops.card(s.label, "n = " + s.n + " \u00b7 accuracy " + f3(s.accuracy) + " \u00b7 ECE (" + s.ece_width.n_bins +
        " equal-width bins) " + ece(s.ece_width) + " \u00b7 ECE (" + s.ece_mass.n_bins + " equal-mass bins) " + ece(s.ece_mass) +
        " \u00b7 MCE " + f3(s.ece_width.mce) + " \u00b7 Brier " + f3(s.brier) + " \u00b7 intervals: bootstrap, " + s.bootstrap.resamples +
        " resamples, seed " + s.bootstrap.seed + (s.scaling ? " \u00b7 temperature scaling: T = " + s.scaling.temperature.toFixed(2) +
        " fitted on " + s.scaling.fit_n + " items; on the other " + s.scaling.report_n + ", ECE " + f3(s.scaling.before.ece_width) +
        " \u2192 " + f3(s.scaling.after.ece_width) : ""), "cal-figures");
      figs.appendChild(el("div", "cal-charts", [
        el("figure", "cal-fig", [reliability(s.ece_width.bins, onBin), el("figcaption", null, "Reliability (bars: accuracy, line: mean confidence; counts beneath)")]),
        el("figure", "cal-fig", [selective(s.selective), el("figcaption", null, "Selective prediction: accuracy at each coverage")])]));
      body.appendChild(figs);
      var auc = Ops.card("Which signal predicts a right answer", "AUROC of each signal as a predictor of a right answer (0.5: no better than chance); AUPRC beside it.", "cal-auroc");
      var table = el("table", "cal-auc");
      table.appendChild(el("tr", null, [el("th", null, "signal"), el("th", null, "AUROC"), el("th", null, ""), el("th", null, "AUPRC")]));
      names.forEach(function (n) {
        var a = run.signals[n].auroc;
        var fill = el("span", "cal-auc-fill");
        fill.style.width = (a === null ? 0 : 100 * a) + "%";
        table.appendChild(el("tr", null, [el("td", null, run.signals[n].label), el("td", "num", f3(a)),
          el("td", null, el("span", "cal-auc-track", fill)), el("td", "num", f3(run.signals[n].auprc))]));
      });
      auc.appendChild(table);
      body.appendChild(auc);
      body.appendChild(listCard);
      body.appendChild(viewerCard);
      if (run.failed.length) body.appendChild(el("p", "ops-hint", run.failed.length + " items without an answer."));
    }
    draw();
    Ops.ready();
    return { calibration: cal };
  }

  Ops.register({
    match: function (page) { return !!(page.calibration && page.calibration.runs); },
    render: render
  });
})();
