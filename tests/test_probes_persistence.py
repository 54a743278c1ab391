"""Persistence: CKA, concept subspaces, transfer, baselines, lineage checks, checkpoint tables, plots."""

from __future__ import annotations

import math
import re
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from interp._util.errors import UserError
from probes.data import ProbeData, planted
from probes.fit import ProbeConfig, fit_probes
from probes.persistence import (
    Persistence,
    PersistenceConfig,
    compare,
    concept_subspace,
    linear_cka,
    persistence_along,
)
from probes.plots import plot_persistence_heatmap, plot_probe_auc, plot_transfer

pytestmark = pytest.mark.usefixtures("one_thread")

PLANTED = 2
CONFIG = PersistenceConfig(n_null=10, n_cka_shuffle=5)


@pytest.fixture(scope="module")
def base() -> tuple[ProbeData, torch.Tensor]:
    return planted(n_words=80, per_word=5, n_layers=4, d_model=32, layer=PLANTED, seed=0)


def with_x(
    data: ProbeData, x: np.ndarray, *, lineage_id: str | None = None, inputs_id: str = "", model_name: str = "rm"
) -> ProbeData:
    """The same inputs seen by another model ("rm") of the lineage unless told otherwise."""
    return replace(
        data,
        X=x.astype(np.float32),
        model_fingerprint="rm",
        model_name=model_name,
        lineage_id=data.lineage_id if lineage_id is None else lineage_id,
        inputs_id=inputs_id or data.inputs_id,
    )


def one_sentence(err: pytest.ExceptionInfo[UserError]) -> str:
    msg = str(err.value)
    assert "\n" not in msg and msg.endswith("."), msg
    assert not re.search(r"[.;]\s+[A-Z]", msg), f"more than one sentence: {msg}"
    return msg


def test_cka_identity_rotation_scale_and_independence() -> None:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(300, 20, generator=g) @ torch.randn(20, 20, generator=g)
    q = torch.linalg.qr(torch.randn(20, 20, generator=g))[0]
    assert linear_cka(x, x) == pytest.approx(1.0, abs=1e-9)
    assert linear_cka(x, 2.5 * x @ q + 7.0) == pytest.approx(1.0, abs=1e-9)
    assert linear_cka(x, torch.randn(300, 20, generator=g)) < 0.2
    with pytest.raises(UserError):
        linear_cka(x, x[:10])


def test_model_against_itself(base: tuple[ProbeData, torch.Tensor]) -> None:
    data = base[0]
    res = compare(data, data, CONFIG, progress=False)
    d, layers = res.directions, res.layers
    assert len(d) == 4 * 3 and len(layers) == 4
    np.testing.assert_allclose(d.cos, 1.0, atol=1e-6)
    np.testing.assert_allclose(d.cos_shuffled_mean, 1.0, atol=1e-6)
    assert (d.auc_a_to_b == d.auc_a).all() and (d.acc_a_to_b == d.acc_a).all() and (d.auc_b == d.auc_a).all()
    np.testing.assert_allclose(layers.cka, 1.0, atol=1e-5)
    np.testing.assert_allclose(layers.subspace_overlap, 1.0, atol=1e-6)
    assert (layers.angle_max_deg < 0.01).all()
    assert (layers.subspace_overlap_random_q95 < 0.5).all() and (layers.cka_shuffled_max < 0.2).all()
    np.testing.assert_allclose(d.cos_random_q95, 0.344, atol=0.01)
    planted_rows = d[d.layer == PLANTED]
    assert (planted_rows.auc_a > 0.99).all() and (planted_rows.auc_a > planted_rows.transfer_null_q95).all()


def test_rotation_keeps_cka_but_moves_the_direction(base: tuple[ProbeData, torch.Tensor]) -> None:
    data, u = base
    q = torch.linalg.qr(torch.randn(32, 32, generator=torch.Generator().manual_seed(5)))[0].numpy()
    rotated = with_x(data, data.X @ q)
    res = compare(data, rotated, CONFIG, progress=False)
    np.testing.assert_allclose(res.layers.cka, 1.0, atol=1e-5)
    rows = res.directions[res.directions.layer == PLANTED].set_index("method")
    expected = float(u.numpy() @ q @ u.numpy())
    assert rows.loc["diff_means", "cos"] == pytest.approx(expected, abs=0.1)
    assert (rows.auc_b > 0.99).all() and (rows.auc_a_to_b < 0.8).all()


def test_cka_shuffled_mean_is_the_permutation_expectation(base: tuple[ProbeData, torch.Tensor]) -> None:
    data = base[0]
    noisy = with_x(data, data.X + np.random.default_rng(1).normal(size=data.X.shape))
    res = compare(data, noisy, replace(CONFIG, methods=("diff_means",)), progress=False)
    x, y = data.layer(1), noisy.layer(1)
    g = torch.Generator().manual_seed(0)
    simulated = np.mean([linear_cka(x, y[torch.randperm(len(y), generator=g)]) for _ in range(300)])
    assert res.layers.cka_shuffled_mean[1] == pytest.approx(simulated, rel=0.05)
    assert res.layers.cka[1] > 5 * res.layers.cka_shuffled_max[1]


