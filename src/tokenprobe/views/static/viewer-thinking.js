/* tokenprobe viewer: a reasoning model's thinking folded above the answer, its tokens with the
 * answer's popover.
 * (One of the viewer's files, loaded in the order of views/html.py's SCRIPTS; they share
 * their parts through the TokenprobeParts namespace. See docs/architecture.md.) */
(function (root) {
  "use strict";
  var P = root.TokenprobeParts = root.TokenprobeParts || {};
  var plural = P.plural, summaryPerToken = P.summaryPerToken, countChars = P.countChars,
    loadScope = P.loadScope, clear = P.clear, el = P.el, App = P.App, THINK_POP = P.THINK_POP,
    makeChip = P.makeChip;

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
    this.popBody(this.thinkSc, g, "thinking", "Thinking token details");
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

  P.thinkingLine = thinkingLine;
})(typeof window !== "undefined" ? window : globalThis);
