// The viewer's DOM-free files (views/static/viewer-{format,math,bytes,trace}.js), loaded in
// node as the page loads them, against the Python library's numbers on shared cases
// (cases.json, written by make_cases.py): temperature re-normalisation and its bounds, the
// distribution a token was drawn from, entropies as the page reads them, byte labels and
// glyph groups. Run: node --test tests/js/
"use strict";

const test = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const path = require("node:path");

const STATIC = path.join(__dirname, "..", "..", "src", "tokenprobe", "views", "static");
const P = require(path.join(STATIC, "viewer-trace.js"));
const CASES = JSON.parse(fs.readFileSync(path.join(__dirname, "cases.json"), "utf-8"));

// The two sides compute the same doubles by different summation orders (math.fsum against
// plain sums), so they may differ in the last bits: relatively, and absolutely where a
// probability is a difference such as 1 − Σ listed (1.1e-16 against 0). Any real
// disagreement is far larger than either.
const REL = 1e-9, ABS = 1e-12;
// The page encoding carries entropies rounded to 1e-4 nats (encode.py).
const ENTROPY_STEP = 1e-4;

function close(js, py, where, abs) {
  if (py === null) {
    assert.ok(js === null || Number.isNaN(js), `${where}: ${js}, the library has none`);
    return;
  }
  const tol = REL * Math.abs(py) + (abs === undefined ? ABS : abs);
  assert.ok(Math.abs(js - py) <= tol, `${where}: ${js} != ${py}`);
}

function sameView(js, py, where) {
  if (py === null) { assert.equal(js, null, `${where}: the library has no view`); return; }
  assert.notEqual(js, null, `${where}: the page has no view`);
  assert.equal(js.low.length, py.low.length, `${where}: number of candidates`);
  for (let i = 0; i < py.low.length; i++) {
    close(js.low[i], py.low[i], `${where} candidate ${i} low`);
    close(js.high[i], py.high[i], `${where} candidate ${i} high`);
  }
  close(js.tailLow, py.tail_low, `${where} tail low`);
  close(js.tailHigh, py.tail_high, `${where} tail high`);
  assert.equal(js.accuracy, py.accuracy, `${where}: accuracy`);
  assert.equal(js.basis, py.basis, `${where}: basis`);
  assert.equal(P.viewNote(js), py.note, `${where}: note`);
}

test("the cases hold every kind of trace", () => {
  const names = CASES.traces.map((c) => c.name);
  assert.ok(names.length >= 7, names.join(", "));
  const accuracies = new Set();
  for (const c of CASES.traces) {
    for (const views of Object.values(c.at_temperature)) views.forEach((v) => v && accuracies.add(v.accuracy));
  }
  // Points from a tail summary, interpolated and extrapolated tails, bounds from a top-N list.
  for (const a of ["exact", "interpolated", "approximate", "bounded"]) assert.ok(accuracies.has(a), a);
});

for (const c of CASES.traces) {
  const tr = P.loadTrace(c.doc), sc = tr.main;

  test(`${c.name}: each step at each temperature as Trace.at_temperature`, () => {
    assert.equal(sc.n, c.entropy.length);
    for (const [T, views] of Object.entries(c.at_temperature)) {
      views.forEach((py, s) => sameView(P.stepAtT(sc, s, Number(T), tr.grid, tr.vocabSize), py,
        `T=${T} step ${s}`));
    }
  });

  test(`${c.name}: the distribution each token was drawn from as distribution.step_sampled`, () => {
    for (const set of c.sampled) {
      const req = { temperature: set.temperature, top_k: set.top_k, top_p: set.top_p };
      set.views.forEach((py, s) => sameView(
        P.sampledAtT(sc, s, req, tr.grid, tr.vocabSize, c.doc.logprobs_kind), py,
        `T=${set.temperature} top_k=${set.top_k} top_p=${set.top_p} step ${s}`));
    }
  });

  test(`${c.name}: entropies and glyph groups as the trace and textbytes.glyph_groups`, () => {
    c.entropy.forEach((h, s) => close(sc.H[s], h, `entropy of step ${s}`, ENTROPY_STEP / 2 + ABS));
    assert.deepEqual(Array.from(sc.groups), c.groups);
    // A glyph's entropy is its most uncertain step's.
    for (let g = 0; g < sc.G; g++) {
      const hs = c.entropy.slice(c.groups[g], c.groups[g + 1]).filter((h) => h !== null);
      close(sc.gH[g], hs.length ? Math.max(...hs) : null, `entropy of glyph ${g}`,
        ENTROPY_STEP / 2 + ABS);
    }
  });
}

test("byte labels and glyph groups as textbytes.token_label and glyph_groups", () => {
  assert.ok(CASES.bytes.length >= 100);
  let split = 0;
  for (const c of CASES.bytes) {
    const pieces = c.pieces.map((p) => Uint8Array.from(p));
    pieces.forEach((p, i) => assert.equal(P.decodeLabel(p), c.labels[i], `piece ${c.pieces[i]}`));
    const sc = { n: pieces.length, tok: pieces.map((_, i) => i) };
    const groups = Array.from(P.glyphGroups(sc, { labels: c.labels, bytes: pieces }));
    assert.deepEqual(groups, c.groups, JSON.stringify(c.pieces));
    for (let g = 0; g + 1 < groups.length; g++) {
      if (groups[g + 1] - groups[g] > 1) split++;
      const joined = Buffer.concat(pieces.slice(groups[g], groups[g + 1]));
      assert.equal(P.decodeLabel(Uint8Array.from(joined)), c.joined[g]);
    }
  }
  assert.ok(split > 20, "the cases split characters over tokens");
});

test("the parts load without a DOM", () => {
  assert.equal(typeof globalThis.document, "undefined");
  for (const name of ["fmtPct", "stepAtT", "sampledAtT", "glyphGroups", "loadTrace", "LiveDoc"]) {
    assert.equal(typeof P[name], "function", name);
  }
});
