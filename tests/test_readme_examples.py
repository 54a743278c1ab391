"""The README's Python examples run as written, and import only public names.

Each ```python block of README.md runs in its own namespace, in a scratch folder. Blocks that name hub models
run with each hub id swapped for a tiny random model of the same kind (`STAND_INS`: a saved RM for `load_rm`,
a causal LM for `load_lm`) and `"cuda"` for `"cpu"`; nothing else is changed. A block on an embedded model
runs on it (marked slow).
"""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

import pytest

from interp.models import rm_from_base, save

README = Path(__file__).resolve().parents[1] / "README.md"
STAND_INS = {  # hub id in the README -> the kind of tiny model that stands in for it
    "Skywork/Skywork-Reward-Llama-3.1-8B-v0.2": "rm",
    "Skywork/Skywork-Reward-V2-Llama-3.1-8B": "rm",
    "meta-llama/Llama-3.1-8B-Instruct": "lm",
}


def python_blocks(text: str) -> list[tuple[int, str]]:
    """(line number of the opening fence, code) of each ```python block."""
    return [
        (text.count("\n", 0, m.start()) + 1, m.group(1))
        for m in re.finditer(r"^```python\n(.*?)^```", text, flags=re.MULTILINE | re.DOTALL)
    ]


BLOCKS = python_blocks(README.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def stand_ins(tiny_folder, tmp_path_factory) -> dict[str, str]:
    """Hub id -> folder of a tiny random model of its kind."""
    lm = tiny_folder("llama")
    rm = save(rm_from_base(str(lm), seed=0), tmp_path_factory.mktemp("tiny-rm"))
    return {hub_id: str(rm if kind == "rm" else lm) for hub_id, kind in STAND_INS.items()}


def _params() -> list[pytest.param]:
    return [
        pytest.param(code, id=f"README.md:{line}", marks=[pytest.mark.slow] if "smollm2" in code else [])
        for line, code in BLOCKS
    ]


def test_the_readme_imports_only_public_names():
    assert len(BLOCKS) >= 3
    imports = [
        (node.module, alias.name)
        for _, code in BLOCKS
        for node in ast.walk(ast.parse(code))
        if isinstance(node, ast.ImportFrom) and node.module
        for alias in node.names
    ]
    assert {module for module, _ in imports} >= {"interp", "probes"}
    private = [f"{m}.{n}" for m, n in imports if n not in getattr(importlib.import_module(m), "__all__", ())]
    assert not private, f"README examples import names outside the public API: {private}"


@pytest.mark.parametrize("code", _params())
def test_example_runs_as_written(code, stand_ins, tmp_path, monkeypatch):
    for hub_id, folder in stand_ins.items():
        code = code.replace(f'"{hub_id}"', repr(folder))
    code = code.replace('"cuda"', '"cpu"')
    monkeypatch.chdir(tmp_path)
    exec(compile(code, str(README), "exec"), {"__name__": "readme_example"})
