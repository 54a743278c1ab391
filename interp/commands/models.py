"""`rm-interp models list|check`: the embedded models and the registry of published RMs."""

from __future__ import annotations

import time

import typer
from rich.console import Console
from rich.table import Table

from interp.embedded import EMBEDDED
from interp.models import load_lm
from interp.registry import REGISTRY

models_app = typer.Typer(no_args_is_help=True, help="Embedded models and the registry of published RMs.")
console = Console()


@models_app.command("list")
def list_models() -> None:
    """List the embedded models (offline) and the registry of the paper's ten RMs."""
    embedded = Table("name", "hf original", "architecture", "kind", "licence", title="Embedded models (offline)")
    for m in EMBEDDED.values():
        embedded.add_row(m.name, m.hf_name, m.architecture, "instruct" if m.instruct else "base", m.licence)
    console.print(embedded)
    registry = Table("hub id", "base family", "dtype", "score readout", "remote code", title="Registry of RMs")
    for e in REGISTRY:
        registry.add_row(e.hub_id, e.family, e.dtype, e.readout, "yes" if e.trust_remote_code else "no")
    console.print(registry)


@models_app.command("check")
def check(name: str, dtype: str = typer.Option("float32", help="float32 or bfloat16")) -> None:
    """Load a model and print its architecture, layers, d_model, vocabulary size and load time."""
    started = time.perf_counter()
    handle = load_lm(name, dtype=dtype)
    seconds = time.perf_counter() - started
    config = handle.model.config
    console.print(
        f"{name}: architecture={config.architectures[0] if config.architectures else type(handle.model).__name__} "
        f"layers={handle.n_layers} d_model={handle.d_model} vocab={len(handle.tokenizer)} "
        f"dtype={handle.model.dtype} fingerprint={handle.fingerprint} load_seconds={seconds:.2f}",
        highlight=False,
        soft_wrap=True,
    )


def register(app: typer.Typer) -> None:
    app.add_typer(models_app, name="models")
