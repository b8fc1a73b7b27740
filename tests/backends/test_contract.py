"""The backend contract (backends/base.py, abilities.py), checked on every registered backend,
and the rule that keeps it real: no module outside backends/ names a backend.

Nothing here loads a model or reaches a server: the contract is what the classes declare.
"""

from __future__ import annotations

import ast
from collections.abc import Generator
from pathlib import Path

import pytest

import tokenprobe
from tokenprobe import backends
from tokenprobe.backends import (
    Backend,
    BackendOptions,
    backend_class,
    check_base_url,
    get_backend,
    options_for_trace,
    spec_for_trace,
)
from tokenprobe.backends.abilities import Spelling, TextBranching
from tokenprobe.errors import InputError
from tokenprobe.trace import Request, Step, Trace

PREFIXES = sorted(backends._registry())
SRC = Path(tokenprobe.__file__).parent


@pytest.mark.parametrize("prefix", PREFIXES)
def test_every_backend_declares_the_contract(prefix: str) -> None:
    cls = backend_class(prefix, prefix=True)
    assert issubclass(cls, Backend) and cls.name == prefix
    assert cls.from_spec.__func__ is not Backend.from_spec.__func__  # type: ignore[attr-defined]
    assert isinstance(cls.local, bool)
    assert cls.branches in ("ids", "text", "none")
    for flag in ("can_score", "can_score_answer", "can_capture"):
        assert isinstance(getattr(cls, flag), bool), flag
    # A flag that says yes has the method behind it.
    if cls.can_score:
        assert cls.score is not Backend.score
    if cls.can_score_answer:
        assert cls.score_continuation is not Backend.score_continuation
    if cls.branches == "ids":
        assert cls.forced_ids is not Backend.forced_ids
        assert cls.continue_steps is not Backend.continue_steps
        assert issubclass(cls, Spelling)
    if cls.branches == "text":
        assert issubclass(cls, TextBranching)


@pytest.mark.parametrize("prefix", PREFIXES)
def test_local_and_server_backends_answer_as_declared(prefix: str,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    cls = backend_class(prefix, prefix=True)
    monkeypatch.setenv("OPENAI_BASE_URL", "http://10.0.0.5:8000/v1")
    trace = Trace(backend=prefix, model="m", request=Request(prompt="x"),
                  source={"base_url": "http://elsewhere.example:9000/v1"})
    options, note = options_for_trace(trace)
    if cls.local:
        assert cls.own_server() is None
        assert cls.server_url("x", BackendOptions(base_url="http://h:1")) is None
        assert options == BackendOptions() and note is None
        with pytest.raises(InputError, match="server models only"):
            check_base_url(f"{prefix}:x" if prefix != "llama" else "m.gguf", "http://h:1")
    else:
        assert cls.server_url("name", BackendOptions(base_url="http://h:1")) == "http://h:1"
        # A URL from a trace that is not the user's own server gets no key.
        assert options.api_key == "" and note is not None
        with pytest.raises(InputError, match="must start with http"):
            cls.check_spec("name", BackendOptions(base_url="ftp://h:1"))
    spec = cls.spec_for_trace(trace)
    assert spec is None or isinstance(spec, str)


class Scripted(Backend):
    """A backend that arrives from outside (as through the entry point): it runs here,
    branches by id and spells ids as letters."""

    name = "scripted"
    local = True
    branches = "ids"

    def __init__(self, model: str) -> None:
        self.model = model

    @classmethod
    def from_spec(cls, rest: str, options: BackendOptions) -> Scripted:
        return cls(rest)

    def piece(self, token_id: int) -> tuple[str, bytes]:
        letter = chr(ord("a") + token_id)
        return letter, letter.encode()

    def forced_ids(self, text: str) -> list[int]:
        return [ord(c) - ord("a") for c in text]

    def generate_steps(self, request: Request, trace: Trace
                       ) -> Generator[Step, None, str | None]:
        for i in range(3):
            yield Step(token=self.piece(i)[0], logprob=-0.5, id=i, bytes=self.piece(i)[1])
        return "length"

    def continue_steps(self, request: Request, trace: Trace, after_prompt: list[int],
                       forced: list[int]) -> Generator[Step, None, str | None]:
        for i in forced:
            yield Step(token=self.piece(i)[0], logprob=-1.0, id=i, bytes=self.piece(i)[1],
                       forced=True)
        return "length"


def test_a_backend_from_outside_gets_the_built_in_behaviour(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from tokenprobe.ops.branch import branch

    monkeypatch.setitem(backends.BUILTIN, "scripted", f"{__name__}:Scripted")
    with pytest.raises(InputError, match=r"server models only.*scripted:m"):
        check_base_url("scripted:m", "http://h:1")
    parent = get_backend("scripted:m").stream(Request(prompt="x", max_tokens=3)).run()
    assert parent.text == "abc" and spec_for_trace(parent) == "scripted:m"
    assert options_for_trace(parent) == (BackendOptions(), None)
    child = branch(parent, 1, token="d")
    assert child.text == "ad" and child.parent == {"id": parent.id, "step": 1, "token": "d"}
    backends.evict("scripted:m")


# --- no module outside backends/ names a backend -----------------------------------------

def _names_a_backend(node: ast.AST, prefixes: set[str]) -> bool:
    """A comparison with a backend's name (`x == "llama"`, `x in ("hf", "own")`)."""
    if not isinstance(node, ast.Compare):
        return False
    for side in [node.left, *node.comparators]:
        items = side.elts if isinstance(side, ast.Tuple | ast.List | ast.Set) else [side]
        if any(isinstance(i, ast.Constant) and i.value in prefixes for i in items):
            return True
    return False


def test_no_module_outside_backends_names_a_backend() -> None:
    prefixes = set(PREFIXES)
    modules = {target.partition(":")[0] for target in backends._registry().values()}
    found = []
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC)
        module = "tokenprobe." + ".".join(rel.with_suffix("").parts)
        if rel.parts[0] == "backends" or module in modules:
            continue  # the backends themselves
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if _names_a_backend(node, prefixes):
                found.append(f"{rel}:{node.lineno}: compares with a backend's name")
            if isinstance(node, ast.ImportFrom) and node.module in modules:
                found.append(f"{rel}:{node.lineno}: imports the backend {node.module}")
    assert not found, "\n".join(found)


def test_the_check_sees_a_comparison() -> None:
    """The rule above can fail: it finds the forms it looks for."""
    tree = ast.parse('if b == "llama" or p in ("hf", "own"): pass\nif x == "vllm": pass')
    hits = [n for n in ast.walk(tree) if _names_a_backend(n, set(PREFIXES))]
    assert len(hits) == 2
