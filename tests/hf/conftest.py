"""Fixtures for the transformers and own-model tests: a tiny GPT-2 built here (a byte-level
BPE trained on a paragraph, two layers, random weights) and the embedded Gemma loaded
through transformers from its GGUF, each made once per session.

torch and transformers are required: the test command installs tokenprobe[hf], and a
missing one fails here rather than skipping.
"""

from __future__ import annotations

from pathlib import Path

import pytest

TEXT = (
    "The quick brown fox jumps over the lazy dog. A cat sat on the mat, and the dog "
    "watched the cat. 吾輩は猫である。名前はまだ無い。Café, naïve, über; tabs\tand "
    "newlines\nand  double  spaces. The end of the text is near, the end is here. "
) * 4


@pytest.fixture(scope="session")
def tiny_gpt2_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A two-layer GPT-2 with its own byte-level BPE tokenizer, saved as a directory."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    d = tmp_path_factory.mktemp("tiny-gpt2")
    tk = Tokenizer(models.BPE())
    tk.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tk.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=320, special_tokens=["<|endoftext|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    tk.train_from_iterator([TEXT], trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tk, bos_token="<|endoftext|>",
                                   eos_token="<|endoftext|>")
    fast.save_pretrained(str(d))
    eot = fast.convert_tokens_to_ids("<|endoftext|>")
    config = GPT2Config(vocab_size=len(fast), n_positions=256, n_embd=48, n_layer=2,
                        n_head=2, bos_token_id=eot, eos_token_id=eot)
    torch.manual_seed(0)
    model = GPT2LMHeadModel(config)
    with torch.no_grad():  # weights large enough that the distributions are far from flat
        for p in model.parameters():
            if p.dim() > 1:
                p.normal_(0.0, 0.3)
    model.save_pretrained(str(d))
    return d


@pytest.fixture(scope="session")
def tiny_hf(tiny_gpt2_dir: Path):  # type: ignore[no-untyped-def]
    from tokenprobe.backends import get_backend
    from tokenprobe.backends.hf import HFBackend

    b = get_backend(f"hf:{tiny_gpt2_dir}")
    assert isinstance(b, HFBackend)
    return b


@pytest.fixture(scope="session")
def gemma_hf():  # type: ignore[no-untyped-def]
    """The embedded Gemma 3 270M through transformers (converted from its GGUF once)."""
    from tokenprobe.backends import get_backend
    from tokenprobe.backends.hf import HFBackend

    b = get_backend("hf:embedded")
    assert isinstance(b, HFBackend)
    return b
