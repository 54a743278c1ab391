"""Where the positive control's planted effect runs in its RMs: a detection method checked on a known answer.

For each seed's positive-control RM (top dose), on the plant's own prompts (fitting data, disjoint from the
evaluation prompts):

- the planted direction: mean over planted-word answers of (planted − unplanted base) residual entering the
  RM's final norm at the readout token, as a unit vector;
- matched nulls of the same site: label-shuffled difference-of-means directions (random word sets of the
  planted set's size against the rest, `shuffled_label`), draws from the residuals' covariance
  (`covariance_matched`), uniform unit vectors (`isotropic`) and the concrete − abstract noun contrast
  (`placebo`).

On the evaluation prompts each direction is projected out of the readout residual of every answer, in the
planted and the unplanted base alike, and the planted effect (rank gain, as in `experiments.ground_truth`) is
measured again; "removed" = 1 − ablated effect / effect. Patching puts the unplanted base's state at the
readout token of the first trained layer into the planted base's forward (every other position planted).
The unit is the RM (seed): paired t 95% CI of the fraction removed over RMs, each null's 95% band over
(RM, draw).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from interp.causal.nulls import (
    PLACEBO_WORDS,
    covariance_matched_directions,
    isotropic_directions,
    null_quantiles,
    placebo_direction,
    shuffled_label_directions,
)
from interp.sweep.splice import splicer
from interp.training.cached_rm import CachedTrainer, RMWeights
from interp.training.embedding_plant import EmbeddingPlant, planted
from interp.training.features import FeatureCache, build_cache, readout_patched
from interp.training.paired import paired_effect

NULL_KINDS = ("shuffled_label", "covariance_matched", "isotropic", "placebo")
FIT_PROMPTS = 6  # plant prompts the directions are fitted on
FIT_OTHER_WORDS = 24  # non-planted candidate words beside the planted ones in the fitting set

Effect = Callable[[torch.Tensor, torch.Tensor], float]  # (scores of every eval row, planted scores) → effect


def unit_rows(vectors: torch.Tensor) -> torch.Tensor:
    """Rows scaled to unit length, float32.

    >>> unit_rows(torch.tensor([[3.0, 4.0]])).tolist()
    [[0.6000000238418579, 0.800000011920929]]
    """
    v = vectors.float()
    return v / v.norm(dim=-1, keepdim=True).clamp_min(1e-12)


def project_out(residuals: torch.Tensor, direction: torch.Tensor) -> torch.Tensor:
    """Residuals (n, d) with their component along the unit `direction` removed.

    >>> project_out(torch.tensor([[1.0, 2.0]]), torch.tensor([0.0, 1.0])).tolist()
    [[1.0, 0.0]]
    """
    return residuals - (residuals @ direction)[:, None] * direction[None, :]


class FittingSet:
    """The rows the directions are fitted on: plant prompts × (planted, other and placebo words)."""

    def __init__(
        self,
        trainer: CachedTrainer,
        plant: EmbeddingPlant,
        prompts: Sequence[str],
        planted_words: Sequence[str],
        others: Sequence[str],
    ) -> None:
        concrete, abstract = PLACEBO_WORDS
        self.words = list(dict.fromkeys([*planted_words, *others]))
        vocabulary = [*self.words, *concrete, *abstract]
        tok = trainer.handle.tokenizer
        groups = [splicer(tok).split(p, vocabulary) for p in prompts]
        self.word_of = [w for _ in prompts for w in vocabulary]
        self.rows = [tuple(prefix + tail) for prefix, tails in groups for tail in tails]
        self.planted_words = set(planted_words)
        self.touched = [i for i, r in enumerate(self.rows) if plant.touches(r)]
        self.cache = trainer.features_shared(groups)
        with planted(trainer.handle, plant):
            self.planted_cache = build_cache(
                trainer.handle, [self.rows[i] for i in self.touched], trainer.start, trainer.tokens.pad_id
            )
        self.concrete = [i for i, w in enumerate(self.word_of) if w in concrete]
        self.abstract = [i for i, w in enumerate(self.word_of) if w in abstract]
        self.lexical = [i for i, w in enumerate(self.word_of) if w in self.words]

    def directions(self, trainer: CachedTrainer, rm: RMWeights, draws: int, seed: int) -> dict[str, torch.Tensor]:
        """The planted direction (1, d) and every null's unit directions (draws, d) at the RM's readout."""
        base = trainer.readout_residuals(rm, self.rows, self.cache)
        moved = trainer.readout_residuals(rm, [self.rows[i] for i in self.touched], self.planted_cache)
        lexical = base[self.lexical]
        labels = [int(self.word_of[i] in self.planted_words) for i in self.lexical]
        groups = [self.word_of[i] for i in self.lexical]
        return {
            "planted": unit_rows((moved - base[self.touched]).mean(0, keepdim=True)),
            "shuffled_label": unit_rows(shuffled_label_directions(lexical, labels, draws, seed, groups).vectors),
            "covariance_matched": unit_rows(covariance_matched_directions(lexical, draws, seed).vectors),
            "isotropic": unit_rows(isotropic_directions(base.shape[1], draws, seed).vectors),
            "placebo": unit_rows(placebo_direction(base[self.concrete], base[self.abstract])[None, :]),
        }


def mechanism(
    trainer: CachedTrainer,
    rms: Sequence[RMWeights],
    plant: EmbeddingPlant,
    fitting: FittingSet,
    eval_rows: Sequence[Sequence[int]],
    eval_cache: FeatureCache,
    plant_cache: FeatureCache,
    moved: Sequence[int],
    effect_of: Effect,
    draws: int,
    seed: int,
) -> dict[str, Any]:
    """Ablation of the planted direction and its nulls at the readout, and readout patching, per RM."""
    moved_rows = [tuple(eval_rows[i]) for i in moved]
    patched_cache = readout_patched(plant_cache, eval_cache, moved_rows)
    per_rm: list[dict[str, Any]] = []
    for rm in rms:
        base = trainer.readout_residuals(rm, eval_rows, eval_cache)
        shifted = trainer.readout_residuals(rm, moved_rows, plant_cache)

        def effect(
            direction: torch.Tensor | None,
            rm: RMWeights = rm,
            base: torch.Tensor = base,
            shifted: torch.Tensor = shifted,
        ) -> float:
            cut = (lambda x: x) if direction is None else (lambda x: project_out(x, direction))
            return effect_of(trainer.head_scores(rm, cut(base)), trainer.head_scores(rm, cut(shifted)))

        full = effect(None)
        dirs = fitting.directions(trainer, rm, draws, seed + rm.seed)
        patched = effect_of(
            trainer.head_scores(rm, base),
            trainer.score_rows(rm, moved_rows, patched_cache),
        )
        per_rm.append(
            {
                "seed": rm.seed,
                "effect": full,
                "planted_direction": 1.0 - effect(dirs["planted"][0]) / full,
                "readout_patching": 1.0 - patched / full,
                **{kind: [1.0 - effect(v) / full for v in dirs[kind]] for kind in NULL_KINDS},
            }
        )
    return summarise(per_rm, seed)


def summarise(per_rm: list[dict[str, Any]], seed: int) -> dict[str, Any]:
    """Fraction of the planted effect removed: paired t CI over RMs per method, each null's band over draws."""

    def removed(name: str) -> dict[str, Any]:
        stat = paired_effect([r[name] for r in per_rm], seed=seed)
        return {"fraction_removed": stat.effect, "ci_low": stat.ci_low, "ci_high": stat.ci_high, "n_rms": stat.n_rms}

    nulls = {}
    for kind in NULL_KINDS:
        values = [v for r in per_rm for v in r[kind]]
        low, high = null_quantiles(values) if len(values) > 1 else (values[0], values[0])
        nulls[kind] = {"median": float(np.median(values)), "band_low": low, "band_high": high, "n": len(values)}
    ablation = removed("planted_direction")
    ablation["beats_every_null"] = all(ablation["ci_low"] > n["band_high"] for n in nulls.values())
    return {
        "site": "residual entering the final norm, readout token (ablation); first trained layer's input,"
        " readout token (patching)",
        "unit": "RM",
        "ablation": ablation,
        "patching": removed("readout_patching"),
        "nulls": nulls,
        "per_rm": per_rm,
    }


def report(result: dict[str, Any]) -> list[str]:
    """Markdown lines for the report's ground-truth section."""
    a, p = result["ablation"], result["patching"]
    lines = [
        "",
        f"**Where the positive control runs** (top dose, {a['n_rms']} RMs; fitted on the plant's prompts, "
        "measured on the evaluation prompts). Fraction of the planted effect removed:",
        "",
        "| intervention | removed | 95% CI / null band |",
        "|---|---|---|",
        f"| ablate the planted direction (readout) | {a['fraction_removed']:.2f} | "
        f"[{a['ci_low']:.2f}, {a['ci_high']:.2f}] |",
        f"| patch the unplanted readout state (first trained layer) | {p['fraction_removed']:.2f} | "
        f"[{p['ci_low']:.2f}, {p['ci_high']:.2f}] |",
    ]
    for kind, n in result["nulls"].items():
        band = f"[{n['band_low']:.2f}, {n['band_high']:.2f}]"
        lines.append(f"| null: {kind} ({n['n']} draws) | {n['median']:.2f} (median) | {band} |")
    verdict = "above every null's band" if a["beats_every_null"] else "NOT above every null's band"
    lines += ["", f"The planted direction's ablation CI lies {verdict}.", ""]
    return lines
