"""RMs spread by accelerate's device_map: scores, the prompt-cache sweep, captures and interventions equal
the plain model's (CPU + disk offload here; CPU + GPU when a GPU is present)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from interp._util.errors import UserError
from interp.causal import steer
from interp.distributed import default_dtype, dispatch, layer_map, load_placed, place
from interp.hooks import Site, capture
from interp.models import ModelHandle, rm_from_base, save
from interp.models.tiny import Arch
from interp.render import encode_pairs
from interp.score import reward_scores
from interp.sweep import CachedScorer

PROMPT = "What is the best thing ever?"
ANSWERS = ["Love", "Freedom", "success and power", "trust"]
PAIRS = [(PROMPT, a) for a in ANSWERS]
SITES = [Site(1), Site(3, "resid_pre"), Site(2, position="all")]


def outputs(rm: ModelHandle) -> dict[str, torch.Tensor]:
    """Everything the toolkit computes with an RM, on the CPU."""
    texts = [f"{p} {a}" for p, a in PAIRS]
    out = {"scores": reward_scores(rm, PAIRS, batch_size=3), "cached": CachedScorer(rm, 3).score(PROMPT, ANSWERS)}
    out |= {site.name: acts.cpu() for site, acts in capture(rm, texts, SITES, batch_size=3).items()}
    with steer(rm, torch.linspace(-1, 1, rm.d_model), 3.0, [Site(1), Site(2)]):
        out["steered"] = reward_scores(rm, PAIRS)
    enc = encode_pairs(rm.tokenizer, PAIRS).to(rm.model.device)
    with torch.no_grad():
        out["model_call"] = rm.model(input_ids=enc.input_ids, attention_mask=enc.attention_mask).logits.cpu()
    return out


@pytest.fixture(scope="module")
def folder(tiny_folder: Callable[[Arch], Path]) -> str:
    return str(tiny_folder("llama"))


def test_cpu_and_disk_offload_give_the_plain_results(folder: str, tmp_path: Path) -> None:
    plain = rm_from_base(folder, seed=2)
    spread = rm_from_base(folder, seed=2)
    device_map = layer_map(spread, ["cpu", "disk"])
    assert device_map["model.embed_tokens"] == "cpu" and device_map["model.layers.3"] == "disk"
    assert device_map["score"] == "disk"
    placed = dispatch(spread, device_map, tmp_path)
    assert any(p.is_meta for p in placed.layers[3].parameters())  # really offloaded
    head = placed.head.weight
    assert head.device == placed.model.device and head.dtype == torch.float32 and not head.is_meta
    assert placed.fingerprint == plain.fingerprint
    want, got = outputs(plain), outputs(placed)
    assert got.keys() == want.keys()
    for name in want:
        assert torch.equal(got[name], want[name]), name


def test_place_is_harmless_on_one_device_and_load_placed_matches(folder: str, tmp_path: Path) -> None:
    plain = rm_from_base(folder, seed=2)
    want = outputs(plain)
    got = outputs(place(plain))
    assert all(torch.equal(got[k], want[k]) for k in want)
    saved = save(plain, tmp_path / "rm")
    loaded = load_placed(str(saved), device_map={"": "cpu"}, dtype="float32")
    assert loaded.model.dtype == torch.float32 and loaded.fingerprint == plain.fingerprint
    assert default_dtype() == ("bfloat16" if torch.cuda.is_available() else "float32")
    assert torch.equal(reward_scores(loaded, PAIRS, batch_size=3), want["scores"])


def test_placement_errors(folder: str, tmp_path: Path) -> None:
    rm = rm_from_base(folder, seed=2)
    with pytest.raises(UserError, match="give an offload folder"):
        dispatch(rm, layer_map(rm, ["cpu", "disk"]))
    with pytest.raises(UserError, match="embeddings are offloaded"):
        dispatch(rm, layer_map(rm, ["disk", "cpu"]), tmp_path)
    with pytest.raises(UserError, match="at least one device"):
        layer_map(rm, [])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
def test_cpu_and_gpu_layers_give_the_plain_results(folder: str) -> None:
    plain = rm_from_base(folder, seed=2)
    spread = rm_from_base(folder, seed=2)
    placed = dispatch(spread, layer_map(spread, ["cpu", 0]), main_device="cpu")  # layers 2-3, norm, head on GPU
    assert next(placed.layers[3].parameters()).device.type == "cuda"
    assert placed.head.weight.device.type == "cpu"  # next to the body's output, returned to the input device
    want, got = outputs(plain), outputs(placed)
    for name in want:
        torch.testing.assert_close(got[name], want[name], rtol=1e-4, atol=1e-5, msg=name)
