"""Lazy public names for a package `__init__` (PEP 562): a name imports its module the first time it is asked for.

A package lists its public names as imports under `if TYPE_CHECKING:` (what type checkers and readers see) and
in `__all__`, then ends with `__getattr__, __dir__ = lazy_exports(__name__)`. Importing the package (or any of
its light modules, as the CLI does at startup) then loads neither torch nor transformers.

>>> sources("interp.models")["load_lm"]
'interp.models.loading'
"""

from __future__ import annotations

import ast
import functools
import importlib
import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any


@functools.cache
def sources(package: str) -> dict[str, str]:
    """Each public name of `package` -> the module it comes from, read from its `TYPE_CHECKING` imports."""
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError(f"No package {package!r}")
    tree = ast.parse(Path(spec.origin).read_text(encoding="utf-8"))
    block = next(n for n in tree.body if isinstance(n, ast.If) and ast.unparse(n.test) == "TYPE_CHECKING")
    return {
        a.name: node.module
        for node in block.body
        if isinstance(node, ast.ImportFrom) and node.module
        for a in node.names
    }


def lazy_exports(package: str) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The `__getattr__` and `__dir__` of a package whose public names are its `TYPE_CHECKING` imports."""

    def __getattr__(name: str) -> Any:
        source = sources(package).get(name)
        if source is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(source), name)
        setattr(sys.modules[package], name, value)  # later lookups find it without this function
        return value

    def __dir__() -> list[str]:
        module = sys.modules[package]
        return sorted({*vars(module), *getattr(module, "__all__", ())})

    return __getattr__, __dir__
