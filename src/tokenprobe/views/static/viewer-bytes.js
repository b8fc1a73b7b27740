/* tokenprobe viewer: token labels that never hide bytes behind U+FFFD, glyph groups (a port of
 * textbytes.py), whitespace drawn visibly, long labels clipped.
 * (One of the viewer's files, loaded in the order of views/html.py's SCRIPTS; they share
 * their parts through the TokenprobeParts namespace. See docs/architecture.md.) */
(function (root) {
  "use strict";
  var P = root.TokenprobeParts = root.TokenprobeParts || {};

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

  P.hex2 = hex2; P.decodeLabel = decodeLabel; P.leadNeed = leadNeed; P.glyphGroups = glyphGroups;
  P.WS_RE = WS_RE; P.visibleWs = visibleWs; P.LABEL_MAX = LABEL_MAX; P.countChars = countChars;
  P.clipLabel = clipLabel;
  // In node (the tests), the same parts as a module.
  if (typeof module === "object" && module.exports) module.exports = P;
})(typeof window !== "undefined" ? window : globalThis);
