/* tokenprobe viewer: the "Inside the model" tab, for a trace that carries the optional
 * `internals` block (attention and the logit lens: internals.py, docs/architecture.md).
 * Loaded after viewer.js; it extends the viewer's App (window.TokenprobeViewer.App) with a
 * third tab beside Read and Step by step.
 *
 * Attention: pick a step's token, and every earlier token is shaded by the weight that the
 * selected layer and head (or the heads' mean) gave it when the model chose that token;
 * only the 16 largest weights of each were kept, so a token not listed is shown as "at most"
 * the smallest listed one. A layer x head grid picks what is shown. Logit lens: a layer x
 * position table of each layer's most likely token, and the rank and probability there of the
 * token finally chosen. Every label is model text and reaches the page through text nodes
 * only. Buttons carry aria-pressed; arrow keys move between steps and between grid cells. */
(function () {
  "use strict";
  var V = window.TokenprobeViewer;
  if (!V || !V.App) return;
  var App = V.App, el = V.dom.el, button = V.dom.button, clear = V.dom.clear;
  var tokenNode = V.format.tokenNode, pct = V.format.pct;

  // ---------------------------------------------------------------- decoding
  function bytesOf(b64) {
    var s = atob(b64), out = new Uint8Array(s.length);
    for (var i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
    return out;
  }
  function u32(b64) {
    var b = bytesOf(b64), dv = new DataView(b.buffer), out = new Array(b.length / 4);
    for (var i = 0; i < out.length; i++) out[i] = dv.getUint32(4 * i, true);
    return out;
  }
  function half(h) {
    var s = h & 0x8000 ? -1 : 1, e = (h >> 10) & 0x1f, f = h & 0x3ff;
    if (e === 0) return s * f * Math.pow(2, -24);
    if (e === 31) return f ? NaN : s * Infinity;
    return s * (1 + f / 1024) * Math.pow(2, e - 15);
  }
  function f16(b64) {
    var b = bytesOf(b64), dv = new DataView(b.buffer), out = new Array(b.length / 2);
    for (var i = 0; i < out.length; i++) out[i] = half(dv.getUint16(2 * i, true));
    return out;
  }
  function decode(internals) {
    var L = internals.layers, H = internals.heads;
    var att = (internals.attention || []).map(function (a) {
      return a ? { k: a.k, pos: u32(a.pos), w: f16(a.w) } : null;
    });
    var lens = (internals.lens || []).map(function (x) {
      return x ? { k: x.k, ids: u32(x.ids), lp: f16(x.lp), rank: u32(x.rank), chosenLp: f16(x.chosen_lp) } : null;
    });
    return { L: L, H: H, att: att, lens: lens, kinds: internals.kinds || [],
      context: internals.context || [], labels: internals.labels || {},
      method: internals.lens_method || "" };
  }

  // ---------------------------------------------------------------- the tab
  var baseShow = App.prototype.show, baseSetTab = App.prototype.setTab;

  App.prototype.show = function (i) {
    this.insideView = null;
    if (this.insideTab && this.insideTab.parentNode) this.insideTab.parentNode.removeChild(this.insideTab);
    this.insideTab = null;
    var doc = this.traces[i];
    var wantInside = this.tab === "inside";
    if (wantInside) this.tab = "read";
    baseShow.call(this, i);
    if (!this.tr || !doc || !doc.internals || !this.tabButtons) return;
    var self = this, tabs = this.tabButtons.read.parentNode;
    var b = button("Inside the model", "tp-tab");
    b.setAttribute("role", "tab");
    b.addEventListener("click", function () { self.setTab("inside"); });
    tabs.appendChild(b);
    this.insideTab = this.tabButtons.inside = b;
    this.insideView = el("section", "tp-inside");
    this.insideView.hidden = true;
    this.body.appendChild(this.insideView);
    this.inside = { data: decode(doc.internals), step: -1, layer: 0, head: -1 };
    if (wantInside) this.setTab("inside");
  };

  App.prototype.setTab = function (t) {
    baseSetTab.call(this, t);
    if (this.insideView) {
      this.insideView.hidden = t !== "inside";
      if (t === "inside") this.renderInside();
    }
  };

  // The steps the records belong to: a scored text's prompt steps, else the generation's.
  function labelsOf(app) {
    var tr = app.tr, sc = tr.main, out = [];
    for (var i = 0; i < sc.n; i++) out.push(tr.vocab.labels[sc.tok[i]]);
    return out;
  }

  App.prototype.renderInside = function () {
    var host = clear(this.insideView), d = this.inside.data, self = this;
    var steps = labelsOf(this);
    if (this.inside.step < 0) {
      for (var i = 0; i < steps.length; i++) if (d.att[i] || d.lens[i]) { this.inside.step = i; break; }
    }
    host.appendChild(el("p", "tp-note", "What the model computed inside at each step (recorded with --attention / --lens). " +
      "Pick a token below; position numbers count from the first token of the context."));
    host.appendChild(this.stepPicker(steps));
    if (d.kinds.indexOf("attention") >= 0) host.appendChild(this.attentionPanel(steps));
    if (d.kinds.indexOf("lens") >= 0) host.appendChild(this.lensPanel(steps));
  };

  App.prototype.stepPicker = function (steps) {
    var self = this, d = this.inside.data, box = el("div", "tp-inside-steps");
    box.setAttribute("role", "toolbar");
    box.setAttribute("aria-label", "Steps: pick the token whose computation is shown");
    box.style.cssText = "display:flex;flex-wrap:wrap;gap:2px;margin:.5em 0";
    var buttons = [];
    steps.forEach(function (label, i) {
      var has = d.att[i] || d.lens[i];
      var b = button([tokenNode(label)], "tp-seg-btn", "step " + (i + 1) + (has ? "" : " (nothing recorded)"));
      b.disabled = !has;
      b.setAttribute("aria-pressed", i === self.inside.step ? "true" : "false");
      if (i === self.inside.step) b.classList.add("on");
      b.addEventListener("click", function () { self.inside.step = i; self.renderInside(); focusStep(self, i); });
      b.addEventListener("keydown", function (e) {
        var j = i;
        if (e.key === "ArrowRight") j = next(i, 1); else if (e.key === "ArrowLeft") j = next(i, -1); else return;
        e.preventDefault();
        if (j !== i) { self.inside.step = j; self.renderInside(); focusStep(self, j); }
      });
      buttons.push(b);
      box.appendChild(b);
    });
    function next(i, dir) {
      for (var j = i + dir; j >= 0 && j < steps.length; j += dir) if (d.att[j] || d.lens[j]) return j;
      return i;
    }
    return box;
  };

  // What the unlisted weights hold together: 1 minus the listed sum, whose float16 rounding
  // (about 0.1 % each) makes a small remainder uncertain.
  function rest(x) {
    var slack = 1e-3 * Math.sqrt(16);
    return x <= slack ? "under " + pct(slack) + " (within the float16 rounding)" : "about " + pct(x);
  }

  function focusStep(app, i) {
    var b = app.insideView.querySelectorAll(".tp-inside-steps button")[i];
    if (b) b.focus();
  }

  // ---------------------------------------------------------------- attention
  App.prototype.attentionPanel = function (steps) {
    var self = this, d = this.inside.data, st = this.inside, box = el("section", "tp-inside-att");
    box.appendChild(el("h3", null, "Attention"));
    var a = d.att[st.step];
    if (!a) { box.appendChild(el("p", "tp-none", "No attention was recorded for this step.")); return box; }
    var row = st.head < 0 ? d.H : st.head, base = (st.layer * (d.H + 1) + row) * a.k;
    var weights = {}, smallest = Infinity, listed = 0;
    for (var j = 0; j < a.k; j++) {
      weights[a.pos[base + j]] = a.w[base + j];
      smallest = Math.min(smallest, a.w[base + j]);
      listed += a.w[base + j];
    }
    var which = "layer " + (st.layer + 1) + ", " + (st.head < 0 ? "mean of the " + d.H + " heads" : "head " + (st.head + 1));
    box.appendChild(el("p", "tp-note", "Shaded by the weight " + which + " gave each earlier token when the model chose step " +
      (st.step + 1) + ". The " + a.k + " largest weights were kept (float16); a token not shaded had at most " +
      pct(smallest) + ", and all of those together " + rest(1 - listed) + "."));
    var text = el("div", "tp-text tp-inside-context");
    text.setAttribute("aria-label", "The context, shaded by attention");
    var q = d.context.length + st.step; // the position of the chosen token
    for (var p = 0; p < q; p++) {
      var label = p < d.context.length ? d.context[p] : steps[p - d.context.length];
      var w = weights[p], span = el("span", "t", [tokenNode(label)]);
      var desc = w === undefined ? "at most " + pct(smallest) + " (not among the " + a.k + " largest)" : pct(w);
      span.title = "position " + p + ": " + desc;
      span.setAttribute("aria-label", "position " + p + ", " + desc);
      span.setAttribute("role", "img");
      if (w !== undefined) span.style.background = "rgba(230, 120, 20," + Math.min(1, Math.sqrt(w)).toFixed(3) + ")";
      text.appendChild(span);
    }
    var chosen = el("span", "t", [tokenNode(steps[st.step])]);
    chosen.style.outline = "2px solid currentColor";
    chosen.title = "step " + (st.step + 1) + ": the token chosen";
    text.appendChild(chosen);
    box.appendChild(text);
    box.appendChild(this.headGrid());
    return box;
  };

  App.prototype.headGrid = function () {
    var self = this, d = this.inside.data, st = this.inside;
    var table = el("table", "tp-inside-grid");
    table.setAttribute("aria-label", "Layer and head shown (arrow keys move)");
    var head = el("tr", null, [el("th", null, "layer")]);
    for (var h = 0; h < d.H; h++) head.appendChild(el("th", null, "head " + (h + 1)));
    head.appendChild(el("th", null, "mean"));
    table.appendChild(head);

    for (var l = 0; l < d.L; l++) {
      var tr = el("tr", null, [el("th", null, String(l + 1))]);

      for (var c = 0; c <= d.H; c++) {
        (function (layer, hh) {
          var on = layer === st.layer && hh === st.head;
          var b = button(on ? "\u25cf" : "\u00b7", "tp-seg-btn" + (on ? " on" : ""),
            "layer " + (layer + 1) + ", " + (hh < 0 ? "mean of the heads" : "head " + (hh + 1)));
          b.setAttribute("aria-pressed", on ? "true" : "false");
          b.addEventListener("click", function () { pick(layer, hh); });
          b.addEventListener("keydown", function (e) {
            var dl = { ArrowUp: -1, ArrowDown: 1 }[e.key] || 0, dh = { ArrowLeft: -1, ArrowRight: 1 }[e.key] || 0;
            if (!dl && !dh) return;
            e.preventDefault();
            var col = (hh < 0 ? d.H : hh) + dh, nl = Math.max(0, Math.min(d.L - 1, layer + dl));
            col = Math.max(0, Math.min(d.H, col));
            pick(nl, col === d.H ? -1 : col);
          });

          tr.appendChild(el("td", null, b));
        })(l, c === d.H ? -1 : c);
      }
      table.appendChild(tr);
    }
    function pick(layer, hh) {
      st.layer = layer; st.head = hh;
      self.renderInside();
      var b = self.insideView.querySelector(".tp-inside-grid button.on");
      if (b) b.focus();
    }
    return table;
  };

  // ---------------------------------------------------------------- logit lens
  App.prototype.lensPanel = function (steps) {
    var d = this.inside.data, st = this.inside, box = el("section", "tp-inside-lens");
    box.appendChild(el("h3", null, "Logit lens"));
    box.appendChild(el("p", "tp-note", "Method: " + d.method + " (nostalgebraist, 2020). Each cell is the token that " +
      "layer's state would predict if the model stopped there, with its probability; below it, the rank and " +
      "probability there of the token finally chosen. Known limits: the final norm and unembedding were trained for " +
      "the last layer only, so early layers often decode to noise or to the input token, and a token that appears " +
      "late may have been computed earlier in a form this reading cannot see (the tuned lens addresses this). " +
      "Layer 0 is the embeddings; the last layer is the model's own output. Values are float16."));
    var from = Math.max(0, st.step - 7), to = Math.min(steps.length, from + 12);
    var table = el("table", "tp-inside-lenstable");
    table.setAttribute("aria-label", "Logit lens: layers by position");
    var head = el("tr", null, [el("th", null, "layer")]);
    for (var i = from; i < to; i++) {
      var th = el("th", null, [tokenNode(steps[i])]);
      th.title = "step " + (i + 1);
      if (i === st.step) th.style.outline = "2px solid currentColor";
      head.appendChild(th);
    }
    table.appendChild(head);
    for (var l = d.L; l >= 0; l--) {
      var tr = el("tr", null, [el("th", null, l === 0 ? "0 (embeddings)" : l === d.L ? l + " (output)" : String(l))]);
      for (i = from; i < to; i++) {
        var x = d.lens[i];
        if (!x) { tr.appendChild(el("td", "tp-none", "\u2014")); continue; }
        var top = x.ids[l * x.k], p = Math.exp(x.lp[l * x.k]), r = x.rank[l], pc = Math.exp(x.chosenLp[l]);
        var cell = el("td", null, [el("div", null, [tokenNode(d.labels[top] || "#" + top), " " + pct(p)]),
          el("div", "tp-inside-rank", "chosen: #" + r + ", " + pct(pc))]);
        cell.style.background = "rgba(40, 140, 90," + Math.min(1, pc).toFixed(3) + ")";
        var alts = [];
        for (var j = 0; j < x.k; j++) alts.push((d.labels[x.ids[l * x.k + j]] || "#" + x.ids[l * x.k + j]) + " " + pct(Math.exp(x.lp[l * x.k + j])));
        cell.title = "layer " + l + ", step " + (i + 1) + ": " + alts.join(", ");
        tr.appendChild(cell);
      }
      table.appendChild(tr);
    }
    box.appendChild(table);
    return box;
  };
})();
