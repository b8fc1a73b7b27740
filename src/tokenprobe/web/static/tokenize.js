// Tokenize mode: how several tokenizers split the same text, side by side (what
// `tokenprobe tokenize --html` writes): for each, the token count, bytes per token, the
// characters spelled over several tokens and the byte-fallback pieces, then the text token
// by token on alternating shades. A character split over tokens is shown once, underlined,
// with the count of its tokens (the viewer's glyph grouping, done by the server); spaces,
// tabs and newlines are drawn visibly. Every label goes in as text, never as markup.
// Leaves out the tokenizers (routes_tokenize.py, tokenizers.py).

import { get, post } from "./api.js";
import { onModelChange } from "./state.js";
import { clear, el, status } from "./ui.js";

const $ = (id) => document.getElementById(id);
const VISIBLE = { " ": "\u00b7", "\t": "\u2192", "\n": "\u21b5\n" };
const visible = (s) => s.replace(/[ \t\n]/g, (c) => VISIBLE[c]);
const num = (n) => Number(n).toLocaleString("en-US");

function summary(s) {
  let t = s.tokens === 0 ? "0 tokens"
    : num(s.tokens) + " tokens, " + num(s.bytes) + " bytes, " + s.bytes_per_token.toFixed(2) + " bytes/token";
  if (s.vocab_size) t += ", vocabulary " + num(s.vocab_size);
  t += "; " + s.split_glyphs + " characters over several tokens, " + s.fallback_tokens +
    " tokens holding part of a character (byte fallback)";
  return t;
}

function drawSplit(s, fewest) {
  const text = el("div", "tok-text");
  s.display.forEach((g, k) => {
    const span = el("span", "tok-piece tok-s" + (k % 2) + (g.ids.length > 1 ? " tok-glyph" : "") +
      (g.fallback ? " tok-fallback" : ""), visible(g.text) || "\u2205");
    span.title = (g.ids.length > 1 ? g.ids.length + " tokens, ids " : "id ") + g.ids.join(", ");
    // A glyph and its count stay on one line together.
    text.appendChild(g.ids.length > 1 ? el("span", "tok-unit", [span, el("span", "tok-count", "\u00d7" + g.ids.length)]) : span);
  });
  const title = el("h2", "wa-card-title", s.tokenizer);
  if (fewest) title.appendChild(el("span", "wa-sub", " fewest tokens"));
  return el("section", "wa-card tok-split", [title, el("p", "wa-muted wa-small tok-stats", summary(s)), text]);
}

export function initTokenize() {
  const form = $("tok-form"), box = $("tok-list"), line = $("tok-status"), result = $("tok-result");
  let loaded = false;

  async function drawChoices() {
    let list;
    try { list = (await get("/api/tokenizers")).tokenizers; } catch (e) { status(line, e.message, "error"); return; }
    // Read the choices after the answer: two draws may be under way at once.
    const before = new Set(Array.from(box.querySelectorAll("input:checked")).map((i) => i.value));
    clear(box);
    list.forEach((t, i) => {
      const input = el("input");
      // At first: the first model's tokenizer and the next two offered.
      Object.assign(input, { type: "checkbox", value: t.id, checked: loaded ? before.has(t.id) : i < 3 });
      box.appendChild(el("label", "cmp-model", [input, " " + t.label + " ", el("em", "wa-hint", t.note)]));
    });
    loaded = true;
  }
  onModelChange(drawChoices);

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const chosen = Array.from(box.querySelectorAll("input:checked")).map((i) => i.value);
    const text = $("tok-text").value;
    if (!chosen.length) { status(line, "Choose at least one tokenizer.", "error"); return; }
    if (!text) { status(line, "Give a text to split.", "error"); return; }
    status(line, "Splitting\u2026");
    $("tok-go").disabled = true;
    try {
      const r = await post("/api/tokenize", { text, tokenizers: chosen });
      clear(result);
      const least = Math.min(...r.splits.map((s) => s.tokens));
      result.appendChild(el("p", "wa-muted wa-small", num(r.bytes) + " bytes, " + num(r.chars) +
        " characters. Each token on its own shade; a character spelled over several tokens is shown once, " +
        "underlined, with the count of its tokens; spaces, tabs and newlines drawn as \u00b7 \u2192 \u21b5."));
      const row = el("div", "tok-splits");
      r.splits.forEach((s) => row.appendChild(drawSplit(s, r.splits.length > 1 && s.tokens === least)));
      result.appendChild(row);
      status(line, "");
    } catch (err) {
      status(line, err.message, "error");
    } finally {
      $("tok-go").disabled = false;
    }
  });

  return { focus() { if (!loaded) drawChoices(); } };
}
