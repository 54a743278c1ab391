"""Activation store: resume after a kill, no collisions between models, reading one site, bad input."""

from __future__ import annotations

import json

import pytest
import torch
from typer.testing import CliRunner

from interp._util.errors import UserError
from interp.hooks import Site, capture
from interp.models import load_lm, rm_from_base
from interp.store import capture_to_store, is_complete, load_rows, load_site
from interp.store.shards import ShardFolder

TEXTS = [f"Text number {i}: {'love and friendship ' * (i % 4)}freedom" for i in range(18)]
SITES = [Site(0), Site(2, "resid_pre"), Site(3, position="all")]


class Killed(Exception):
    pass


@pytest.fixture(scope="module")
def rm(tiny_folder):
    return rm_from_base(str(tiny_folder("llama")), seed=0)


def _kill_after(k: int, seen: list[int]):
    def after(shard: int) -> None:
        seen.append(shard)
        if shard == k:
            raise Killed

    return after


def test_capture_killed_halfway_resumes_without_duplicates_or_losses(rm, tmp_path):
    seen: list[int] = []
    with pytest.raises(Killed):
        capture_to_store(
            rm, TEXTS, SITES, tmp_path, shard_size=4, batch_size=3, progress=False, after_shard=_kill_after(2, seen)
        )
    folder = capture_to_store(
        rm, TEXTS, SITES, tmp_path, shard_size=4, batch_size=3, progress=False, after_shard=_kill_after(-1, seen)
    )
    assert seen == [0, 1, 2, 3, 4] and is_complete(folder)  # shards 0-2 were not redone
    rows = load_rows(folder)
    assert rows["row"].tolist() == list(range(len(TEXTS))) and rows["text"].tolist() == TEXTS
    fresh = capture(rm, TEXTS, SITES, batch_size=5)
    for site in SITES:
        stored = load_site(folder, site)
        assert stored.shape == fresh[site].shape
        assert torch.allclose(stored, fresh[site], atol=1e-5, rtol=0), site


def test_base_lm_and_rm_captures_sit_side_by_side(rm, tiny_folder, tmp_path):
    lm = load_lm(str(tiny_folder("llama")))
    rm_folder = capture_to_store(rm, TEXTS, SITES, tmp_path, shard_size=8, progress=False)
    lm_folder = capture_to_store(lm, TEXTS, SITES, tmp_path, shard_size=8, progress=False)
    assert rm_folder != lm_folder and rm_folder.parts[-5:-1] != lm_folder.parts[-5:-1]
    assert rm_folder.relative_to(tmp_path).parts[0] == rm.fingerprint
    assert lm_folder.relative_to(tmp_path).parts[0] == lm.fingerprint
    # the RM was built from this base, so its body's residuals equal the LM's, stored twice under two keys
    assert torch.equal(load_site(tmp_path, Site(0), handle=rm), load_site(tmp_path, Site(0), handle=lm))
    with pytest.raises(UserError, match="Several captures"):
        load_site(tmp_path, Site(0))


def test_store_of_another_model_is_refused(rm, tiny_folder, tmp_path):
    other = rm_from_base(str(tiny_folder("llama")), seed=1)  # another head, another fingerprint
    folder = capture_to_store(rm, TEXTS[:4], [Site(0)], tmp_path, progress=False)
    with pytest.raises(UserError, match="holds activations of another model"):
        capture_to_store(other, TEXTS[:4], [Site(0)], folder, progress=False)
    with pytest.raises(UserError, match="holds activations of another model"):
        load_site(folder, Site(0), handle=other)


def test_missing_site_and_empty_store_are_user_errors(rm, tmp_path):
    with pytest.raises(UserError, match="No captured activations"):
        load_site(tmp_path, Site(0))
    folder = capture_to_store(rm, TEXTS[:4], [Site(0), Site(1)], tmp_path, progress=False)
    with pytest.raises(UserError, match=r"Site L2.resid_post.readout is not in the store.*L0.resid_post.readout"):
        load_site(folder, Site(2))
    with pytest.raises(UserError, match="one id per text"):
        capture_to_store(rm, TEXTS[:4], [Site(0)], tmp_path, ids=[1, 2], progress=False)


def test_store_keeps_ids_and_a_chosen_dtype(rm, tmp_path):
    ids = [f"item-{i}" for i in range(6)]
    folder = capture_to_store(
        rm, TEXTS[:6], [Site(1)], tmp_path, ids=ids, dtype="bfloat16", shard_size=4, progress=False
    )
    assert folder.parts[-2] == "bfloat16"
    assert load_rows(folder)["id"].tolist() == ids
    stored = load_site(folder, Site(1))
    assert stored.dtype == torch.bfloat16
    assert torch.equal(stored, capture(rm, TEXTS[:6], [Site(1)])[Site(1)].to(torch.bfloat16))
    key = json.loads((folder / "meta.json").read_text())
    assert key["fingerprint"] == rm.fingerprint and key["sites"] == ["L1.resid_post.readout"]
    assert ShardFolder(folder, key).shard_ids() == [0, 1]


def test_cli_capture_writes_the_store(tiny_folder, tmp_path):
    from interp.cli import app

    texts = tmp_path / "pairs.csv"
    texts.write_text("prompt,answer\nWhat is best?,Love\nWhat is best?,Freedom\nName one thing,trust\n")
    result = CliRunner().invoke(
        app,
        [
            "capture",
            "--model",
            str(tiny_folder("qwen2")),
            "--as-rm",
            "--texts",
            str(texts),
            "--layers",
            "0,2",
            "--out",
            str(tmp_path / "store"),
        ],
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output.strip().splitlines()[-1])
    assert summary["rows"] == 3 and summary["sites"] == ["L0.resid_post.readout", "L2.resid_post.readout"]
    assert load_site(summary["folder"], Site(2)).shape == (3, 64)
