/* tokenprobe viewer: small DOM helpers (text only, never markup), the token node for lists,
 * the theme.
 * (One of the viewer's files, loaded in the order of views/html.py's SCRIPTS; they share
 * their parts through the TokenprobeParts namespace. See docs/architecture.md.) */
(function (root) {
  "use strict";
  var P = root.TokenprobeParts = root.TokenprobeParts || {};
  var clipLabel = P.clipLabel, visibleWs = P.visibleWs;

  var SVG_NS = "http://www.w3.org/2000/svg";

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

  // Theme: the system's scheme unless the reader picked one (remembered when storage works;
  // a sandboxed notebook frame has none).

  function storedTheme() { try { return window.localStorage.getItem("tokenprobe-theme"); } catch (e) { return null; } }
  function storeTheme(v) { try { window.localStorage.setItem("tokenprobe-theme", v); } catch (e) { /* no storage */ } }
  function currentTheme() {
    var t = document.documentElement.getAttribute("data-theme");
    if (t) return t;
    return window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light";
  }


  P.SVG_NS = SVG_NS; P.el = el; P.append = append; P.attrs = attrs; P.button = button; P.svg = svg;
  P.clear = clear; P.tokenNode = tokenNode; P.storedTheme = storedTheme; P.storeTheme = storeTheme;
  P.currentTheme = currentTheme;
})(typeof window !== "undefined" ? window : globalThis);
