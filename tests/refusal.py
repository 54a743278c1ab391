"""The bad-input harness: run the CLI in-process and check a refusal is one clean line that changed no file.

Every case of the bad-input matrix (`tests/test_bad_input_*.py`) calls `assert_refused(args, watched)`:
non-zero exit, no traceback, at most 3 output lines, and no new, changed or removed file under `watched`
(the folder holding the case's inputs and outputs).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path

from interp.cli import main

MAX_LINES = 3


@dataclass(frozen=True)
class CliRun:
    """What one in-process CLI run did."""

    exit_code: int
    output: str
    traceback: str | None


def run_cli(*args: str) -> CliRun:
    """Run `rm-interp ARGS` through the console script's entry point, in this process."""
    out, err = io.StringIO(), io.StringIO()
    code, trace = 0, None
    argv = sys.argv
    sys.argv = ["rm-interp", *args]
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            main()
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 1
    except BaseException:
        code, trace = 1, traceback.format_exc()
    finally:
        sys.argv = argv
    return CliRun(code, out.getvalue() + err.getvalue(), trace)


def snapshot(folder: Path) -> dict[str, str]:
    """Every file under `folder` (hidden ones included) with the sha256 of its content."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "<dir>"
        for p in sorted(folder.rglob("*"))
        if not p.is_symlink()
    }


def assert_refused(args: list[str], watched: Path) -> CliRun:
    """Run the CLI and assert a clean refusal that left every file under `watched` as it was."""
    before = snapshot(watched)
    run = run_cli(*args)
    after = snapshot(watched)
    lines = [line for line in run.output.splitlines() if line.strip()]
    assert run.traceback is None, f"traceback for {args}:\n{run.traceback}"
    assert "Traceback" not in run.output, run.output
    assert run.exit_code != 0, f"exit 0 for {args}:\n{run.output}"
    assert 1 <= len(lines) <= MAX_LINES, f"{len(lines)} lines for {args}:\n{run.output}"
    changed = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
    assert not changed, f"{args} changed files: {changed}"
    return run