def test_persistence_along_tracks_a_rotating_direction(base: tuple[ProbeData, torch.Tensor], tmp_path: Path) -> None:
    data, u = base
    v = torch.randn(32, generator=torch.Generator().manual_seed(9))
    v = (v - (v @ u) * u) / (v - (v @ u) * u).norm()
    shift = 8.0 * (data.labels[:, None] - 0.5)
    ckpts = [data]
    for step, theta in enumerate((0.3, 0.8, 1.3), start=1):
        x = data.X.copy()
        x[:, PLANTED] += shift * (math.cos(theta) * u + math.sin(theta) * v - u).numpy()
        ckpts.append(with_x(data, x, model_name=f"step{step}"))
    table = persistence_along(ckpts, "diff_means", CONFIG, progress=False)
    at = table[table.layer == PLANTED].sort_values("step")
    assert at.checkpoint.tolist() == ["planted", "step1", "step2", "step3"]
    assert at.cos.iloc[0] == pytest.approx(1.0)
    assert list(at.cos) == sorted(at.cos, reverse=True)
    np.testing.assert_allclose(at.cos.iloc[1:], np.cos([0.3, 0.8, 1.3]), atol=0.08)
    # The checkpoints share every activation but the planted shift, so even shuffled-label directions agree:
    # exactly the shared-geometry baseline that a raw cosine must be read against.
    assert (at.cos_shuffled_q95.iloc[1:] > 0.9).all()
    png = plot_persistence_heatmap(table, tmp_path / "heat.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_mismatched_models_are_one_sentence_user_errors(base: tuple[ProbeData, torch.Tensor]) -> None:
    data = base[0]
    cases = [
        (with_x(data, data.X, lineage_id="gemma3"), "different lineages"),
        (with_x(data, data.X, lineage_id=""), "lineage_id is missing"),
        (with_x(data, data.X[:, :, :16]), "16"),
        (with_x(data, data.X, inputs_id="other-frames"), "same inputs"),
    ]
    for other, fragment in cases:
        with pytest.raises(UserError) as err:
            compare(data, other, CONFIG, progress=False)
        assert fragment in one_sentence(err)
    with pytest.raises(UserError) as err:
        persistence_along([data], progress=False)
    one_sentence(err)


def test_k_beyond_the_data_is_a_user_error(base: tuple[ProbeData, torch.Tensor]) -> None:
    data = base[0]
    with pytest.raises(UserError) as err:
        compare(data, data, replace(CONFIG, k=80), progress=False)
    assert "k=80" in one_sentence(err)
    assert concept_subspace(data.layer(0), data.word_index, 5).shape == (5, 32)


def test_tables_save_and_plot(base: tuple[ProbeData, torch.Tensor], tmp_path: Path) -> None:
    data = base[0]
    rm = with_x(data, data.X * 1.1)
    res: Persistence = compare(data, rm, replace(CONFIG, methods=("lda",)), progress=False)
    out = res.save(tmp_path / "p")
    assert {p.name for p in out.iterdir()} == {
        "persistence_directions.csv", "persistence_layers.csv", "persistence_config.json"
    }  # fmt: skip
    config = ProbeConfig(methods=("lda",), n_perm=10, n_boot=50)
    both = [fit_probes(d, config, progress=False).table for d in (data, rm)]
    for png in (
        plot_probe_auc(pd.concat(both), tmp_path / "auc.png", method="lda"),
        plot_transfer(res.directions, tmp_path / "transfer.png", method="lda"),
    ):
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5_000
    with pytest.raises(UserError) as err:
        plot_transfer(res.directions, tmp_path / "x.png", method="logistic")
    assert "no rows" in one_sentence(err)


def test_lineage_persistence_follows_the_checkpoints_and_saves(tiny_folder, tmp_path: Path) -> None:
    """A tiny lineage read through the store: base vs RM, and the table along its one checkpoint, named by the last
    part of the checkpoint's model name; `save` writes the tables and figures the persistence command writes."""
    from interp.lexicons.readers import load_lexicon
    from interp.models import Lineage, load_lm, load_rm, rm_from_base, save
    from interp.sweep.outputs import choose_prompts
    from probes.lineage_persistence import lineage_persistence

    base = str(tiny_folder("llama"))
    checkpoint = save(rm_from_base(base, seed=1), tmp_path / "checkpoint-2")
    lineage = Lineage(load_lm(base), rm_from_base(base, seed=0), [load_rm(str(checkpoint))])
    config = PersistenceConfig(methods=("diff_means", "logistic"), n_null=2, n_cka_shuffle=2)
    found = lineage_persistence(
        lineage, load_lexicon("default"), choose_prompts("grid", 1), tmp_path / "store", config, progress=False
    )
    assert found.along is not None
    named = found.along.groupby("step")["checkpoint"].first()
    assert named.index.tolist() == [0, 1, 2] and named.tolist()[1] == "checkpoint-2"
    assert (found.weight_change == 0).all()  # fresh heads: every body is the base's
    found.save(tmp_path / "out")
    written = {p.name for p in (tmp_path / "out").iterdir()}
    assert {"transfer.png", "weight_change.csv", "persistence_along.csv", "persistence_heatmap.png"} <= written
