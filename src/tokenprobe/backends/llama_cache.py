"""The local engine's KV-cache layout: which cached positions a new evaluation can keep.

A position's numbers depend on how it was computed (in an aligned chunk, or alone), so the
cache is reused only where it computed positions exactly as a fresh evaluation would.

It leaves out decoding and the cache itself (backends/llama.py).
"""

from __future__ import annotations

# Tokens per llama_decode call and per micro-batch (n_batch = n_ubatch). Prompts and scored
# texts are evaluated in batches that start at multiples of CHUNK, generated tokens one at a
# time; a position's numbers depend on which of the two computed it (llama.cpp's batched
# and single-token kernels differ, both about equally far from exact arithmetic), so the
# cache keeps positions only where they were computed as a fresh evaluation would compute
# them. Scoring keeps every row of a chunk: 64 × 262,144 floats = 64 MB of logits.
CHUNK = 64


def kept_positions(past: list[int], past_batched: int, tokens: list[int], batched: int,
                   fresh_from: int) -> int:
    """How many positions of a cache holding `past` (its first `past_batched` evaluated in
    aligned chunks) the layout (`tokens`, the first `batched` of them in chunks aligned at
    multiples of CHUNK, the rest one at a time) can keep: those the cache computed exactly
    as that layout computes them, and none from `fresh_from` on."""
    common = 0
    for a, b in zip(past, tokens):
        if a != b:
            break
        common += 1
    if past_batched == batched and common >= batched:
        keep = common  # the same batched part; one-at-a-time positions follow it alike
    else:
        # A chunk's positions are computed alike only when the chunk has the same
        # extent in both layouts, so keep whole chunks only.
        keep = min(common, past_batched, batched)
        keep -= keep % CHUNK
    keep = min(keep, fresh_from)
    if keep < batched:
        keep -= keep % CHUNK
    return keep
