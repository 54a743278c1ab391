"""LEACE inside the model: after erasure a fresh linear probe is at chance on held-out inputs."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from interp._util.errors import UserError
from interp.causal import fit_leace, leace
from interp.hooks import Site, capture
from interp.models import rm_from_base

AGENCY = ["freedom", "success", "power", "wealth", "achievement", "ambition", "victory", "control"]
COMMUNION = ["love", "friendship", "family", "kindness", "trust", "care", "warmth", "together"]
PREFIXES = [
    "The best thing is",
    "What matters most is",
    "Answer:",
    "I choose",
    "Everyone wants",
    "Give me",
    "In one word,",
    "Above all,",
    "My answer is",
    "Life is about",
    "The key is",
    "Think of",
    "We need",
    "Nothing beats",
    "It comes down to",
    "Say",
]
SITE = Site(2, "resid_post")


def _auc(train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray, test_y: np.ndarray) -> float:
    probe = LogisticRegression(max_iter=2000, C=1.0).fit(train_x, train_y)
    return float(roc_auc_score(test_y, probe.decision_function(test_x)))


def test_leace_leaves_no_linear_signal_for_a_fresh_probe(tiny_folder):
    """Unit: held-out texts; test: probe AUC vs the 95 % band of 40 shuffled-label probe AUCs."""
    rm = rm_from_base(str(tiny_folder("llama")), seed=0)
    words = [(w, 0) for w in AGENCY] + [(w, 1) for w in COMMUNION]
    texts = [f"{p} {w}" for p in PREFIXES for w, _ in words]
    labels = np.array([y for _ in PREFIXES for _, y in words])
    test = np.zeros(len(texts), bool)
    test[np.random.default_rng(0).permutation(len(texts))[: len(texts) // 3]] = True
    x = capture(rm, texts, [SITE], batch_size=64)[SITE].numpy()
    assert _auc(x[~test], labels[~test], x[test], labels[test]) > 0.75  # positive control: the concept is there

    eraser = fit_leace(torch.from_numpy(x[~test]), labels[~test])
    with leace(rm, eraser, SITE):
        erased = capture(rm, texts, [SITE], batch_size=64)[SITE].numpy()
    assert np.allclose(erased, eraser(torch.from_numpy(x)).numpy(), atol=1e-5)
    observed = _auc(erased[~test], labels[~test], erased[test], labels[test])
    rng = np.random.default_rng(1)
    null = [_auc(erased[~test], rng.permutation(labels[~test]), erased[test], labels[test]) for _ in range(40)]
    low, high = np.quantile(null, [0.025, 0.975])
    assert low <= observed <= high, (observed, low, high)


def test_leace_refuses_mismatched_inputs(tiny_folder):
    rm = rm_from_base(str(tiny_folder("llama")), seed=0)
    x = torch.randn(20, rm.d_model + 2)
    y = torch.arange(20) % 2
    with pytest.raises(UserError, match="eraser has dimension 66 but the model's residual stream has 64"):
        leace(rm, fit_leace(x, y), SITE)
    with pytest.raises(UserError, match="19 labels for 20 activation rows"):
        fit_leace(x, y[:19])
    with pytest.raises(UserError, match="at least two classes"):
        fit_leace(x, torch.zeros(20))
