"""The `rm-interp` command line: every module in `interp.commands` adds its own commands.

User errors (`UserError`) end in one line on stderr and exit status 2, never a traceback.

Startup stays fast (`rm-interp --help` well under a second): command modules import only the standard
library, typer and light `interp` modules at top level, and import torch, transformers, pandas and the
rest inside the command function that needs them.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
import sys

import typer

from interp import commands
from interp._util.errors import UserError

app = typer.Typer(no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)


def _register_commands() -> None:
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        if info.name.startswith("_"):  # a private helper of the commands, not a command module
            continue
        module = importlib.import_module(f"{commands.__name__}.{info.name}")
        module.register(app)


_register_commands()


def quiet_libraries() -> None:
    """Silence transformers' and the hub's info logs and progress bars in whatever imports them later."""
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")


def main() -> None:
    """Entry point of the console script."""
    quiet_libraries()
    try:
        code = app(standalone_mode=False)
        if isinstance(code, int) and code:  # a command that ended with typer.Exit(code)
            sys.exit(code)
    except UserError as err:
        from rich.console import Console
        from rich.markup import escape

        Console(stderr=True).print(f"[red]error:[/red] {escape(str(err))}", highlight=False, soft_wrap=True)
        sys.exit(2)
    except Exception as err:  # usage errors of typer (which bundles its own click) or of click itself
        import click
        from typer._click.exceptions import ClickException

        if isinstance(err, ClickException | click.exceptions.ClickException):
            err.show()
            sys.exit(err.exit_code)
        if isinstance(err, typer.Exit | click.exceptions.Exit):
            sys.exit(err.exit_code)
        if isinstance(err, typer.Abort | click.exceptions.Abort):
            sys.exit(130)
        raise


if __name__ == "__main__":
    main()
