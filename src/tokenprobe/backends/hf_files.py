"""Where the hf: backend finds a model: a local transformers directory, or a GGUF file that
transformers dequantizes, kept converted in tokenprobe's cache.

Reading a GGUF through transformers parses its whole vocabulary in Python and dequantizes
every tensor (over a minute for the embedded Gemma on two cores); the result (float32
weights, the converted tokenizer) is saved once as a transformers directory under
`~/.cache/tokenprobe/hf/`, keyed by the file's path, size and modification time, and
later loads read that (seconds). The weights are the same numbers either way.
Nothing is ever fetched from a hub: every load is `local_files_only`, with HF_HUB_OFFLINE set.

It leaves out evaluating the model (hf.py) and its vocabulary (hf_tokens.py).
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path
from typing import Any

from tokenprobe.backends.llama_files import EMBEDDED_NAME, cache_dir, check_gguf
from tokenprobe.errors import ModelError

INSTALL_HINT = "the hf: backend needs torch and transformers: pip install 'tokenprobe[hf]'"
LOCAL_FORM = "hf:/path/to/model-directory (config.json and weights) or hf:/path/to/model.gguf"


def offline() -> None:
    """No hub access from here on (set before transformers reads its settings)."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")


def import_torch() -> tuple[Any, Any]:
    """(torch, transformers), or a one-line error naming what to install."""
    offline()
    try:
        import torch
        import transformers
    except ImportError:
        raise ModelError(INSTALL_HINT) from None
    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    return torch, transformers


def resolve(rest: str) -> tuple[Path, str]:
    """(the local directory or GGUF file, the model's name) for `hf:REST`."""
    if rest in ("embedded", EMBEDDED_NAME):
        from tokenprobe.backends.llama_files import embedded_model_path

        return embedded_model_path(), EMBEDDED_NAME
    path = Path(rest).expanduser()
    if not path.exists():
        raise ModelError(f"hf:{rest} is not a local directory or GGUF file; tokenprobe never "
                         f"downloads models: give {LOCAL_FORM}")
    if path.is_dir():
        if not (path / "config.json").exists():
            raise ModelError(f"{path} has no config.json: give {LOCAL_FORM}")
        return path.resolve(), str(path.resolve())
    check_gguf(path)
    return path.resolve(), str(path.resolve())


def converted_dir(gguf: Path) -> Path:
    st = gguf.stat()
    key = f"{gguf.resolve()}|{st.st_size}|{st.st_mtime_ns}".encode()
    return cache_dir() / "hf" / f"{gguf.stem}-{hashlib.sha256(key).hexdigest()[:16]}"


def model_dir(path: Path) -> Path:
    """The transformers directory to load: `path` itself, or a GGUF's converted copy
    (made on first use; an interrupted conversion leaves nothing behind)."""
    if path.is_dir():
        return path
    target = converted_dir(path)
    if (target / "tokenprobe.ok").exists():
        return target
    torch, transformers = import_torch()
    tmp = target.with_name(f".{target.name}.{os.getpid()}.part")
    try:
        kw = {"gguf_file": path.name, "local_files_only": True}
        tok = transformers.AutoTokenizer.from_pretrained(str(path.parent), **kw)
        model = transformers.AutoModelForCausalLM.from_pretrained(
            str(path.parent), dtype=torch.float32, **kw)
        # The weights are dequantized float32 now: save them as a plain model.
        model.hf_quantizer = None
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        model.save_pretrained(str(tmp))
        tok.save_pretrained(str(tmp))
        (tmp / "tokenprobe.ok").write_text(f"converted from {path}\n")
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.replace(tmp, target)
        except OSError:  # another process converted it meanwhile
            if not (target / "tokenprobe.ok").exists():
                raise
    except ImportError as e:  # accelerate or gguf missing
        raise ModelError(f"{INSTALL_HINT} ({e})") from None
    except (OSError, ValueError, KeyError, RuntimeError) as e:
        raise ModelError(f"transformers cannot load {path}: {_one_line(e)}") from None
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def _one_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return text[0] if text else type(e).__name__
