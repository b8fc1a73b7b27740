"""The transformers backend, `hf:PATH`: any causal language model in a local directory, or a
GGUF file that transformers dequantizes, evaluated by PyTorch on the CPU in float32.

The model is run one forward call at a time with its KV cache (`past_key_values`) under
`torch.inference_mode`: the prompt in one call, then each chosen token; only the last
position's logits are computed while generating (`logits_to_keep=1`). Every row of logits
goes through the same engine as the local llama backend (torch_model.LogitsBackend): exact
full-vocabulary entropy, top-N, tail summary, seeded sampling, scoring, branching and
fixed answers. Chat prompts come from the tokenizer's chat template.

It leaves out finding and converting model files (hf_files.py) and the tokenizer's bytes
(hf_tokens.py).
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import numpy as np

from tokenprobe.backends.base import BackendOptions
from tokenprobe.backends.hf_files import import_torch, model_dir, resolve
from tokenprobe.backends.hf_tokens import HFVocab
from tokenprobe.backends.llama_threads import ThreadCount
from tokenprobe.backends.torch_capture import RowInside, pad_front
from tokenprobe.backends.torch_model import LogitsBackend
from tokenprobe.errors import ModelError


class HFBackend(LogitsBackend):
    """A transformers causal LM in process, with exact full-vocabulary statistics per token."""

    name = "hf"

    def __init__(self, path: Path, model_name: str, n_ctx: int | None = None,
                 n_threads: int | None = None) -> None:
        torch, transformers = import_torch()
        self._torch = torch
        # As many threads as other processes leave cores free (as the local engine does):
        # torch's threads spin, and two of them on one free core run ten times slower.
        self._threads = ThreadCount(n_threads or ThreadCount.cores(), adapt=n_threads is None)
        where = model_dir(path)
        try:
            kw: dict[str, Any] = {"local_files_only": True}
            self.tokenizer = transformers.AutoTokenizer.from_pretrained(str(where), **kw)
            self.hf = transformers.AutoModelForCausalLM.from_pretrained(
                str(where), dtype=torch.float32, **kw).eval()
        except (OSError, ValueError, KeyError) as e:
            first = (str(e).strip().splitlines() or [type(e).__name__])[0]
            raise ModelError(f"transformers cannot load {path}: {first}") from None
        config = self.hf.config
        n_vocab = int(self.hf.get_output_embeddings().weight.shape[0])
        eos = getattr(self.hf.generation_config, "eos_token_id", None)
        eos_ids = [] if eos is None else ([eos] if isinstance(eos, int) else list(eos))
        self.vocab = HFVocab(self.tokenizer, n_vocab, getattr(config, "model_type", ""),
                             eos_ids)
        limit = getattr(config, "max_position_embeddings", None)
        self.n_ctx = min(n_ctx, limit) if n_ctx and limit else (n_ctx or limit)
        self.path = path
        self.model = model_name
        self.forward = self._forward
        # transformers 5.x renamed the cache argument from `past_key_values` to `cache`.
        params = inspect.signature(self.hf.forward).parameters
        self._cache_kw = "cache" if "cache" in params else "past_key_values"
        self._setup()

    @classmethod
    def from_spec(cls, rest: str, options: BackendOptions) -> HFBackend:
        path, name = resolve(rest)
        return cls(path, name, n_ctx=options.n_ctx, n_threads=options.n_threads)

    def source(self) -> dict[str, Any]:
        return {"path": str(self.path), "n_ctx": self.n_ctx, "engine": "transformers",
                "dtype": "float32"}

    def close(self) -> None:
        self.hf = None

    # --- attention and the logit lens (torch_capture.py) -------------------------------

    def start_capture(self, kinds: tuple[str, ...]) -> None:
        # Only the eager attention returns its weights (SDPA and the fused kernels do
        # not): switched on for this run, and back afterwards.
        self._attn_before = getattr(self.hf.config, "_attn_implementation", None)
        if "attention" in kinds and self._attn_before != "eager":
            self.hf.set_attn_implementation("eager")
        super().start_capture(kinds)

    def end_capture(self) -> None:
        before = getattr(self, "_attn_before", None)
        if before is not None and self.hf is not None and \
                self.hf.config._attn_implementation != before:
            self.hf.set_attn_implementation(before)
        super().end_capture()

    def lens_logits(self, hidden: Any) -> np.ndarray:
        """The final norm, the unembedding and any final soft-capping, as the model's own
        head applies them, over the states entering each layer (layers, D)."""
        torch = self._torch
        with torch.inference_mode():
            x = self._final_norm(hidden)
            logits = self.hf.get_output_embeddings()(x).float()
            cap = getattr(self.hf.config, "final_logit_softcapping", None)
            if cap:
                logits = torch.tanh(logits / cap) * cap
            return logits.numpy()

    def _final_norm(self, hidden: Any) -> Any:
        base = self.hf.base_model
        for name in ("norm", "ln_f", "final_layernorm", "final_layer_norm"):
            norm = getattr(base, name, None)
            if norm is not None:
                return norm(hidden)
        raise ModelError(f"tokenprobe does not know where {type(self.hf).__name__} keeps its "
                         "final norm, so it cannot apply the logit lens")

    def _forward(self, ids: list[int], cache: Any, all_rows: bool) -> tuple[np.ndarray, Any]:
        torch = self._torch
        n = self._threads.current()
        if n != torch.get_num_threads():
            torch.set_num_threads(n)
        kinds = self.capturing
        extra: dict[str, Any] = {}
        if kinds:
            extra = {"output_attentions": "attention" in kinds,
                     "output_hidden_states": "lens" in kinds}
        with torch.inference_mode():
            out = self.hf(input_ids=torch.tensor([ids], dtype=torch.long),
                          use_cache=True, logits_to_keep=0 if all_rows else 1,
                          **{self._cache_kw: cache}, **extra)
            cache = getattr(out, "cache", None)
            if cache is None:
                cache = getattr(out, "past_key_values", None)
            rows = out.logits[0].float().numpy()
            if kinds:
                self.inside = self._inside(out, rows.shape[0])
            return rows, cache

    def _inside(self, out: Any, n_rows: int) -> list[RowInside]:
        """Each returned row's attention over the whole context and its hidden states."""
        att = hid = None
        total = 0
        if "attention" in self.capturing:
            layers = out.attentions
            if not layers or layers[0] is None:
                raise ModelError("transformers returned no attention weights for this model")
            total = max(a.shape[-1] for a in layers)
            # (layers, heads, rows, context); a sliding layer's cache may hold fewer keys.
            att = np.stack([pad_front(a[0, :, -n_rows:].float().numpy(), total)
                            for a in layers])
        if "lens" in self.capturing:
            states = out.hidden_states
            n_layers = self.hf.config.num_hidden_layers
            if not states or len(states) < n_layers:
                raise ModelError("transformers returned no hidden states for this model")
            # The states entering each layer; the last layer's output is the row itself.
            hid = torch_stack([s[0, -n_rows:] for s in states[:n_layers]])
        # Row r is position context - n_rows + r: the weights up to it (the later ones are
        # the causal mask's zeros).
        return [RowInside(attention=None if att is None
                          else att[:, :, r, : total - n_rows + r + 1],
                          hidden=None if hid is None else hid[:, r])
                for r in range(n_rows)]


def torch_stack(tensors: list[Any]) -> Any:
    import torch

    return torch.stack(tensors)
