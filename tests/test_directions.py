"""Direction: normalisation, save/load, cosine with lineage checks, principal angles, random baselines."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from interp._util.errors import UserError
from interp.causal.directions import (
    Direction,
    check_dims,
    cosine,
    principal_angles,
    random_abs_cosine_quantile,
    random_directions,
)
from interp.hooks.site import Site


def one_sentence(err: pytest.ExceptionInfo[UserError]) -> str:
    msg = str(err.value)
    assert "\n" not in msg and msg.endswith("."), msg
    assert not re.search(r"[.;]\s+[A-Z]", msg), f"more than one sentence: {msg}"
    return msg


def make(vector: list[float] | torch.Tensor, **kw: object) -> Direction:
    fields: dict[str, object] = {
        "site": Site(3),
        "method": "logistic",
        "model_fingerprint": "fp-base",
        "data_hash": "h",
        "lineage_id": "smollm2",
    }
    fields.update(kw)
    return Direction(torch.as_tensor(vector, dtype=torch.float32), **fields)  # type: ignore[arg-type]


def test_vector_is_normalised_float32_and_frozen() -> None:
    d = make([3.0, 0.0, 4.0])
    assert d.vector.dtype == torch.float32
    assert torch.allclose(d.vector, torch.tensor([0.6, 0.0, 0.8]))
    assert d.dim == 3
    with pytest.raises(AttributeError):
        d.site = Site(5)  # type: ignore[misc]


@pytest.mark.parametrize(
    ("vector", "kw", "fragment"),
    [
        ([0.0, 0.0], {}, "zero vector"),
        ([1.0, float("nan")], {}, "finite"),
        ([1.0, 0.0], {"site": 3}, "Site(layer)"),
    ],
)
def test_bad_direction_is_a_user_error(vector: list[float], kw: dict[str, object], fragment: str) -> None:
    with pytest.raises(UserError) as err:
        make(vector, **kw)
    assert fragment in one_sentence(err)


def test_save_load_round_trip_is_exact(tmp_path: Path) -> None:
    v = torch.randn(576, generator=torch.Generator().manual_seed(0))
    d = make(v, metrics={"auc": 0.8123456789012345, "p_perm": 1 / 101})
    json_path = d.save(tmp_path / "sub" / "logistic_L3")
    assert json_path.name == "logistic_L3.json" and (tmp_path / "sub" / "logistic_L3.safetensors").is_file()
    for path in (tmp_path / "sub" / "logistic_L3", json_path, json_path.with_suffix(".safetensors")):
        back = Direction.load(path)
        assert torch.equal(back.vector, d.vector)
        assert back.metrics == d.metrics
        for f in ("site", "method", "model_fingerprint", "data_hash", "lineage_id"):
            assert getattr(back, f) == getattr(d, f)
    at_token = make(v, site=Site(5, "resid_pre", -2))
    assert Direction.load(at_token.save(tmp_path / "token")).site == Site(5, "resid_pre", -2)


def test_a_file_written_before_directions_carried_a_site_loads(tmp_path: Path) -> None:
    save_file({"vector": torch.tensor([0.6, 0.8])}, str(tmp_path / "old.safetensors"))
    old = {"format_version": 1, "dim": 2, "layer": 7, "point": "resid_pre", "position": "readout", "method": "lda",
           "model_fingerprint": "fp", "data_hash": "h", "lineage_id": "smollm2", "metrics": {"auc": 0.9}}  # fmt: skip
    (tmp_path / "old.json").write_text(json.dumps(old))
    back = Direction.load(tmp_path / "old")
    assert back.site == Site(7, "resid_pre", "readout") and (back.method, back.metrics) == ("lda", {"auc": 0.9})
    assert json.loads(back.save(tmp_path / "again").read_text()) == old


def test_load_missing_or_corrupt_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(UserError) as err:
        Direction.load(tmp_path / "nothing")
    assert "No saved Direction" in one_sentence(err)
    make([1.0, 2.0]).save(tmp_path / "d")
    (tmp_path / "d.json").write_text((tmp_path / "d.json").read_text().replace('"dim": 2', '"dim": 3'))
    with pytest.raises(UserError) as err:
        Direction.load(tmp_path / "d")
    one_sentence(err)


def test_cosine_values_and_lineage_checks() -> None:
    a, b = make([1.0, 0.0]), make([1.0, 1.0], model_fingerprint="fp-rm")
    assert cosine(a, b) == pytest.approx(1 / math.sqrt(2))
    assert cosine(a, make([-2.0, 0.0])) == pytest.approx(-1.0)
    with pytest.raises(UserError) as err:
        cosine(a, make([1.0, 0.0], lineage_id="gemma3"))
    assert "different lineages" in one_sentence(err)
    with pytest.raises(UserError) as err:
        cosine(make([1.0, 0.0], lineage_id=""), make([1.0, 0.0], lineage_id="", model_fingerprint="other"))
    assert "lineage_id" in one_sentence(err)
    assert cosine(make([1.0, 0.0], lineage_id=""), make([0.0, 1.0], lineage_id="")) == 0.0


def test_dimension_mismatch_names_both_dims() -> None:
    with pytest.raises(UserError) as err:
        cosine(make([1.0, 0.0]), make([1.0, 0.0, 0.0]))
    msg = one_sentence(err)
    assert "2" in msg and "3" in msg
    with pytest.raises(UserError) as err:
        check_dims(576, 640, "residual streams")
    assert "576 vs 640" in one_sentence(err)


def test_principal_angles_self_zero_orthogonal_right_angle() -> None:
    basis = random_directions(64, 4, seed=1)
    mix = torch.randn(4, 4, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    np.testing.assert_allclose(principal_angles(basis, mix @ basis.double()), 0.0, atol=1e-6)
    e = np.eye(6)
    np.testing.assert_allclose(principal_angles(e[:2], e[2:4]), [math.pi / 2] * 2)
    angles = principal_angles(e[:2], np.stack([e[0], (e[1] + e[2]) / math.sqrt(2)]))
    np.testing.assert_allclose(angles, [0.0, math.pi / 4], atol=1e-12)
    dirs = [make(v) for v in e[:2].tolist()]
    assert principal_angles(dirs, dirs).max() < 1e-6


def test_principal_angles_refuse_k_beyond_the_data() -> None:
    with pytest.raises(UserError) as err:
        principal_angles(np.eye(3), np.vstack([np.eye(3), np.ones(3)]))
    assert "k=4" in one_sentence(err)
    with pytest.raises(UserError) as err:
        principal_angles(np.array([[1.0, 0, 0], [2.0, 0, 0]]), np.eye(3)[:2])
    assert "spans only 1" in one_sentence(err)
    with pytest.raises(UserError) as err:
        principal_angles(np.eye(4)[:2], np.eye(4)[:3])
    one_sentence(err)


def test_random_directions_unit_seeded_and_near_orthogonal() -> None:
    r = random_directions(576, 200, seed=7)
    assert r.shape == (200, 576) and r.dtype == torch.float32
    torch.testing.assert_close(r.norm(dim=1), torch.ones(200))
    assert torch.equal(r, random_directions(576, 200, seed=7))
    assert not torch.equal(r, random_directions(576, 200, seed=8))
    cos = (r[:100] * r[100:]).sum(1).abs()
    assert float(cos.max()) < 0.25


def test_random_abs_cosine_quantile_matches_simulation() -> None:
    r = random_directions(576, 20_000, seed=3)
    simulated = float(np.quantile(r[:, 0].abs().numpy(), 0.95))
    assert random_abs_cosine_quantile(576, 0.95) == pytest.approx(simulated, rel=0.03)
    with pytest.raises(UserError):
        random_abs_cosine_quantile(1, 0.95)
