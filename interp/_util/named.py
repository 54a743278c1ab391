"""Tables of named things (registries): a dict keyed by each item's `name`, refusing a name given twice.

>>> from types import SimpleNamespace as Item
>>> list(by_name(Item(name="smollm2"), Item(name="gemma3")))
['smollm2', 'gemma3']
>>> by_name(Item(name="a"), Item(name="a"))
Traceback (most recent call last):
ValueError: Names given twice in a registry: a.
"""

from __future__ import annotations

from typing import Protocol, TypeVar


class Named(Protocol):
    """Anything with a `name`."""

    @property
    def name(self) -> str: ...


N = TypeVar("N", bound=Named)


def by_name(*items: N) -> dict[str, N]:
    """`{item.name: item}` in the given order; raises ValueError when two items share a name."""
    table = {item.name: item for item in items}
    if len(table) != len(items):
        twice = sorted({i.name for i in items if sum(j.name == i.name for j in items) > 1})
        raise ValueError(f"Names given twice in a registry: {', '.join(twice)}.")
    return table
