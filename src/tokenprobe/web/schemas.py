"""The API's request bodies, validated by pydantic: types, ranges and sizes.

Every body forbids unknown fields (a misspelt setting is an error, not silently ignored;
more than MAX_ERRORS of them are one error).
Range checks name the limit; the messages reach the client as one-line 422 errors
(errors.py). Checks that need the server's state (is this model offered, does this
trace exist) are made by the routes; checks that need the model (does the prompt fit its
context) by the library, in the job.

It leaves out responses (plain JSON built in payloads.py) and the streaming protocol.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from tokenprobe.web.config import (
    MAX_ALTERNATIVES,
    MAX_ERRORS,
    MAX_MESSAGES,
    MAX_NEW_TOKENS,
    MAX_SAMPLES,
    MAX_TEXT,
    MAX_VARIANTS,
)

Text = Annotated[str, Field(max_length=MAX_TEXT)]
Short = Annotated[str, Field(max_length=200)]
ModelId = Annotated[str, Field(max_length=200, description="an id from GET /api/models")]
Temperature = Annotated[float, Field(ge=0, le=5)]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _few_unknown(cls, data: Any) -> Any:
        """Many unknown fields are one error: one error each (300,000 of them fit in a
        4 MB body) took seconds to list on the event loop and made a 20 MB answer."""
        fields = cls.model_fields  # a property: read once, not once per key
        if isinstance(data, dict) and len(data) > len(fields) + MAX_ERRORS:
            unknown = len(data) - sum(1 for name in fields if name in data)
            if unknown > MAX_ERRORS:
                raise ValueError(f"{unknown} fields are not known fields (the known ones: "
                                 f"{', '.join(fields)})")
        return data


class Sampling(Body):
    model: ModelId | None = Field(None, description="default: the server's default model")
    temperature: Temperature = 1.0
    top_p: float = Field(1.0, gt=0, le=1)
    top_k: int = Field(0, ge=0, le=100_000)
    max_tokens: int = Field(64, ge=1, le=MAX_NEW_TOKENS)
    alternatives: int = Field(10, ge=0, le=MAX_ALTERNATIVES)
    seed: int | None = Field(None, ge=0, le=2**63 - 1)
    stop: list[Annotated[str, Field(min_length=1, max_length=100)]] = Field(
        default_factory=list, max_length=8)


class Message(Body):
    role: Literal["user", "assistant"]
    content: Text


class GenerateIn(Sampling):
    """A completion (`prompt`) or a chat (`messages`, optionally `system`)."""

    mode: Literal["completion", "chat"] = "completion"
    prompt: Text | None = None
    system: Text | None = None
    messages: list[Message] | None = Field(None, max_length=MAX_MESSAGES)

    @model_validator(mode="after")
    def _shape(self) -> GenerateIn:
        if self.mode == "completion":
            if not self.prompt:
                raise ValueError("a completion needs a non-empty prompt")
            if self.messages or self.system:
                raise ValueError("messages and system belong to chat mode (mode: chat)")
        else:
            if self.prompt:
                raise ValueError("a chat takes messages, not a prompt")
            if not self.messages:
                raise ValueError("a chat needs at least one message")
            if self.messages[-1].role != "user" or not self.messages[-1].content.strip():
                raise ValueError("the last chat message must be a non-empty user message")
        return self


class BranchIn(Body):
    """Continue a saved trace from `step` with another token there: one of the step's listed
    alternatives (`candidate`, its index in the list) or a text (`token`)."""

    trace_id: Short
    step: int = Field(ge=0)
    candidate: int | None = Field(None, ge=0, le=MAX_ALTERNATIVES)
    token: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    max_tokens: int | None = Field(None, ge=1, le=MAX_NEW_TOKENS)
    seed: int | None = Field(None, ge=0, le=2**63 - 1)

    @model_validator(mode="after")
    def _one(self) -> BranchIn:
        if (self.candidate is None) == (self.token is None):
            raise ValueError("give exactly one of candidate (an alternative's index) or token")
        return self


class ScoreIn(Body):
    text: Annotated[str, Field(min_length=1, max_length=MAX_TEXT)]
    model: ModelId | None = None
    alternatives: int = Field(10, ge=0, le=MAX_ALTERNATIVES)


class CompareIn(Body):
    """Variants are every combination of the values given (the library's `compare`)."""

    prompts: list[Text] = Field(min_length=1, max_length=8)
    systems: list[Text] | None = Field(None, max_length=8)
    temperatures: list[Temperature] | None = Field(None, max_length=8)
    models: list[ModelId] | None = Field(None, max_length=8)
    answer: Text | None = Field(None, description="score this fixed answer under every variant")
    chat: bool = False
    samples: int = Field(1, ge=1, le=MAX_SAMPLES)
    seed: int = Field(0, ge=0, le=2**63 - 1)
    max_tokens: int = Field(32, ge=1, le=MAX_NEW_TOKENS)
    top_p: float = Field(1.0, gt=0, le=1)
    alternatives: int = Field(10, ge=0, le=MAX_ALTERNATIVES)

    @field_validator("prompts")
    @classmethod
    def _prompts(cls, v: list[str]) -> list[str]:
        if any(not p for p in v):
            raise ValueError("a prompt is empty")
        return v

    @model_validator(mode="after")
    def _count(self) -> CompareIn:
        n = (len(self.prompts) * len(self.systems or [None]) * len(self.temperatures or [1.0])
             * len(self.models or [None]))
        if n < 2:
            raise ValueError("a comparison needs at least two variants: give two or more "
                             "prompts, system prompts, temperatures or models")
        if n > MAX_VARIANTS:
            raise ValueError(f"{n} variants is too many (at most {MAX_VARIANTS})")
        if self.answer is not None and not self.answer:
            raise ValueError("the fixed answer is empty")
        return self


class ChooseIn(Body):
    prompt: Annotated[str, Field(min_length=1, max_length=MAX_TEXT)]
    options: list[Annotated[str, Field(min_length=1, max_length=2000)]] = Field(
        min_length=2, max_length=20)
    model: ModelId | None = None
    chat: bool = False
    system: Text | None = None
    alternatives: int = Field(10, ge=0, le=MAX_ALTERNATIVES)


class ModelIn(Body):
    spec: Annotated[str, Field(min_length=1, max_length=500,
                               description="PATH.gguf, openai:NAME, llamacpp:URL, ollama:NAME")]
    base_url: Annotated[str, Field(max_length=500)] | None = None
    api_key: Annotated[str, Field(max_length=500, description="kept on the server")] | None = None
    label: Annotated[str, Field(max_length=100)] | None = None
    # What the server's numbers are (vLLM's --logprobs-mode): as `--logprobs-kind`.
    logprobs_kind: Literal["raw", "processed", "logits", "unknown"] | None = None
