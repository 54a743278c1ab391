"""Shared fixtures: one torch thread, tiny random models (built once per session) and the embedded real models."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import torch
from transformers.utils import logging as hf_logging

from interp.models import ModelHandle, load_lm, rm_from_base
from interp.models.tiny import Arch, build_tiny

hf_logging.set_verbosity_error()
hf_logging.disable_progress_bar()

ARCHS: tuple[Arch, ...] = ("llama", "gemma3", "qwen2")
EMBEDDED_NAMES = ("smollm2-135m-instruct", "gemma3-270m")


@pytest.fixture(scope="module")
def one_thread() -> Iterator[None]:
    """One torch thread for a whole module (`pytestmark = pytest.mark.usefixtures("one_thread")`): tiny models
    and small matrices run as fast, immune to a busy machine's OpenMP spin-waits, and sum like a spawned rank
    (another thread count changes the last bits of sums)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def tiny_folder(tmp_path_factory: pytest.TempPathFactory) -> Callable[[Arch], Path]:
    """`tiny_folder(arch)`: a saved tiny random causal LM of that architecture (built once per session)."""
    built: dict[str, Path] = {}

    def make(arch: Arch) -> Path:
        if arch not in built:
            built[arch] = build_tiny(arch, tmp_path_factory.mktemp(f"tiny-{arch}"))
        return built[arch]

    return make


@pytest.fixture(scope="session")
def embedded_rm() -> Callable[[str], ModelHandle]:
    """`embedded_rm(name)`: an RM built from an embedded base (seed 0), cached per session."""
    loaded: dict[str, ModelHandle] = {}

    def make(name: str) -> ModelHandle:
        if name not in loaded:
            loaded[name] = rm_from_base(name, seed=0)
        return loaded[name]

    return make


@pytest.fixture(scope="session")
def embedded_lm() -> Callable[[str], ModelHandle]:
    """`embedded_lm(name)`: an embedded causal LM, cached per session."""
    loaded: dict[str, ModelHandle] = {}

    def make(name: str) -> ModelHandle:
        if name not in loaded:
            loaded[name] = load_lm(name)
        return loaded[name]

    return make
