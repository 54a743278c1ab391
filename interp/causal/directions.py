"""The Direction type: a unit vector in a model's residual stream plus where and how it was found.

A Direction is frozen, saved as safetensors (the vector) beside a JSON sidecar (everything else), and
compared with `cosine` (one direction against another) or `principal_angles` (k-dim subspaces).

>>> d = Direction(torch.tensor([3.0, 4.0]), Site(2), method="diff_means", model_fingerprint="abc", data_hash="h1")
>>> d.vector.tolist(), d.dim, d.site.name
([0.6000000238418579, 0.800000011920929], 2, 'L2.resid_post.readout')
>>> round(cosine(d, d), 6)
1.0
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from scipy.stats import beta

from interp._util.errors import UserError
from interp.hooks.site import Site

FORMAT_VERSION = 1

VectorLike = torch.Tensor | np.ndarray | Sequence[float]


@dataclass(frozen=True, eq=False)
class Direction:
    """A unit vector (float32, normalised on creation) with its site, method and provenance.

    `lineage_id` names the base LM → RM → checkpoints family the model belongs to; directions are only
    comparable inside one lineage (same coordinate frame). `metrics` holds scalar fit statistics.
    """

    vector: torch.Tensor
    site: Site
    method: str
    model_fingerprint: str
    data_hash: str
    lineage_id: str = ""
    metrics: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        v = torch.as_tensor(self.vector).detach().to("cpu", torch.float64).flatten()
        if v.numel() == 0 or not bool(torch.isfinite(v).all()):
            raise UserError("A Direction needs a non-empty vector of finite numbers; check the fit's input.")
        norm = float(v.norm())
        if norm == 0.0:
            raise UserError("A Direction cannot be the zero vector; the two classes had identical means.")
        if not isinstance(self.site, Site):
            raise UserError(f"A Direction's site must be a Site, not {type(self.site).__name__}; use Site(layer).")
        object.__setattr__(self, "vector", (v / norm).to(torch.float32).contiguous())
        object.__setattr__(self, "metrics", {str(k): float(x) for k, x in dict(self.metrics).items()})

    @property
    def dim(self) -> int:
        """The residual-stream width d_model."""
        return int(self.vector.numel())

    def save(self, path: str | Path) -> Path:
        """Write `<path>.safetensors` (the vector) and `<path>.json` (the rest); returns the JSON path."""
        stem = _stem(path)
        stem.parent.mkdir(parents=True, exist_ok=True)
        save_file({"vector": self.vector}, str(stem.with_suffix(".safetensors")))
        meta: dict[str, Any] = {
            "format_version": FORMAT_VERSION,
            "dim": self.dim,
            "layer": self.site.layer,
            "point": self.site.point,
            "position": self.site.position,
            "method": self.method,
            "model_fingerprint": self.model_fingerprint,
            "data_hash": self.data_hash,
            "lineage_id": self.lineage_id,
            "metrics": dict(self.metrics),
        }
        json_path = stem.with_suffix(".json")
        json_path.write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
        return json_path

    @classmethod
    def load(cls, path: str | Path) -> Direction:
        """Read a Direction written by `save` (pass the stem, the .json or the .safetensors path)."""
        stem = _stem(path)
        json_path, st_path = stem.with_suffix(".json"), stem.with_suffix(".safetensors")
        if not json_path.is_file() or not st_path.is_file():
            raise UserError(f"No saved Direction at {stem}: expected both {json_path.name} and {st_path.name}.")
        meta = json.loads(json_path.read_text())
        if meta.get("format_version") != FORMAT_VERSION:
            raise UserError(f"{json_path} has format version {meta.get('format_version')}, expected 1.")
        vector = load_file(str(st_path))["vector"]
        if vector.numel() != meta["dim"]:
            raise UserError(f"{st_path} holds {vector.numel()} numbers but {json_path} says dim {meta['dim']}.")
        site = Site.parse(f"L{meta['layer']}.{meta['point']}.{meta['position']}")  # position: a str or an int
        keys = ("method", "model_fingerprint", "data_hash", "lineage_id")
        return cls(vector=vector, site=site, metrics=meta["metrics"], **{k: meta[k] for k in keys})


def _stem(path: str | Path) -> Path:
    p = Path(path)
    return p.with_suffix("") if p.suffix in (".json", ".safetensors") else p


def check_dims(dim_a: int, dim_b: int, what: str = "vectors") -> None:
    """Raise a UserError naming both widths when two residual-stream widths differ.

    >>> check_dims(576, 576)
    """
    if dim_a != dim_b:
        raise UserError(
            f"The {what} have different dimensions ({dim_a} vs {dim_b}); compare only models of one lineage."
        )


def check_same_lineage(a: Direction, b: Direction) -> None:
    """Raise a UserError unless `a` and `b` live in one model lineage's coordinate frame (and width)."""
    check_dims(a.dim, b.dim, "directions")
    if a.lineage_id and b.lineage_id:
        if a.lineage_id != b.lineage_id:
            raise UserError(
                f"The directions come from different lineages ({a.lineage_id!r} vs {b.lineage_id!r}); "
                "their coordinates are not comparable."
            )
    elif a.model_fingerprint != b.model_fingerprint:
        raise UserError(
            "Cannot tell whether the two directions share a lineage (a lineage_id is missing); "
            "set lineage_id when fitting them."
        )


