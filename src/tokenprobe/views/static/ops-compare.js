/* The comparison page (page.comparison, views/encode_ops.py): the variants side by side,
 * each a full viewer of its trace (a sample switcher when there are several samples), the
 * metrics per variant as mean ± sd, and on a fixed answer the per-token differences: the
 * answer's tokens coloured by how much more or less likely each variant made them than a
 * baseline the reader picks, and the table of probabilities and Δ logprob.
 *
 * Δ is the variant's logprob minus the baseline's, from the logprobs the page carries at
 * full precision: the very subtraction Comparison.token_deltas makes, and only between
 * variants that split the answer into the same tokens (`answer_group`, the library's
 * Comparison.token_groups): models with other tokenizers may not, and their token k is
 * another piece of text. Words and look follow the web app's Compare view (variants
 * numbered from 1). */
(function () {
  "use strict";

  var TP = window.TokenprobeViewer, Ops = window.TokenprobeOps;
  var D = TP.dom, F = TP.format, el = D.el, append = D.append, clear = D.clear;

  var METRICS = {
    tokens: ["tokens", function (v) { return F.num(v, 1).replace(/\.0$/, ""); }],
    total_logprob: ["total logprob", function (v) { return F.num(v, 2); }],
    mean_logprob: ["mean logprob", function (v) { return F.num(v, 3); }],
    geometric_mean_prob: ["per-token probability, geometric mean", function (v) { return F.pct(v); }],
    arithmetic_mean_prob: ["per-token probability, arithmetic mean", function (v) { return F.pct(v); }],
    perplexity: ["perplexity", function (v) { return F.num(v, 2); }],
    mean_entropy: ["mean entropy", function (v) { return F.num(v, 2) + " nats"; }],
    top1_share: ["top-1 share", function (v) { return F.pct(v); }]
  };

  // The figures shown: the comparison's metrics and, with one answer per variant, that
  // answer's whole probability, exp(total logprob), written from the logprob so that it
  // shows even where it is too small for a float (a mean ± sd of it over samples would
  // say little, so it is left out there).
  var WHOLE = "whole_answer";
  function metricNames(c) {
    return c.samples === 1 && c.metrics.indexOf("total_logprob") >= 0 ? c.metrics.concat([WHOLE]) : c.metrics;
  }
  function statOf(v, k) { return k === WHOLE ? v.stats.total_logprob : v.stats[k]; }
  METRICS[WHOLE] = ["probability of the whole answer", function (v) { return F.smallProb(v); }];

  function statText(st, name, samples) {
    if (st === null || st === undefined) return Ops.NR;
    var f = (METRICS[name] || [name, String])[1];
    return f(st[0]) + (samples > 1 ? " \u00b1 " + f(st[1]) : "");
  }

  // Bands of Δ logprob (nats) for colouring: much less … about the same … much more likely.
  var LEGEND = [["dn3", "\u2264 \u22122"], ["dn2", "\u22122 to \u22120.5"], ["dn1", "\u22120.5 to \u22120.05"],
    ["d0", "within \u00b10.05"], ["up1", "0.05 to 0.5"], ["up2", "0.5 to 2"], ["up3", "\u2265 2"]];
  function band(d) {
    if (d === null || isNaN(d)) return "dnr";
    return d <= -2 ? "dn3" : d <= -0.5 ? "dn2" : d < -0.05 ? "dn1" : d <= 0.05 ? "d0" : d < 0.5 ? "up1" : d < 2 ? "up2" : "up3";
  }
  function deltaClass(d) { return d === null || isNaN(d) ? "nr" : d > 0.005 ? "up" : d < -0.005 ? "down" : "same"; }

  function render(root, page) {
    var c = page.comparison, traces = page.traces, n = c.variants.length;
    Ops.start(root, "ops-wide ops-compare");
    var models = [];
    c.variants.forEach(function (v) {
      var m = traces[v.traces[0]] && traces[v.traces[0]].model;
      if (m && models.indexOf(m) < 0) models.push(m);
    });
    var fixed = c.answer !== null && c.answer !== undefined;
    var oneSplit = !fixed || c.variants.every(function (v, i) { return group(c, i) === group(c, 0); });
    root.appendChild(Ops.header({
      kind: "comparison",
      title: page.title || (fixed ? (c.answer.trim().length <= 60 && c.answer.indexOf("\n") < 0
        ? "\u201c" + c.answer.trim() + "\u201d under " + n + " variants" : "One answer under " + n + " variants")
        : n + " variants, " + F.plural(c.samples, "sample", "samples") + " each"),
      meta: [["variants", n], fixed ? ["on a fixed answer", oneSplit ? F.plural(stepsOfVariant(c, traces, 0).length, "token", "tokens")
        : "split into different tokens by different variants"]
        : ["samples per variant", c.samples], ["model", models.join(", ")], ["", Ops.created(c.created)]]
    }));
    root.appendChild(el("p", "ops-lede", fixed ? (oneSplit
      ? "Every variant scored exactly the same answer tokens (teacher forcing), so the variants differ only in how likely they made each token. This is the rigorous way to compare prompts."
      : "Every variant scored the same answer text (teacher forcing), but not every variant split it into the same tokens (their models tokenize differently). Token by token, only variants with the same tokens are set side by side; the totals compare across all of them.")
      : "Each variant generated " + F.plural(c.samples, "time", "times") + (c.samples > 1
        ? " (seeds " + seedsOf(c, traces) + "); the figures are the mean \u00b1 standard deviation over the samples, so sampling noise shows beside the difference between variants."
        : "; with one sample per variant, part of any difference is sampling noise (--samples N shows how much).")));
    if (fixed) root.appendChild(deltaCard(c, traces));
    root.appendChild(metricsCard(c));
    var cols = el("div", "ops-cols");
    c.variants.forEach(function (v, i) { cols.appendChild(column(c, traces, v, i)); });
    root.appendChild(cols);
    Ops.ready();
    return { comparison: c };
  }

  // Variants with the same group split the answer into the same tokens (same bytes).
  function group(c, i) { var g = c.variants[i].answer_group; return g === undefined || g === null ? 0 : g; }

  function seedsOf(c, traces) {
    var seeds = c.variants[0].traces.map(function (k) { return traces[k].request && traces[k].request.seed; });
    return seeds.length > 3 ? seeds[0] + "\u2026" + seeds[seeds.length - 1] : seeds.join(", ");
  }

  // The answer's tokens under variant i; on a fixed answer with the logprobs at full
  // precision (answer_lp), the ones the differences are made of.
  function stepsOfVariant(c, traces, i) {
    var steps = Ops.stepsOf(traces[c.variants[i].traces[0]]), lp = c.variants[i].answer_lp;
    if (lp) steps.forEach(function (s, k) { s.lp = lp[k] === null || lp[k] === undefined ? NaN : lp[k]; });
    return steps;
  }

  function variantName(v, i) { return [Ops.badge(i + 1), " ", el("span", "ops-vlabel", v.label)]; }

  // ------------------------------------------------------------------ metrics

  function metricsCard(c) {
    var box = Ops.card("Metrics per variant", c.samples > 1 ? "Mean \u00b1 standard deviation over " + c.samples + " samples." : null);
    var table = el("table", "ops-table ops-metrics");
    var head = el("tr", null, el("th", null, "variant"));
    metricNames(c).forEach(function (k) { head.appendChild(el("th", "num", (METRICS[k] || [k])[0])); });
    table.appendChild(el("thead", null, head));
    var body = el("tbody");
    c.variants.forEach(function (v, i) {
      var row = el("tr", null, el("th", "ops-row-head", variantName(v, i)));
      metricNames(c).forEach(function (k) {
        var td = el("td", "num", statText(statOf(v, k), k, c.samples));
        td.dataset.metric = k;
        row.appendChild(td);
      });
      row.dataset.variant = String(i);
      row.tabIndex = 0;
      row.title = "Show this variant";
      row.addEventListener("click", function () { goTo(i); });
      row.addEventListener("keydown", function (e) { if (e.key === "Enter") goTo(i); });
      body.appendChild(row);
    });
    table.appendChild(body);
    box.appendChild(el("div", "ops-scroll", table));
    // A reasoning model's thinking is in none of these figures: a line per variant that
    // has one says so, with the thinking's own figures (ops/parts.py wrote it).
    c.variants.forEach(function (v, i) {
      if (v.thinking) box.appendChild(el("p", "ops-hint ops-part", [Ops.badge(i + 1), " " + v.thinking]));
    });
    return box;
  }

  function goTo(i) {
    var col = document.querySelector('.ops-col[data-variant="' + i + '"]');
    if (col) { col.scrollIntoView({ block: "start", behavior: "smooth" }); col.classList.add("ops-flash"); setTimeout(function () { col.classList.remove("ops-flash"); }, 1200); }
  }

  // ------------------------------------------------------------------ the fixed answer

  function deltaCard(c, traces) {
    var box = Ops.card("The same answer, token by token", null, "ops-delta-card");
    box.appendChild(el("p", "ops-hint", ["\u0394 is a variant's logprob minus the baseline's (nats), token by token: ",
      el("span", "ops-word-up", "positive"), ", the variant made the token more likely; ", el("span", "ops-word-down", "negative"), ", less likely."]));
    var split = el("p", "ops-hint ops-split");
    box.appendChild(split);
    var base = 0;
    var picker = Ops.seg(c.variants.map(function (v, i) { return { label: String(i + 1), title: v.label }; }), 0,
      function (i) { base = i; draw(); }, "Baseline variant");
    var legend = el("div", "ops-legend", [el("span", "ops-legend-title", "\u0394 logprob vs the baseline")]);
    LEGEND.forEach(function (l) { legend.appendChild(el("span", "tp-legend-item", [el("span", "sw ops-sw " + l[0]), l[1]])); });
    legend.appendChild(el("span", "tp-legend-item", [el("span", "sw ops-sw dnr"), Ops.NR]));
    box.appendChild(el("div", "ops-controls", [el("span", "tp-label", "Baseline"), picker.el, legend]));
    var strips = el("div", "ops-strips"), tableBox = el("div", "ops-scroll");
    append(box, [strips, el("h3", "ops-subtitle", "Probability of each token under each variant, and \u0394 logprob"), tableBox]);
    var steps = c.variants.map(function (v, i) { return stepsOfVariant(c, traces, i); });

    // Comparison.token_deltas: the variant's logprob minus the baseline's, null where
    // either was not reported or the two split the answer into different tokens.
    function same(j) { return group(c, j) === group(c, base); }
    function delta(j, k) {
      if (!same(j)) return null;
      var a = c.variants[j].answer_lp[k], b = c.variants[base].answer_lp[k];
      return a === null || b === null || a === undefined || b === undefined ? null : a - b;
    }
    function total(j) { var t = c.variants[j].stats.total_logprob; return t ? t[0] : null; }

    function draw() {
      clear(strips);
      var others = [];
      c.variants.forEach(function (v, j) { if (!same(j)) others.push(j); });
      split.hidden = !others.length;
      split.textContent = others.length ? (others.length === 1 ? "Variant " : "Variants ") +
        others.map(function (j) { return String(j + 1) + " (" + F.plural(steps[j].length, "token", "tokens") + ")"; }).join(", ") +
        (others.length === 1 ? " splits" : " split") + " the answer into other tokens than the baseline (" +
        F.plural(steps[base].length, "token", "tokens") + "): another tokenizer. " + (others.length === 1 ? "Its tokens do" : "Their tokens do") +
        " not line up with the baseline's, so there is no \u0394 per token; the totals compare." : "";
      c.variants.forEach(function (v, j) {
        var row = el("div", "ops-strip" + (j === base ? " base" : same(j) ? "" : " other"));
        row.dataset.variant = String(j);
        var tb = total(j), t0 = total(base), dt = tb === null || t0 === null ? null : tb - t0;
        var sum = j === base ? el("span", "ops-strip-sum", "baseline")
          : el("span", "ops-strip-sum num " + deltaClass(dt), [same(j) ? "" : el("span", "ops-split-tag", "other tokens \u00b7 "),
            "\u0394 total ", Ops.fmtDelta(dt), el("span", "ops-ratio", " " + Ops.fmtRatio(dt))]);
        row.appendChild(el("div", "ops-strip-head", [el("span", "ops-strip-name", variantName(v, j)), sum]));
        var text = el("div", "ops-strip-text");
        steps[j].forEach(function (s, k) {
          var d = j === base ? 0 : delta(j, k);
          // A character split over tokens reads as the character; its later fragments are
          // narrow chips of their own with no text (each has its own Δ and tip).
          var chip = el("span", "ops-dchip " + (j === base ? "base" : same(j) ? band(d) : "other") + (s.frag && !s.text ? " ops-dchip-frag" : ""),
            s.frag ? s.text : Ops.tokenText(s.label));
          chip.tabIndex = 0;
          chip.dataset.step = String(k);
          Ops.tip(chip, function (tipBox) { fillTip(tipBox, j, k); });
          text.appendChild(chip);
        });
        row.appendChild(text);
        strips.appendChild(row);
      });
      clear(tableBox).appendChild(table());
    }

    function fillTip(box, j, k) {
      var s = steps[j][k], sb = steps[base][k] || { lp: NaN }, d = delta(j, k);
      box.appendChild(el("div", "ops-tip-head", [Ops.stepLabel(s), el("span", "ops-tip-where", "token " + (k + 1) + " of " + steps[j].length)]));
      if (!same(j)) { // another split of the text: nothing of the baseline's lines up with it
        box.appendChild(Ops.tipRows([[String(j + 1), F.pct(Math.exp(s.lp)) + "  \u00b7  " + F.num(s.lp, 3)],
          ["baseline", "split into other tokens"]]));
        return;
      }
      var rows = [[(base + 1) + " (baseline)", F.pct(Math.exp(sb.lp)) + "  \u00b7  " + F.num(sb.lp, 3)]];
      if (j !== base) {
        rows.push([String(j + 1), F.pct(Math.exp(s.lp)) + "  \u00b7  " + F.num(s.lp, 3)]);
        rows.push(["\u0394 logprob", Ops.fmtDelta(d) + (d === null ? "" : "  (" + Ops.fmtRatio(d) + ")"), "ops-tip-" + deltaClass(d)]);
      }
      box.appendChild(Ops.tipRows(rows));
    }

    function table() {
      var t = el("table", "ops-table ops-deltas");
      var head = el("tr", null, el("th", null, "token"));
      c.variants.forEach(function (v, j) {
        var th = el("th", "num", [Ops.badge(j + 1), el("div", "ops-th-sub", j === base ? "baseline" : same(j) ? "\u0394 vs " + (base + 1) : "other tokens")]);
        th.title = v.label;
        head.appendChild(th);
      });
      t.appendChild(el("thead", null, head));
      var body = el("tbody");
      steps[base].forEach(function (s0, k) {
        var row = el("tr", null, el("td", "ops-tok", Ops.stepLabel(s0)));
        row.dataset.step = String(k);
        c.variants.forEach(function (v, j) {
          var s = steps[j][k];
          // A variant that split the answer into other tokens has no token k to set here.
          if (!same(j)) {
            var none = el("td", "num ops-none", "\u2014");
            none.title = "variant " + (j + 1) + " split the answer into other tokens";
            row.appendChild(none);
            return;
          }
          var cell = el("td", "num", el("span", "ops-p", F.pct(Math.exp(s.lp))));
          cell.title = "logprob " + F.num(s.lp, 3);
          if (j !== base) {
            var d = delta(j, k), sp = el("span", "ops-delta " + deltaClass(d), Ops.fmtDelta(d));
            sp.dataset.variant = String(j);
            cell.appendChild(sp);
          }
          row.appendChild(cell);
        });
        body.appendChild(row);
      });
      t.appendChild(body);
      var foot = el("tr", "ops-total", el("th", null, "total logprob"));
      c.variants.forEach(function (v, j) {
        var tb = total(j), t0 = total(base), cell = el("td", "num", el("span", "ops-p", F.num(tb, 3)));
        if (j !== base) {
          var dt = tb === null || t0 === null ? null : tb - t0;
          cell.appendChild(el("span", "ops-delta " + deltaClass(dt), Ops.fmtDelta(dt)));
        }
        foot.appendChild(cell);
      });
      t.appendChild(el("tfoot", null, foot));
      return t;
    }

    draw();
    return box;
  }

  // ------------------------------------------------------------------ the variants

  function settingsLine(v) {
    var s = v.settings || {}, bits = [];
    if (s.temperature !== null && s.temperature !== undefined) bits.push(["T", String(s.temperature)]);
    bits.push(["model", s.model || "embedded"]);
    if (s.system !== null && s.system !== undefined) bits.push(["system", s.system]);
    return el("div", "tp-meta ops-settings", bits.map(function (b) {
      return el("span", "tp-meta-item", [el("span", "tp-meta-k", b[0]), " ", b[1]]);
    }));
  }

  // The variant's figures as the web app's cards draw them (mean ± sd over the samples).
  function metricGrid(c, v) {
    var dl = el("dl", "ops-cmetrics");
    metricNames(c).forEach(function (k) {
      var d = el("div", "ops-cmetric", [el("dt", null, (METRICS[k] || [k])[0]), el("dd", "num", statText(statOf(v, k), k, c.samples))]);
      d.dataset.metric = k;
      dl.appendChild(d);
    });
    return dl;
  }

  function column(c, traces, v, i) {
    var fixed = c.answer !== null && c.answer !== undefined;
    var col = el("section", "ops-col" + (v.traces.length > 1 ? " several" : " single"));
    col.dataset.variant = String(i);
    var head = el("div", "ops-col-head", [el("h2", "ops-col-title", variantName(v, i)), settingsLine(v), metricGrid(c, v)]);
    if (v.thinking) head.appendChild(el("p", "ops-hint ops-part", v.thinking));
    col.appendChild(head);
    var host = el("div", "ops-viewer"), app = null, current = 0;
    function show(k) {
      var st = Ops.viewState(app);
      if (app) app.destroy();
      current = k;
      // One sample: its summary is the figures above, so the viewer's own is left out (CSS).
      app = TP.mount(host, Ops.onePage(traces[v.traces[k]]), { chrome: false,
        genLabel: fixed ? "The fixed answer under this variant" : null,
        summaryTitle: "Sample " + (k + 1) + " of " + v.traces.length });
      Ops.restoreState(app, st);
      col.dataset.sample = String(k);
    }
    if (v.traces.length > 1) {
      var pick = Ops.seg(v.traces.map(function (k, j) {
        var seed = traces[k].request && traces[k].request.seed;
        return { label: String(j + 1), title: "sample " + (j + 1) + (seed !== null && seed !== undefined ? ", seed " + seed : "") };
      }), 0, function (j) { if (j !== current) show(j); }, "Sample");
      head.appendChild(el("div", "ops-samples", [el("span", "tp-label", "Sample"), pick.el,
        el("span", "ops-hint-inline", "of " + v.traces.length + " (the figures above: mean \u00b1 sd over all of them)")]));
    }
    col.appendChild(host);
    show(0);
    return col;
  }

  Ops.register({
    match: function (page) { return !!(page.comparison && page.comparison.variants); },
    render: render
  });
})();
