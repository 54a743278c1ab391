"""`rm-interp lexicon list|show|fetch|add`: the bundled lexicon and the registry of public files."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from interp._util.listing import FORMAT_HELP, choose_format, print_records
from interp.lexicons import downloads as reg

console = Console(markup=False, highlight=False, soft_wrap=True)


def list_(fmt: Annotated[str | None, typer.Option("--format", help=FORMAT_HELP)] = None) -> None:
    """List the bundled lexicon and every registry file, with whether it is in the cache."""
    chosen = choose_format(fmt)
    rows = [{"name": "default", "kind": "lexicon", "cached": "bundled", "description": "rm-interp default lexicon"}]
    for entry in reg.REGISTRY.values():
        cached = "yes" if reg.cached_path(entry.name) else "no"
        description = entry.description.split(";")[0]
        rows.append({"name": entry.name, "kind": entry.kind, "cached": cached, "description": description})
    print_records(rows, chosen)
    if chosen == "table":
        console.print(f"cache: {reg.cache_dir()}; group names: paper-scores; paper files: {reg.PAPER_NOTE}")


def show(name: Annotated[str, typer.Argument(help="default, a registry name, or a lexicon file")]) -> None:
    """Show a lexicon's categories, sizes and first words (or a registry file's URL and hash)."""
    if name in reg.REGISTRY and reg.REGISTRY[name].kind != "lexicon":
        entry = reg.REGISTRY[name]
        console.print(f"{entry.name} ({entry.kind}): {entry.description}\nurl: {entry.url}\nsha256: {entry.sha256}")
        console.print(f"cached at: {reg.cached_path(name) or 'not downloaded'}")
        return
    from interp.lexicons.readers import load_lexicon

    lex = load_lexicon(name)
    console.print(f"{lex.name}: {lex.source}")
    for category, words in lex.categories.items():
        globs = sum(w.endswith("*") for w in words)
        console.print(f"  {category}: {len(words)} entries ({globs} stem globs): {', '.join(words[:8])}, …")


def fetch(name: Annotated[str, typer.Argument(help="registry name or group, e.g. big2-nouns, paper-scores")]) -> None:
    """Download a registry file (or group) to the cache and verify its sha256."""
    for path in reg.fetch(name):
        console.print(f"verified {path}")


def add(
    name: Annotated[str, typer.Argument(help="registry name or group")],
    source: Annotated[Path, typer.Option("--from", help="local copy (a folder for a group)")],
) -> None:
    """Import a local copy of a registry file after the same sha256 check as `fetch` (offline use)."""
    for path in reg.add(name, source):
        console.print(f"verified and stored {path}")


def register(app: typer.Typer) -> None:
    """Add the `lexicon` command group."""
    group = typer.Typer(no_args_is_help=True, help="Lexicons: the bundled default and public files.")
    group.command("list")(list_)
    group.command("show")(show)
    group.command("fetch")(fetch)
    group.command("add")(add)
    app.add_typer(group, name="lexicon")
