/* The branch tree page (page.tree, views/encode_ops.py): traces linked by `parent` are shown
 * one at a time in the full viewer, with the tree above it (every branch, indented under
 * the one it left, where it forked and how it goes on) and, in the text, a marker at each
 * step where another branch leaves: it opens the continuations from there (the one shown,
 * the original, the branches), and picking one shows that branch from the fork on, with its
 * own chips, popover and summary. Where the branches fork is the library's answer (the
 * `forks` of each trace); this file only draws it. The words are the web app's (Complete:
 * "original", "branch at token N"). */
(function () {
  "use strict";

  var TP = window.TokenprobeViewer, Ops = window.TokenprobeOps;
  var D = TP.dom, F = TP.format, el = D.el, append = D.append, clear = D.clear;

  // The web app's label for a trace of a tree (live.js, branchLabel).
  function branchLabel(page, i) {
    var doc = page.traces[i];
    if (!doc.parent) return "original";
    var from = page.tree.nodes[i].parent;
    return "branch at token " + (doc.parent.step + 1) + ": " + JSON.stringify(doc.parent.token) +
      (from !== null && from > 0 ? " (of " + (from + 1) + ")" : "");
  }

  // A few words of a trace from step k on (a preview: the tokens' text, a character split
  // over tokens as the character).
  function preview(doc, k, n) {
    var steps = Ops.stepsOf(doc), out = "";
    for (var i = k; i < steps.length && out.length < (n || 60); i++) {
      var st = steps[i];
      out += st.frag ? (i === k && !st.text ? st.glyph : st.text) : st.label;
    }
    return out.replace(/\s+/g, " ") + (i < steps.length ? "\u2026" : "");
  }

  function forkIcon() {
    var s = D.svg("svg", { viewBox: "0 0 16 16", width: "12", height: "12", "aria-hidden": "true", class: "ops-fork-icon" });
    s.appendChild(D.svg("path", { d: "M4 2v12M4 8c0-3 8-2 8-6M12 2v0", fill: "none", stroke: "currentColor", "stroke-width": "1.8", "stroke-linecap": "round" }));
    s.appendChild(D.svg("circle", { cx: "12", cy: "3", r: "1.8", fill: "currentColor" }));
    s.appendChild(D.svg("circle", { cx: "4", cy: "14", r: "1.8", fill: "currentColor" }));
    return s;
  }

  function render(root, page) {
    var tree = page.tree, n = page.traces.length, current = -1, app = null;
    var first = page.traces[0].request || {};
    var title = page.title || (first.prompt ? String(first.prompt).slice(0, 120) : null);
    var slot = el("div", "ops-tree");
    var outline = el("ol", "ops-outline");
    var count = el("span", "ops-tree-count num");
    var prev = D.button("\u2039", "tp-icon-btn ops-tree-step", "Previous branch");
    var next = D.button("\u203a", "tp-icon-btn ops-tree-step", "Next branch");
    prev.addEventListener("click", function () { if (current > 0) show(current - 1); });
    next.addEventListener("click", function () { if (current < n - 1) show(current + 1); });
    append(slot, [el("div", "ops-tree-head", [el("span", "ops-tree-title", "Branches"), count, prev, next,
      el("span", "ops-hint-inline", "the markers in the text switch branches where they fork")]), outline]);
    var menu = el("div", "ops-fork-menu");
    menu.hidden = true;
    menu.setAttribute("role", "menu");
    document.body.appendChild(menu);
    document.addEventListener("click", function (e) {
      if (!menu.hidden && !menu.contains(e.target) && !(e.target.closest && e.target.closest(".ops-fork"))) closeMenu();
    });
    document.addEventListener("keydown", function (e) { if (e.key === "Escape" && !menu.hidden) closeMenu(true); });
    // Up and down move between the continuations.
    menu.addEventListener("keydown", function (e) {
      if (e.key !== "ArrowDown" && e.key !== "ArrowUp") return;
      var opts = Array.prototype.slice.call(menu.querySelectorAll(".ops-fork-opt"));
      var at = opts.indexOf(document.activeElement), step = e.key === "ArrowDown" ? 1 : -1;
      opts[(at + step + opts.length) % opts.length].focus();
      e.preventDefault();
    });
    // The menu follows its marker when the page moves, and closes once the marker is gone.
    window.addEventListener("resize", function () { closeMenu(); });
    window.addEventListener("scroll", function () { if (!menu.hidden) place(); });

    // The outline: each trace under the one it left, in the order of the page.
    var kids = {}, items = [];
    tree.nodes.forEach(function (nd, i) { var p = nd.parent === null ? "root" : nd.parent; (kids[p] = kids[p] || []).push(i); });
    function walk(i, depth) {
      var b = D.button([Ops.badge(i + 1), el("span", "ops-outline-label", branchLabel(page, i)),
        el("span", "ops-outline-text", preview(page.traces[i], page.traces[i].parent ? page.traces[i].parent.step : 0, 90))], "ops-outline-btn");
      b.style.paddingLeft = (8 + 22 * depth) + "px";
      b.addEventListener("click", function () { show(i); });
      items[i] = b;
      outline.appendChild(el("li", depth ? "ops-outline-child" : null, b));
      (kids[i] || []).forEach(function (k) { walk(k, depth + 1); });
    }
    (kids.root || []).forEach(function (i) { walk(i, 0); });

    var opener = null;
    function closeMenu(refocus) {
      menu.hidden = true;
      if (refocus && opener) opener.focus();
      opener = null;
    }
    function place() {
      var r = opener.getBoundingClientRect(), w = menu.offsetWidth, h = menu.offsetHeight;
      if (r.bottom < 0 || r.top > window.innerHeight) { closeMenu(); return; }
      menu.style.left = Math.max(8, Math.min(r.left, window.innerWidth - w - 8)) + "px";
      menu.style.top = (r.bottom + 6 + h > window.innerHeight - 8 ? Math.max(8, r.top - 6 - h) : r.bottom + 6) + "px";
    }
    function openMenu(marker, fork) {
      clear(menu);
      opener = marker;
      menu.appendChild(el("div", "ops-fork-menu-head", "At token " + (fork.step + 1) + ", the text goes on with"));
      fork.options.forEach(function (j) {
        var d = page.traces[j], s = d.steps, lp = s.lp[fork.step];
        var role = j === current ? "shown" : !d.parent ? "original" : "branch " + (j + 1);
        var row = D.button([el("span", "ops-fork-tok", F.tokenNode(d.vocab[s.tok[fork.step]])),
          el("span", "ops-fork-p num", lp === null ? Ops.NR : F.pct(Math.exp(lp / 1e4))),
          el("span", "ops-fork-role", role),
          el("span", "ops-fork-text", preview(d, fork.step + 1, 48))], "ops-fork-opt" + (j === current ? " on" : ""));
        row.setAttribute("role", "menuitem");
        row.dataset.trace = String(j);
        row.addEventListener("click", function (e) {
          e.stopPropagation();
          closeMenu();
          if (j !== current) show(j, { step: fork.step, top: marker.getBoundingClientRect().top });
        });
        menu.appendChild(row);
      });
      menu.appendChild(el("p", "ops-fork-foot", "The probability is the one the model gave that token there."));
      menu.hidden = false;
      place();
      var first = menu.querySelector(".ops-fork-opt");
      if (first) first.focus();
    }

    // Markers before the first chip of each fork, and the forced token marked as such.
    function markForks(i) {
      var doc = page.traces[i];
      (tree.forks[i] || []).forEach(function (fork) {
        var chip = app.chipOfStep(fork.step);
        if (!chip || !chip.parentNode) return;
        var marker = D.button([forkIcon(), String(fork.options.length)], "ops-fork",
          fork.options.length + " continuations at token " + (fork.step + 1) + ": switch branch");
        marker.dataset.step = String(fork.step);
        marker.addEventListener("click", function (e) {
          e.stopPropagation();
          if (!menu.hidden && opener === marker) closeMenu(); else openMenu(marker, fork);
        });
        chip.parentNode.insertBefore(marker, chip);
      });
      var forced = doc.steps && doc.steps.forced;
      if (forced) forced.forEach(function (f, k) { if (f) { var c = app.chipOfStep(k); if (c) c.classList.add("ops-forced"); } });
    }

    function show(i, keep) {
      var st = Ops.viewState(app);
      closeMenu();
      Ops.hideTip();
      if (app) app.destroy();
      current = i;
      app = TP.mount(root, Ops.onePage(page.traces[i], title), { slot: slot });
      root.classList.add("ops-page", "ops-tree-page");
      Ops.restoreState(app, st);
      if (app.tr) markForks(i);
      count.textContent = (i + 1) + " / " + n;
      prev.disabled = i <= 0;
      next.disabled = i >= n - 1;
      items.forEach(function (b, j) { if (b) { b.classList.toggle("on", j === i); b.setAttribute("aria-current", j === i ? "true" : "false"); } });
      document.documentElement.setAttribute("data-tp-branch", String(i));
      if (keep) {
        // Keep the fork where the reader's eye is, and show where the new text starts.
        var m = root.querySelector('.ops-fork[data-step="' + keep.step + '"]');
        if (m) window.scrollBy(0, m.getBoundingClientRect().top - keep.top);
        var chip = app.chipOfStep(keep.step);
        if (chip) { chip.classList.add("flash"); setTimeout(function () { chip.classList.remove("flash"); }, 1200); }
      }
    }

    var start = (kids.root || [0])[0];
    show(start);
    return { show: show, current: function () { return current; } };
  }

  Ops.register({
    match: function (page) {
      return !!(page.tree && page.tree.nodes && page.traces && page.traces.length > 1 &&
        page.traces.every(function (d) { return !TP.schemaProblem(d); }));
    },
    render: render
  });
})();
