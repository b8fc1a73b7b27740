// What the page's modes share: the offered models, the one selected, the server's limits,
// and moving between modes (the address's #/mode/id part, so a reload comes back).

export const state = {
  models: [],
  model: null, // the selected model's id
  info: null,
  listeners: [],
  addModel: null, // set by app.js: ({spec, base_url}) opens "add a model" with these filled in
};

export function currentModel() {
  return state.models.find((m) => m.id === state.model) || null;
}

export function onModelChange(fn) { state.listeners.push(fn); }

export function setModels(models, selected) {
  state.models = models;
  if (!models.some((m) => m.id === state.model)) state.model = selected || (models[0] && models[0].id);
  state.listeners.forEach((fn) => fn());
}

export function selectModel(id) {
  state.model = id;
  try { localStorage.setItem("tokenprobe-model", id); } catch (e) { /* no storage */ }
  state.listeners.forEach((fn) => fn());
}

// Go to a mode, optionally showing a saved entry there: #/mode or #/mode/ID (the id
// encoded: app.js decodes it).
export function go(mode, id) {
  const hash = "#/" + mode + (id ? "/" + encodeURIComponent(id) : "");
  if (location.hash !== hash) location.hash = hash;
}

// Record in the address which entry a mode shows, without a new history step.
export function mark(mode, id) {
  history.replaceState(null, "", "#/" + mode + (id ? "/" + encodeURIComponent(id) : ""));
}
