"""Families of intervention conditions for the causal study: a direction, its controls, and doses.

Every edit acts on the residual stream after a layer (`resid_post`) at every token position, so a cached
prompt prefix is edited exactly as the answer is. Random control directions are unit vectors like the
directions they stand beside, so a projection removes the same amount of norm budget.

>>> conds = ablation_conditions({3: torch.ones(8)}, "base_direction", layers=[3], all_layers=False)  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager

import torch
from concept_erasure import LeaceEraser

from interp.causal.ablation import ablate, mean_ablate
from interp.causal.leace import leace
from interp.causal.steering import steer
from interp.causal.study import Condition, Intervene, stacked
from interp.directions import random_directions
from interp.hooks.site import Site
from interp.models import ModelHandle

ALL_LAYERS = -1


def _site(layer: int) -> Site:
    return Site(layer, "resid_post", "all")


def _ablate_at(layer: int, vector: torch.Tensor) -> Intervene:
    return lambda handle: ablate(handle, vector, [_site(layer)])


def ablation_conditions(
    vectors: Mapping[int, torch.Tensor],
    group: str,
    layers: Sequence[int],
    all_layers: bool = True,
    control: bool = False,
) -> list[Condition]:
    """Project `vectors[layer]` out at each listed layer alone, and (optionally) at every layer at once."""
    out = [
        Condition(f"{group}@L{layer}", group, layer, _ablate_at(layer, vectors[layer]), control=control)
        for layer in layers
    ]
    if all_layers:
        every = stacked(*(_ablate_at(layer, v) for layer, v in sorted(vectors.items())))
        out.append(Condition(f"{group}@all", group, ALL_LAYERS, every, control=control))
    return out


def random_ablations(
    d_model: int, n_layers: int, layers: Sequence[int], n: int, seed: int, all_layers: bool = True
) -> list[Condition]:
    """`n` random unit directions ablated at each listed layer (and, independently drawn, at all layers)."""
    out: list[Condition] = []
    for i in range(n):
        draws = random_directions(d_model, n_layers, seed=seed + i)
        vectors = {layer: draws[layer] for layer in range(n_layers)}
        for cond in ablation_conditions(vectors, "random", layers, all_layers, control=True):
            out.append(
                Condition(
                    f"random{i:02d}@{cond.name.split('@')[1]}", "random", cond.layer, cond.intervene, control=True
                )
            )
    return out


def mean_ablation_condition(vector: torch.Tensor, mean_projection: float, layer: int) -> Condition:
    """Pin the component along `vector` to its mean over the probe inputs, at one layer."""
    return Condition(
        f"mean_ablate@L{layer}",
        "mean_ablate",
        layer,
        lambda handle: mean_ablate(handle, vector, mean_projection, [_site(layer)]),
    )


def leace_condition(eraser: LeaceEraser, layer: int) -> Condition:
    """LEACE erasure (fit elsewhere on labelled activations) at one layer."""
    return Condition(f"leace@L{layer}", "leace", layer, lambda handle: leace(handle, eraser, [_site(layer)]))


def steering_conditions(
    vector: torch.Tensor, layer: int, scale: float, fractions: Sequence[float], n_random: int, d_model: int, seed: int
) -> list[Condition]:
    """Add α·d at one layer for α = fraction × scale (scale: a typical residual norm there), with the
    same doses of `n_random` random unit directions as controls."""
    out: list[Condition] = []
    randoms = random_directions(d_model, n_random, seed=seed)
    for fraction in fractions:
        alpha = fraction * scale
        out.append(
            Condition(
                f"steer_base@{fraction:+.2f}", "steer_base", layer, _steer_at(layer, vector, alpha), alpha=fraction
            )
        )
        if fraction != 0:
            out += [
                Condition(
                    f"steer_random{i:02d}@{fraction:+.2f}",
                    "steer_random",
                    layer,
                    _steer_at(layer, randoms[i], alpha),
                    alpha=fraction,
                    control=True,
                )
                for i in range(n_random)
            ]
    return out


def _steer_at(layer: int, vector: torch.Tensor, alpha: float) -> Intervene:
    def enter(handle: ModelHandle) -> AbstractContextManager[None]:
        return steer(handle, vector, alpha, [_site(layer)])

    return enter
