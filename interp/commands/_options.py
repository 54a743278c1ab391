"""Options shared by the commands: those generated from a config dataclass (one per field, typed and defaulted
as the field, with the help of its `metadata["help"]`, so a new setting is an option without touching the
command), and the old flag spelling `--rm` (now `--as-rm`), refused with a hint."""

from __future__ import annotations

import dataclasses
import functools
import inspect
import typing
from collections.abc import Callable
from typing import Annotated, Any, Literal

import typer

from interp._util.errors import UserError

OldRmFlag = Annotated[bool, typer.Option("--rm", hidden=True, help="the old spelling of --as-rm (refused)")]


def _option_type(hint: Any) -> Any:
    """The type typer parses a field as: a `Literal` as its values' type (the config refuses other values)."""
    return type(typing.get_args(hint)[0]) if typing.get_origin(hint) is Literal else hint


def _field_options(config_class: type[Any]) -> list[inspect.Parameter]:
    hints = typing.get_type_hints(config_class)
    return [
        inspect.Parameter(
            f.name,
            inspect.Parameter.KEYWORD_ONLY,
            annotation=Annotated[_option_type(hints[f.name]), typer.Option(help=f.metadata["help"])],
            default=inspect.Parameter.empty if f.default is dataclasses.MISSING else f.default,
        )
        for f in dataclasses.fields(config_class)
    ]


def config_options(config_class: type[Any]) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Decorate a command whose parameter `config` is a `config_class`: typer sees one option per field in its
    place, and the command receives the config built from them (its own options follow)."""

    def decorate(command: Callable[..., None]) -> Callable[..., None]:
        fields = [f.name for f in dataclasses.fields(config_class)]
        own = inspect.signature(command, eval_str=True)
        kept = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in own.parameters.values() if p.name != "config"]

        @functools.wraps(command)
        def run(**options: Any) -> None:
            config = config_class(**{name: options.pop(name) for name in fields})
            command(**options, config=config)

        run.__signature__ = own.replace(parameters=[*_field_options(config_class), *kept])  # type: ignore[attr-defined]
        return run

    return decorate


def refuse_old_rm_flag(given: bool) -> None:
    """Refuse the flag `--rm` of `capture` and `probe`, renamed `--as-rm` since `--rm` elsewhere names an RM."""
    if given:
        raise UserError("The flag --rm is now --as-rm (elsewhere --rm names a reward model to load); use --as-rm.")
