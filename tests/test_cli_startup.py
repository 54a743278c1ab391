"""`rm-interp --help` starts at once: importing the CLI pulls in neither torch nor transformers."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.refusal import run_cli

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "transformers")
ENV = {**os.environ, "OMP_NUM_THREADS": "1"}


def _python(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=ROOT, env=ENV, timeout=120)


def _imported(trace: str) -> list[str]:
    """Module names of a `python -X importtime` trace, in the order their imports finished."""
    return [line.rsplit("|", 1)[1].strip() for line in trace.splitlines() if line.startswith("import time:")]


def _culprits(modules: list[str]) -> list[str]:
    """The command modules whose import first pulled in a heavy module (commands are imported one by one)."""
    culprits, heavy_since_last = [], False
    for name in modules:
        heavy_since_last = heavy_since_last or name.split(".")[0] in HEAVY
        if name.startswith("interp.commands."):
            if heavy_since_last:
                culprits.append(name)
            heavy_since_last = False
    return culprits


def test_cli_import_pulls_no_torch_or_transformers() -> None:
    run = _python("-X", "importtime", "-c", "import interp.cli")
    assert run.returncode == 0, run.stderr[-2000:]
    modules = _imported(run.stderr)
    assert "interp.cli" in modules and "typer" in modules  # the trace was read
    heavy = sorted(m for m in modules if m.split(".")[0] in HEAVY)
    assert not heavy, f"importing {_culprits(modules)} imports {heavy[:3]}...; import those inside the command"


def test_help_answers_quickly() -> None:
    _python("-c", "import interp.cli")  # warm the file cache; a busy machine still gets a generous bound
    start = time.perf_counter()
    run = _python("-m", "interp.cli", "--help")
    seconds = time.perf_counter() - start
    assert run.returncode == 0 and "capture" in run.stdout and "stats" in run.stdout, run.stderr[-2000:]
    assert seconds < 5, f"rm-interp --help took {seconds:.1f} s"


@pytest.mark.parametrize(
    ("command", "option"),
    [
        (["capture"], "--trust-remote-code"),
        (["probe"], "--trust-remote-code"),
        (["persistence"], "--trust-remote-code"),
        (["sweep-distributed"], "--trust-remote-code"),
        (["stats"], "--n-boot"),
        (["lexicon", "list"], "--format"),
    ],
)
def test_command_help(command: list[str], option: str) -> None:
    run = run_cli(*command, "--help")
    assert run.exit_code == 0 and run.traceback is None, run.output
    assert option in run.output
