// Small shared pieces of the page: elements (text only, never markup), the sampling
// settings form, status lines, times. Number formats and DOM helpers are the viewer's own
// (window.TokenprobeViewer, loaded before this module).

const V = window.TokenprobeViewer;
export const fmt = V.format;
export const el = V.dom.el;
export const clear = V.dom.clear;

// The viewer's button, in the app's style, with its click handler.
export function button(label, cls, onClick, title) {
  const b = V.dom.button(label, "wa-btn " + (cls || ""), title);
  if (onClick) b.addEventListener("click", onClick);
  return b;
}

export function status(node, text, kind) {
  node.textContent = text || "";
  node.className = "wa-line" + (kind ? " wa-" + kind : "");
}

export function when(iso) {
  const t = Date.parse(iso);
  if (isNaN(t)) return String(iso);
  const s = (Date.now() - t) / 1000;
  if (s < 60) return "just now";
  if (s < 3600) return Math.floor(s / 60) + " min ago";
  if (s < 86400) return Math.floor(s / 3600) + " h ago";
  return new Date(t).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

// The sampling settings shared by Chat and Complete: temperature (slider and number),
// top-p, max tokens, alternatives, seed. Returns {read()} giving the API's fields.
export function samplingForm(host, defaults) {
  const d = Object.assign({ temperature: 1, top_p: 1, max_tokens: 64, alternatives: 10, seed: "" }, defaults || {});
  const id = host.id;
  const t = el("input", "wa-range");
  Object.assign(t, { type: "range", min: "0", max: "2", step: "0.05", value: String(d.temperature), id: id + "-t" });
  t.setAttribute("aria-label", "Sampling temperature");
  const tv = el("output", "wa-tval num", Number(d.temperature).toFixed(2));
  t.addEventListener("input", () => { tv.textContent = Number(t.value).toFixed(2); });
  const num = (name, label, attrs, value, hint) => {
    const input = el("input");
    Object.assign(input, { type: "number", value: String(value), id: id + "-" + name }, attrs);
    const f = el("label", "wa-field wa-inline", [el("span", null, label), input]);
    if (hint) f.title = hint;
    return [f, input];
  };
  const [fp, p] = num("top_p", "Top-p", { min: "0.01", max: "1", step: "0.01" }, d.top_p, "nucleus sampling: keep the most likely tokens up to this mass");
  const [fm, m] = num("max", "Max tokens", { min: "1", max: "4096", step: "1" }, d.max_tokens);
  const [fa, a] = num("alt", "Alternatives", { min: "0", max: "100", step: "1" }, d.alternatives, "alternatives recorded per token");
  const [fs, s] = num("seed", "Seed", { min: "0", step: "1", placeholder: "random" }, d.seed, "the same seed gives the same sample");
  const tf = el("label", "wa-field wa-temp", [el("span", null, ["Temperature ", tv]), t]);
  tf.title = "0 is greedy: always the most likely token";
  host.append(tf, fp, fm, fa, fs);
  return {
    temperature: t,
    // Show the settings a saved trace was made with.
    write(req) {
      if (!req) return;
      if (typeof req.temperature === "number") { t.value = String(req.temperature); tv.textContent = req.temperature.toFixed(2); }
      if (typeof req.top_p === "number") p.value = String(req.top_p);
      if (typeof req.max_tokens === "number") m.value = String(req.max_tokens);
      if (typeof req.alternatives === "number") a.value = String(req.alternatives);
      s.value = req.seed === null || req.seed === undefined ? "" : String(req.seed);
    },
    read() {
      const out = {
        temperature: Number(t.value), top_p: Number(p.value), max_tokens: Number(m.value),
        alternatives: Number(a.value),
      };
      if (s.value !== "") out.seed = Number(s.value);
      return out;
    },
  };
}

// A short figure line for an answer: tokens, the per-token probability (geometric and
// arithmetic means, named as such) and the whole answer's probability.
export function figures(doc) {
  const s = doc && doc.summary;
  if (!s || !s.tokens) return "";
  return fmt.plural(s.tokens, "token", "tokens") + " \u00b7 per-token probability: " + fmt.perToken(s) +
    " \u00b7 whole answer " + fmt.whole(s);
}
