"""`rm-interp models list|check`: the embedded models, the registry of published RMs, and conformance checks.

Only the standard library, typer and light modules are imported here; torch, transformers and the model
loaders are imported inside the command that needs them, so `--help` stays fast.
"""

from __future__ import annotations

import sys
import time
from typing import Annotated

import typer

from interp._util.listing import FORMAT_HELP, choose_format, print_records
from interp.models.embedded import EMBEDDED


def list_models(fmt: Annotated[str | None, typer.Option("--format", help=FORMAT_HELP)] = None) -> None:
    """List the embedded models (offline) and the registry of the paper's ten RMs.

    A table shows them as two tables; TSV and JSON give one row per model with the same columns
    (`original`: the hub model an embedded model comes from, or the base an RM was trained from).
    """
    chosen = choose_format(fmt)
    from interp.models.registry import REGISTRY

    embedded = [
        _model_row(m.name, "embedded", m.hf_name, m.architecture, "instruct LM" if m.instruct else "base LM")
        | {"licence": m.licence}
        for m in EMBEDDED.values()
    ]
    registry = [
        _model_row(e.hub_id, "registry", e.base_model, e.family, "reward model")
        | {"dtype": e.dtype, "readout": e.readout, "remote_code": "yes" if e.trust_remote_code else "no"}
        for e in REGISTRY
    ]
    if chosen != "table":
        print_records(embedded + registry, chosen)
        return
    print_records(
        [_pick(r, "name", "original", "family", "kind", "licence") for r in embedded],
        chosen,
        "Embedded models (offline)",
    )
    columns = ("name", "original", "family", "dtype", "readout", "remote_code")
    print_records([_pick(r, *columns) for r in registry], chosen, "Registry of published RMs")


def _model_row(name: str, source: str, original: str, family: str, kind: str) -> dict[str, str]:
    """One row of `models list`, every column present (TSV and JSON rows share one header)."""
    return {
        "name": name,
        "source": source,
        "original": original,
        "family": family,
        "kind": kind,
        "dtype": "float32",
        "readout": "",
        "remote_code": "no",
        "licence": "",
    }


def _pick(row: dict[str, str], *columns: str) -> dict[str, str]:
    return {c: row[c] for c in columns}


def check(
    name: Annotated[str, typer.Argument(help="embedded name, local model folder, or hub id")],
    dtype: Annotated[str, typer.Option(help="float32, bfloat16 or float16")] = "float32",
    conformance: Annotated[
        bool,
        typer.Option(
            "--conformance",
            help="Run the RM conformance checks and print one row per check (exit 1 if any fails).",
        ),
    ] = False,
    fmt: Annotated[str | None, typer.Option("--format", help=FORMAT_HELP)] = None,
    trust_remote_code: Annotated[
        bool, typer.Option("--trust-remote-code", help="Run the model's own Python code from its folder or hub id.")
    ] = False,
) -> None:
    """Load a model and print its kind, shape, fingerprint and load time; with --conformance, check it as an RM.

    --conformance: a causal LM or embedded name is checked as an RM built from it (fresh head, seed 0), an RM as it is.

    Checks: determinism, batch, padding, own head, cached prefix, finite fp32/bf16/fp16, BOS, end of turn, readout, pad.

    Exit status: 0 when every check passes, 1 when any fails (a finding about the model), 2 for a bad input.
    """
    chosen = choose_format(fmt)
    if not conformance:
        _describe(name, dtype, trust_remote_code, chosen)
        return
    from interp.score.conformance import conformance as run_checks
    from interp.score.conformance import rm_to_check

    handle, how = rm_to_check(name, dtype, trust_remote_code)
    print(how, file=sys.stderr)
    checks = run_checks(handle)
    rows = [{"check": c.check, "passed": c.passed, "detail": c.detail} for c in checks]
    print_records(rows, chosen, title=f"Conformance of {name}")
    if not all(c.passed for c in checks):
        sys.exit(1)


def _describe(name: str, dtype: str, trust_remote_code: bool, fmt: str) -> None:
    from interp.models import load_model

    started = time.perf_counter()
    handle = load_model(name, dtype=dtype, trust_remote_code=trust_remote_code)
    seconds = time.perf_counter() - started
    print_records([{"name": name, **handle.summary(), "load_seconds": round(seconds, 2)}], fmt)


def register(app: typer.Typer) -> None:
    """Add the `models` command group."""
    group = typer.Typer(no_args_is_help=True, help="Embedded models and the registry of published RMs.")
    group.command("list")(list_models)
    group.command("check")(check)
    app.add_typer(group, name="models")
