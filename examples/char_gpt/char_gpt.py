"""A character-level GPT trained for about a minute on the CPU on the first chapter of
Natsume Sōseki's 吾輩は猫である (neko.txt), shown by tokenprobe through its own-model
protocol.

    python examples/char_gpt/char_gpt.py            # train (about 60 s) and save
    tokenprobe generate "吾輩は" -m own:examples/char_gpt/char_gpt.py --steps -t 0.3

The model is the usual small decoder-only transformer (token and position embeddings,
pre-norm blocks of causal self-attention and an MLP, a linear head); `model()` hands it to
tokenprobe as an OwnModel with a CharTokenizer over the text's characters. Weights are kept
in tokenprobe's cache (~/.cache/tokenprobe/examples/), trained again when missing.
"""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

from tokenprobe.backends.llama_files import cache_dir
from tokenprobe.backends.llama_threads import ThreadCount
from tokenprobe.own_model import CharTokenizer, OwnModel

HERE = Path(__file__).resolve().parent
TEXT = (HERE / "neko.txt").read_text(encoding="utf-8")


class Block(nn.Module):
    def __init__(self, n_embd: int, n_head: int) -> None:
        super().__init__()
        self.n_head = n_head
        self.ln1 = nn.LayerNorm(n_embd)
        self.qkv = nn.Linear(n_embd, 3 * n_embd)
        self.proj = nn.Linear(n_embd, n_embd)
        self.ln2 = nn.LayerNorm(n_embd)
        self.mlp = nn.Sequential(nn.Linear(n_embd, 4 * n_embd), nn.GELU(),
                                 nn.Linear(4 * n_embd, n_embd))

    def forward(self, x: torch.Tensor, keep: list[torch.Tensor] | None = None
                ) -> torch.Tensor:
        b, t, c = x.shape
        q, k, v = self.qkv(self.ln1(x)).split(c, dim=2)
        q, k, v = (z.view(b, t, self.n_head, c // self.n_head).transpose(1, 2)
                   for z in (q, k, v))
        att = (q @ k.transpose(-2, -1)) / math.sqrt(k.shape[-1])
        mask = torch.ones(t, t, dtype=torch.bool, device=x.device).tril()
        att = att.masked_fill(~mask, float("-inf")).softmax(dim=-1)
        if keep is not None:  # the attention weights, (b, heads, t, t), for tokenprobe
            keep.append(att)
        y = (att @ v).transpose(1, 2).contiguous().view(b, t, c)
        x = x + self.proj(y)
        return x + self.mlp(self.ln2(x))


class GPT(nn.Module):
    def __init__(self, vocab: int, block: int = 64, n_embd: int = 64, n_head: int = 4,
                 n_layer: int = 3) -> None:
        super().__init__()
        self.block = block
        self.tok = nn.Embedding(vocab, n_embd)
        self.pos = nn.Embedding(block, n_embd)
        self.blocks = nn.ModuleList(Block(n_embd, n_head) for _ in range(n_layer))
        self.ln = nn.LayerNorm(n_embd)
        self.head = nn.Linear(n_embd, vocab)

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None,
                attentions: list[torch.Tensor] | None = None,
                hidden: list[torch.Tensor] | None = None
                ) -> tuple[torch.Tensor, torch.Tensor | None]:
        t = idx.shape[1]
        x = self.tok(idx) + self.pos(torch.arange(t, device=idx.device))
        for blk in self.blocks:
            if hidden is not None:
                hidden.append(x)
            x = blk(x, attentions)
        if hidden is not None:
            hidden.append(x)
        logits = self.head(self.ln(x))
        loss = None if targets is None else F.cross_entropy(
            logits.view(-1, logits.shape[-1]), targets.view(-1))
        return logits, loss


def train(seconds: float = 60.0, seed: int = 0, text: str = TEXT, block: int = 64,
          n_embd: int = 64, n_layer: int = 3, batch: int = 16, max_steps: int | None = None,
          log: bool = True) -> tuple[GPT, CharTokenizer]:
    """Train on `text` for `seconds` (or `max_steps`) with AdamW; returns the model in
    eval mode and its tokenizer."""
    torch.manual_seed(seed)
    # The cores other processes leave free: torch's threads spin, and two threads on
    # one free core train several times slower than one.
    torch.set_num_threads(ThreadCount(ThreadCount.cores()).current())
    tok = CharTokenizer(sorted(set(text)))
    data = torch.tensor(tok.encode(text), dtype=torch.long)
    model = GPT(tok.vocab_size, block=block, n_embd=n_embd, n_layer=n_layer)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.01)
    start = time.perf_counter()
    step = 0
    while True:
        ix = torch.randint(len(data) - block - 1, (batch,))
        x = torch.stack([data[i:i + block] for i in ix])
        y = torch.stack([data[i + 1:i + block + 1] for i in ix])
        _, loss = model(x, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()  # type: ignore[union-attr]
        opt.step()
        step += 1
        elapsed = time.perf_counter() - start
        if log and step % 100 == 0:
            print(f"step {step:5d}  loss {loss.item():.3f}  {elapsed:5.1f} s", file=sys.stderr)
        if (max_steps is not None and step >= max_steps) or (
                max_steps is None and elapsed >= seconds):
            break
    return model.eval(), tok


def as_own_model(net: GPT, tok: CharTokenizer, name: str = "char-gpt (吾輩は猫である)"
                 ) -> OwnModel:
    """The trained network as tokenprobe sees it: ids in, logits out, its block size as
    the window (a longer context is given as its last `block` characters)."""
    # `lens`: the final norm and the head, for the logit lens (--lens); the network's
    # forward takes `attentions` and `hidden` lists, for --attention and --lens.
    return OwnModel(net, tok, name=name, window=net.block,
                    lens=lambda h: net.head(net.ln(h)))


def weights_path() -> Path:
    return cache_dir() / "examples" / "char_gpt.pt"


def model() -> OwnModel:
    """The trained example (trained and saved first when there is none)."""
    path = weights_path()
    if path.exists():
        tok = CharTokenizer(sorted(set(TEXT)))
        net = GPT(tok.vocab_size)
        try:
            net.load_state_dict(torch.load(path, weights_only=True))
            return as_own_model(net.eval(), tok)
        except RuntimeError:  # weights of another shape (an older version): train again
            pass
    net, tok = train()
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(net.state_dict(), path)
    return as_own_model(net, tok)


if __name__ == "__main__":
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 60.0
    net, tok = train(seconds)
    weights_path().parent.mkdir(parents=True, exist_ok=True)
    torch.save(net.state_dict(), weights_path())
    print(f"saved {weights_path()} ({tok.vocab_size} characters)", file=sys.stderr)
