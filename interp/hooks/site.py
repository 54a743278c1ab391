"""Where to read or write the residual stream: a layer, a point in it, and a token position.

`resid_pre` of layer i is the hidden state entering decoder layer i; `resid_post` is what it returns
(so `resid_post` of layer i equals `resid_pre` of layer i + 1). Positions count real tokens only, so
padding side never changes which token a site names: `readout` is the last real token (the one an RM's
head reads), `all` is every real token, and an int is a real-token index (negative counts from the end,
-1 being the readout token).

>>> site = Site(12, "resid_post", "readout")
>>> site.name, Site.parse("L12.resid_post.readout") == site
('L12.resid_post.readout', True)
>>> [s.name for s in Site.grid([0, 3], position=-2)]
['L0.resid_post.-2', 'L3.resid_post.-2']
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal, cast

from interp._util.errors import UserError

Point = Literal["resid_pre", "resid_post"]
Position = Literal["readout", "all"] | int
POINTS: tuple[Point, ...] = ("resid_pre", "resid_post")


@dataclass(frozen=True, order=False)
class Site:
    """A residual-stream location: decoder layer index, `resid_pre`/`resid_post`, and token position."""

    layer: int
    point: Point = "resid_post"
    position: Position = "readout"

    def __post_init__(self) -> None:
        if isinstance(self.layer, bool) or not isinstance(self.layer, int) or self.layer < 0:
            raise UserError(f"A site's layer must be a non-negative integer, not {self.layer!r}.")
        if self.point not in POINTS:
            raise UserError(f"Unknown point '{self.point}'; use resid_pre or resid_post.")
        if isinstance(self.position, bool) or not (
            self.position in ("readout", "all") or isinstance(self.position, int)
        ):
            raise UserError(f"Unknown position {self.position!r}; use 'readout', 'all' or a token index.")

    @property
    def name(self) -> str:
        """A stable, file-safe name such as `L12.resid_post.readout` (used as the tensor name on disk)."""
        return f"L{self.layer}.{self.point}.{self.position}"

    @property
    def order(self) -> tuple[int, int]:
        """Execution order in a forward pass: by layer, `resid_pre` before `resid_post`."""
        return (self.layer, POINTS.index(self.point))

    def check(self, n_layers: int) -> Site:
        """Return self, or raise when the layer does not exist in a model of `n_layers` layers."""
        if self.layer >= n_layers:
            raise UserError(
                f"Layer {self.layer} of site {self.name} is out of range: this model has layers 0 to {n_layers - 1}."
            )
        return self

    @classmethod
    def parse(cls, text: str) -> Site:
        """Read a name written by `Site.name`, e.g. `L3.resid_pre.all` or `L3.resid_post.-1`."""
        parts = text.split(".")
        if len(parts) != 3 or not parts[0].startswith("L") or not parts[0][1:].isdigit():
            raise UserError(f"Cannot read the site name '{text}'; write it like L12.resid_post.readout.")
        position = parts[2] if parts[2] in ("readout", "all") else _int(parts[2], text)
        return cls(int(parts[0][1:]), cast(Point, parts[1]), cast(Position, position))

    @classmethod
    def grid(cls, layers: Iterable[int], point: Point = "resid_post", position: Position = "readout") -> list[Site]:
        """One site per layer at the same point and position."""
        return [cls(layer, point, position) for layer in layers]


def _int(text: str, whole: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise UserError(f"Cannot read the position in site name '{whole}'; use readout, all or an integer.") from None


def parse_layers(spec: str, n_layers: int) -> list[int]:
    """Layer indices from `all`, `0,5,10`, or ranges like `0-3,8` (checked against the model).

    >>> parse_layers("0-2,5", 6), parse_layers("all", 3)
    ([0, 1, 2, 5], [0, 1, 2])
    """
    if spec.strip() == "all":
        return list(range(n_layers))
    layers: list[int] = []
    for part in spec.split(","):
        lo, _, hi = part.strip().partition("-")
        if not lo.isdigit() or (hi and not hi.isdigit()):
            raise UserError(f"Cannot read the layer list '{spec}'; write it like 0,5,10 or 0-3 or all.")
        layers.extend(range(int(lo), int(hi or lo) + 1))
    for layer in layers:
        Site(layer).check(n_layers)
    return sorted(set(layers))


def check_sites(sites: Site | Sequence[Site], n_layers: int) -> list[Site]:
    """A de-duplicated list of sites, each validated against a model with `n_layers` layers."""
    listed = [sites] if isinstance(sites, Site) else list(sites)
    if not listed:
        raise UserError("No sites given; name at least one site, e.g. Site(0, 'resid_post', 'readout').")
    for site in listed:
        if not isinstance(site, Site):
            raise UserError(
                f"Expected Site objects, got {type(site).__name__}; build them with Site(layer, point, position)."
            )
        site.check(n_layers)
    return list(dict.fromkeys(listed))
