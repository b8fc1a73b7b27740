/* tokenprobe viewer: draws traces in the tokenprobe/page@1 encoding (docs/architecture.md).
 * An exported page embeds them in #tp-data and the viewer boots on it; the web app loads
 * these same files and mounts viewers on its own containers (window.TokenprobeViewer.mount),
 * feeding them live steps as they arrive (LiveDoc, App.update). Everything the model wrote
 * is data: it reaches the page only through textContent and attribute setters, never
 * through markup. No network access.
 *
 * This file is the last of the viewer's (views/html.py's VIEWER_SCRIPTS, loaded in that
 * order, sharing their parts through the TokenprobeParts namespace): the DOM-free parts
 * (viewer-format.js, viewer-math.js, viewer-bytes.js, viewer-trace.js; they run in node
 * too), the DOM helpers (viewer-dom.js), the viewer (viewer-app.js) and its views, each
 * adding its methods to App (toolbar, read, popover, chart, step, live, thinking). Here:
 * the public API, window.TokenprobeViewer, and the boot of an exported page. The pages of
 * operations (comparison, choice, sweep, branch tree) are drawn by ops*.js, which register
 * themselves in pageViews and mount this viewer for each trace they show. */
(function (root) {
  "use strict";
  var P = root.TokenprobeParts = root.TokenprobeParts || {};
  var fmtNum = P.fmtNum, fmtPct = P.fmtPct, fmtRange = P.fmtRange, fmtSmallProb = P.fmtSmallProb,
    plural = P.plural, summaryPerToken = P.summaryPerToken, summaryWhole = P.summaryWhole,
    LiveDoc = P.LiveDoc, PAGE_FORMAT = P.PAGE_FORMAT, SCHEMA = P.SCHEMA, loadTrace = P.loadTrace,
    schemaProblem = P.schemaProblem, append = P.append, attrs = P.attrs, button = P.button,
    clear = P.clear, currentTheme = P.currentTheme, el = P.el, storeTheme = P.storeTheme,
    storedTheme = P.storedTheme, svg = P.svg, tokenNode = P.tokenNode, App = P.App,
    glyphNode = P.glyphNode, stepTokenNode = P.stepTokenNode;

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

  P.mount = mount; P.pageViews = pageViews;
})(typeof window !== "undefined" ? window : globalThis);
