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

    def _forward(self, ids: list[int], cache: Any, all_rows: bool) -> tuple[np.ndarray, Any]:
        torch = self._torch
        n = self._threads.current()
        if n != torch.get_num_threads():
            torch.set_num_threads(n)
        with torch.inference_mode():
            out = self.hf(input_ids=torch.tensor([ids], dtype=torch.long),
                          use_cache=True, logits_to_keep=0 if all_rows else 1,
                          **{self._cache_kw: cache})
            cache = getattr(out, "cache", None)
            if cache is None:
                cache = getattr(out, "past_key_values", None)
            return out.logits[0].float().numpy(), cache