def _as_vector(x: Direction | VectorLike) -> torch.Tensor:
    if isinstance(x, Direction):
        return x.vector.to(torch.float64)
    return torch.as_tensor(np.asarray(x, dtype=np.float64)).flatten()


def cosine(a: Direction | VectorLike, b: Direction | VectorLike) -> float:
    """Cosine similarity of two directions or vectors (lineage-checked when both are Directions).

    >>> cosine([1.0, 0.0], [1.0, 1.0]) == 1 / math.sqrt(2)
    True
    """
    if isinstance(a, Direction) and isinstance(b, Direction):
        check_same_lineage(a, b)
    va, vb = _as_vector(a), _as_vector(b)
    check_dims(va.numel(), vb.numel())
    na, nb = float(va.norm()), float(vb.norm())
    if na == 0.0 or nb == 0.0:
        raise UserError("Cosine is undefined for a zero vector; pass non-zero directions.")
    return float(va @ vb) / (na * nb)


def _basis(x: Sequence[Direction] | torch.Tensor | np.ndarray, name: str) -> torch.Tensor:
    """Orthonormal basis (d, k) of the span of k row vectors, refusing rank-deficient input."""
    if isinstance(x, torch.Tensor | np.ndarray):
        rows = torch.as_tensor(np.asarray(x, dtype=np.float64))
    else:
        rows = torch.stack([_as_vector(v) for v in x])
    if rows.ndim != 2 or rows.shape[0] == 0:
        raise UserError(f"Subspace {name} must be a (k, d) array of k >= 1 row vectors, not shape {tuple(rows.shape)}.")
    k, d = rows.shape
    if k > d:
        raise UserError(f"Subspace {name} has k={k} vectors in only d={d} dimensions; use k <= {d}.")
    u, s, _ = torch.linalg.svd(rows.T, full_matrices=False)
    rank = int((s > s[0] * max(d, k) * 1e-12).sum())
    if rank < k:
        raise UserError(f"Subspace {name} spans only {rank} dimensions, fewer than k={k}; use k <= {rank}.")
    return u


def principal_angles(
    a: Sequence[Direction] | torch.Tensor | np.ndarray, b: Sequence[Direction] | torch.Tensor | np.ndarray
) -> np.ndarray:
    """Principal angles (radians, ascending) between the spans of two sets of k row vectors each (k, d).

    >>> import numpy as np
    >>> principal_angles(np.eye(3)[:2], np.eye(3)[[1, 2]]).round(6).tolist()
    [0.0, 1.570796]
    """
    qa, qb = _basis(a, "A"), _basis(b, "B")
    check_dims(qa.shape[0], qb.shape[0], "subspaces")
    if qa.shape[1] != qb.shape[1]:
        raise UserError(f"The subspaces have different k ({qa.shape[1]} vs {qb.shape[1]}); pass equal k.")
    cos = torch.linalg.svdvals(qa.T @ qb).clamp(0.0, 1.0)
    return np.sort(np.arccos(cos.numpy()))


def random_directions(d: int, n: int, seed: int = 0) -> torch.Tensor:
    """`n` independent uniformly random unit vectors in R^d, as rows of a float32 (n, d) tensor.

    >>> random_directions(576, 3, seed=1).norm(dim=1).round(decimals=5).tolist()
    [1.0, 1.0, 1.0]
    """
    if d < 1 or n < 0:
        raise UserError(f"random_directions needs d >= 1 and n >= 0, got d={d}, n={n}.")
    g = torch.Generator().manual_seed(seed)
    v = torch.randn(n, d, generator=g, dtype=torch.float64)
    return (v / v.norm(dim=1, keepdim=True)).to(torch.float32)


def random_abs_cosine_quantile(d: int, q: float) -> float:
    """Exact q-quantile of |cos| between a fixed and a uniformly random unit vector in R^d.

    cos² follows Beta(1/2, (d-1)/2), so this is the chance level a measured |cos| must beat.

    >>> round(random_abs_cosine_quantile(576, 0.95), 4)
    0.0816
    """
    if d < 2:
        raise UserError(f"A random-direction baseline needs d >= 2, got d={d}.")
    return math.sqrt(float(beta.ppf(q, 0.5, (d - 1) / 2)))
