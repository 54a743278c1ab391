"""The RM head before fine-tuning: fitted on frozen features, the LM's own Good−Bad contrast, or a random draw.

`fit` (the default) is a logistic regression on the Bradley–Terry differences f(chosen) − f(rejected) of
the frozen final-norm readout features (no intercept: a shared offset cancels in a difference), each
feature scaled by its spread and the penalty chosen by 5-fold cross-validation grouped by prompt; it is
the "frozen linear head" every trained RM must beat. `lm-contrast` is the base LM's unembedding of
"Good" minus "Bad" (as generative and implicit-reward RMs read preferences), scaled so training margins
have unit spread. `random` keeps the N(0, 0.02²) draw of `rm_from_base` (the old behaviour).

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> x = rng.normal(size=(200, 5)); w = np.array([1.0, -1, 0, 0, 0])
>>> fit = fit_logistic(x * np.sign(x @ w)[:, None], groups=np.arange(200) % 20)
>>> bool(pairwise_accuracy(fit.weight, x * np.sign(x @ w)[:, None]) > 0.95)
True
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from safetensors import safe_open
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold

from interp._util.errors import UserError
from interp.models import ModelHandle, resolve
from interp.training.config import HEAD_INITS

GOOD = ("Good", " Good", "good", " good")
BAD = ("Bad", " Bad", "bad", " bad")
C_GRID = (1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0)


@dataclass(frozen=True)
class LogisticFit:
    """A fitted linear head on raw features (`weight`), the chosen inverse penalty, and its CV accuracy."""

    weight: np.ndarray
    c: float
    cv_accuracy: float


def pairwise_accuracy(weight: np.ndarray, diffs: np.ndarray) -> float:
    """Share of pairs whose chosen side scores higher (ties count one half)."""
    return float(np.mean(pair_correct(diffs @ weight)))


def pair_correct(margins: np.ndarray) -> np.ndarray:
    """1 where the chosen side scores higher, 0.5 on a tie, 0 otherwise (per pair, from score margins)."""
    return (margins > 0) + 0.5 * (margins == 0)


def accuracy_by_family(correct: Sequence[float], families: Sequence[str]) -> dict[str, float]:
    """Mean of `correct` within each family, families in sorted order.

    >>> accuracy_by_family([1.0, 0.0, 0.5, 1.0], ["b", "a", "a", "b"])
    {'a': 0.25, 'b': 1.0}
    """
    groups: dict[str, list[float]] = {}
    for family, c in zip(families, correct, strict=True):
        groups.setdefault(family, []).append(float(c))
    return {f: sum(v) / len(v) for f, v in sorted(groups.items())}


def fit_logistic(diffs: np.ndarray, groups: np.ndarray, seed: int = 0) -> LogisticFit:
    """Logistic regression on chosen − rejected differences (both orientations), C by grouped 5-fold CV."""
    if len(diffs) < 10 or len(set(groups.tolist())) < 5:
        raise UserError("Fitting the RM head needs at least 10 training pairs from 5 prompts; give more pairs.")
    scale = diffs.std(0) + 1e-6
    x = np.concatenate([diffs / scale, -diffs / scale])
    y = np.concatenate([np.ones(len(diffs)), np.zeros(len(diffs))])
    folds = list(GroupKFold(5).split(x, y, np.concatenate([groups, groups])))

    def model(c: float) -> LogisticRegression:
        return LogisticRegression(C=c, fit_intercept=False, max_iter=2000, random_state=seed)

    cv = [np.mean([model(c).fit(x[tr], y[tr]).score(x[te], y[te]) for tr, te in folds]) for c in C_GRID]
    best = int(np.argmax(cv))
    return LogisticFit(model(C_GRID[best]).fit(x, y).coef_[0] / scale, C_GRID[best], float(cv[best]))


def unembedding(handle: ModelHandle) -> torch.Tensor:
    """The base LM's unembedding matrix (vocab, d): the input embedding when tied, else `lm_head.weight` on disk."""
    if handle.model.config.get_text_config().tie_word_embeddings:
        return handle.body.get_input_embeddings().weight.detach()
    base = str(getattr(handle.model.config, "rm_interp_base", handle.name))
    for file in sorted(Path(resolve(base)).glob("*.safetensors")) if Path(resolve(base)).is_dir() else []:
        with safe_open(str(file), "pt") as weights:
            if "lm_head.weight" in weights.keys():  # noqa: SIM118 (safe_open has no __contains__)
                return weights.get_tensor("lm_head.weight")
    raise UserError(
        f"'{base}' keeps no LM head in a local safetensors file, so --head-init lm-contrast cannot read its "
        "unembedding; use --head-init fit."
    )


def token_contrast(handle: ModelHandle, good: Sequence[str] = GOOD, bad: Sequence[str] = BAD) -> torch.Tensor:
    """Mean unembedding row of the first tokens of `good` minus that of `bad` (fp32, (d,)); a first token both
    sides share (e.g. a lone space in a small vocabulary) says nothing and is left out."""
    w_u = unembedding(handle).float()

    def rows(words: Sequence[str]) -> list[int]:
        return list(dict.fromkeys(handle.tokenizer(w, add_special_tokens=False).input_ids[0] for w in words))

    shared = set(rows(good)) & set(rows(bad))
    good_ids, bad_ids = [t for t in rows(good) if t not in shared], [t for t in rows(bad) if t not in shared]
    if not good_ids or not bad_ids:
        raise UserError("The good and bad contrast words share every first token; choose words that differ.")
    return w_u[good_ids].mean(0) - w_u[bad_ids].mean(0)


@dataclass(frozen=True)
class HeadStart:
    """How the head started, and the frozen linear head's held-out accuracy (the baseline to beat)."""

    init: str
    frozen_head_accuracy: float | None
    c: float | None = None
    frozen_head_accuracy_by_family: dict[str, float] = field(default_factory=dict)


def start_head(
    handle: ModelHandle,
    init: str,
    train: tuple[torch.Tensor, torch.Tensor],
    held: tuple[torch.Tensor, torch.Tensor],
    groups: np.ndarray,
    seed: int = 0,
    held_families: Sequence[str] | None = None,
) -> HeadStart:
    """Set the RM head from frozen readout features (`train`/`held` = (chosen, rejected) (n, d) each).

    The frozen linear head (a fit on `train`) is always computed, so its held-out accuracy (overall, and per
    family when `held_families` names each held-out pair's) is reported as the baseline whatever `init` is;
    `fit` installs it, `lm-contrast` the scaled Good−Bad contrast.
    """
    diffs = (train[0] - train[1]).double().numpy()
    held_diffs = (held[0] - held[1]).double().numpy()
    fit = fit_logistic(diffs, groups, seed)
    correct = pair_correct(held_diffs @ fit.weight)
    frozen = float(correct.mean()) if len(held_diffs) else None
    by_family = accuracy_by_family(correct.tolist(), held_families) if held_families is not None else {}
    start = HeadStart(init, frozen, fit.c, by_family)
    head = handle.head
    if init == "random":
        return start
    if init == "fit":
        weight = torch.from_numpy(fit.weight)
    elif init == "lm-contrast":
        contrast = token_contrast(handle).double()
        weight = contrast / max(float((torch.from_numpy(diffs) @ contrast).std()), 1e-12)
    else:
        raise UserError(f"Unknown --head-init '{init}'; use one of: {', '.join(HEAD_INITS)}.")
    with torch.no_grad():
        head.weight.copy_(weight.to(head.weight.dtype).reshape(head.weight.shape))
        if head.bias is not None:
            head.bias.zero_()
    return start
