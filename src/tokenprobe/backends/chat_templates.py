"""Chat messages -> the prompt text a local model expects.

A GGUF file usually carries its chat template (`tokenizer.chat_template`, Jinja); we render
it in a sandbox, as transformers and llama.cpp do. When a file has none (the embedded Gemma 3
270M has none), the model family's known template is used; for any other family we refuse
with a clear message rather than guess a format the model never saw.

It leaves out tokenization and stopping (the backend stops at end-of-generation tokens).
"""

from __future__ import annotations

from typing import Any

from tokenprobe.errors import InputError, ModelError

GEMMA_FAMILIES = ("gemma", "gemma2", "gemma3", "gemma3n")


def render_chat(metadata: dict[str, str], messages: list[dict[str, Any]], bos: str) -> str:
    """The prompt for `messages`, ending where the model's answer starts."""
    template = metadata.get("tokenizer.chat_template")
    if template:
        return _render_jinja(template, messages, bos)
    arch = metadata.get("general.architecture", "")
    if arch in GEMMA_FAMILIES:
        return gemma_prompt(messages, bos)
    raise ModelError(
        f"this GGUF has no chat template and tokenprobe knows none for its family "
        f"({arch or 'unknown'}); use completion mode (leave out --chat)"
    )


def gemma_prompt(messages: list[dict[str, Any]], bos: str) -> str:
    """Gemma's turn format. Gemma has no system role: the system text opens the first user
    turn, separated by a blank line, as Gemma's own template does."""
    system = "\n\n".join(str(m.get("content") or "") for m in messages if m.get("role") == "system")
    parts = [bos]
    first_user = True
    for m in messages:
        role = m.get("role")
        content = str(m.get("content") or "")
        if role == "system":
            continue
        if role == "user":
            if first_user and system:
                content = f"{system}\n\n{content}"
            first_user = False
            parts.append(f"<start_of_turn>user\n{content}<end_of_turn>\n")
        elif role == "assistant":
            parts.append(f"<start_of_turn>model\n{content}<end_of_turn>\n")
        else:
            raise InputError(f"unknown chat role {role!r} (use system, user or assistant)")
    parts.append("<start_of_turn>model\n")
    return "".join(parts)


def _render_jinja(template: str, messages: list[dict[str, Any]], bos: str) -> str:
    from jinja2 import TemplateError
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    def raise_exception(message: str) -> None:
        raise InputError(f"the model's chat template refused the messages: {message}")

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    env.globals["raise_exception"] = raise_exception
    try:
        return env.from_string(template).render(
            messages=messages, add_generation_prompt=True, bos_token=bos, eos_token=""
        )
    except TemplateError as e:
        raise ModelError(f"the model's chat template cannot be rendered: {e}") from None
