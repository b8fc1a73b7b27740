// Chat mode: a system prompt, turns, each answer streamed in as token chips, and the
// confidence panel of the selected answer. The conversation sent with each message is the
// turns so far, each answer as the branch shown. Leaves out the viewer and the stream.

import { TraceBox } from "./live.js";
import { currentModel, go, mark, onModelChange } from "./state.js";
import { button, clear, el, figures, fmt, samplingForm } from "./ui.js";

const $ = (id) => document.getElementById(id);

export function initChat() {
  const log = $("chat-log"), input = $("chat-input"), form = $("chat-form");
  const send = $("chat-send"), stop = $("chat-stop"), panel = $("chat-panel");
  const system = $("chat-system"), empty = $("chat-empty"), which = $("chat-panel-which");
  const sampling = samplingForm($("chat-sampling"), { temperature: 0.7, max_tokens: 96 });
  let turns = []; // {role, content} or {role: "assistant", box, head}
  let selected = null, active = null;
  const panelHint = Array.from(panel.childNodes); // what the panel says with no answer

  if (window.matchMedia("(max-width: 860px)").matches) $("chat-settings").open = false;

  function noteModel() {
    const m = currentModel(), note = $("chat-base-note");
    clear(note);
    note.hidden = !(m && m.note);
    if (note.hidden) return;
    note.append(el("span", null, [el("b", null, m.label), " is " + m.note.replace(/; Complete mode.*$/, "") + ". "]),
      button("Try Complete mode", "wa-link", () => go("complete")));
  }
  onModelChange(noteModel);

  function select(turn) {
    if (selected === turn) return;
    if (selected) { selected.el.classList.remove("selected"); selected.box.showPanel(null); }
    selected = turn;
    if (!turn) { clear(panel).append(...panelHint); which.textContent = ""; return; }
    turn.el.classList.add("selected");
    clear(panel);
    turn.box.showPanel(panel);
    const n = turns.filter((t) => t.box).indexOf(turn) + 1;
    which.textContent = "\u00b7 answer " + n;
  }

  function addUser(text) {
    empty.hidden = true;
    const e = el("div", "turn turn-user", el("div", "bubble", text));
    log.appendChild(e);
    turns.push({ role: "user", content: text, el: e });
  }

  function addAssistantText(text) {
    const e = el("div", "turn turn-assistant turn-plain", el("div", "bubble bubble-plain", text));
    log.appendChild(e);
    turns.push({ role: "assistant", content: text, el: e });
  }

  // A reasoning model's answer: the figure line is the answer's (as the panel is), and the
  // thinking's own figures follow it, named as such.
  function thinkingFigures(doc) {
    const r = doc && doc.reasoning;
    if (!r) return "";
    const s = r.summary;
    if (!s || !s.reported) return " \u00b7 thinking: no logprobs reported";
    return " \u00b7 thinking: " + fmt.plural(s.tokens, "token", "tokens") +
      ", per-token probability " + fmt.perToken(s);
  }

  function addAnswer() {
    const e = el("div", "turn turn-assistant");
    const head = el("div", "turn-head");
    e.appendChild(head);
    log.appendChild(e);
    const turn = { role: "assistant", el: e, head };
    turn.box = new TraceBox(e, {
      viewer: { chrome: false, toolbar: false, prompt: false, panel: "none", onPick: true,
        pickHint: "Click the token to pin this, then click an alternative to branch the answer from there." },
      onSelect: () => select(turn),
      onBusy: (busy) => { busyState(busy ? turn : null); },
      onChange: (box) => {
        head.textContent = figures(box.doc) + thinkingFigures(box.doc);
        if (box.doc) mark("chat", box.doc.id);
      },
    });
    e.addEventListener("click", () => select(turn));
    turns.push(turn);
    return turn;
  }

  function busyState(turn) {
    active = turn;
    send.hidden = !!turn;
    stop.hidden = !turn;
  }

  function messages() {
    const out = [];
    for (const t of turns) {
      const content = t.box ? (t.box.doc ? t.box.doc.text : null) : t.content;
      if (content === null || content === undefined) continue;
      out.push({ role: t.role, content });
    }
    return out;
  }

  function submit() {
    const text = input.value;
    if (!text.trim() || active) return;
    addUser(text);
    input.value = "";
    const turn = addAnswer();
    select(turn);
    const m = currentModel();
    const body = Object.assign({ mode: "chat", model: m ? m.id : undefined, messages: messages() },
      sampling.read());
    if (system.value.trim()) body.system = system.value;
    turn.box.run("/api/generate", body);
    turn.el.scrollIntoView({ block: "end", behavior: "smooth" });
  }

  form.addEventListener("submit", (e) => { e.preventDefault(); submit(); });
  input.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); submit(); }
  });
  stop.addEventListener("click", () => { if (active) active.box.stop(); });

  function reset() {
    if (active) active.box.stop();
    // An answer's turn holds its figure line besides the box: the whole turn goes.
    turns.forEach((t) => { if (t.box) t.box.destroy(); t.el.remove(); });
    turns = [];
    select(null);
    busyState(null);
    empty.hidden = false;
    mark("chat");
  }
  $("chat-new").addEventListener("click", reset);

  return {
    // Reopen a saved chat answer: its conversation, and the answer with its branch tree.
    open(entry) {
      reset();
      const doc = entry.traces[entry.index];
      const msgs = (doc.request && doc.request.messages) || [];
      sampling.write(doc.request);
      system.value = "";
      for (const m of msgs) {
        if (m.role === "system") system.value = m.content;
        else if (m.role === "user") addUser(m.content);
        else addAssistantText(m.content);
      }
      const turn = addAnswer();
      turn.box.setTree(entry.traces, entry.index);
      select(turn);
    },
    focus() { noteModel(); input.focus(); },
  };
}
