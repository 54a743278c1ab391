"""The base's unembedding contrast, its label-shuffled null and how an RM head's reading compares with it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from interp.models import load_lm
from interp.models.tiny import Arch
from probes.unembedding import reading_against_null, shuffled_contrasts, unembedding_direction

IDS = {"agency": [[5], [6, 7], [8]], "communion": [[9], [10], [11], [12]]}


@pytest.fixture
def unembed_lm(tiny_folder: Callable[[Arch], Path]):
    return load_lm(str(tiny_folder("llama")))


def test_the_contrast_is_the_difference_of_word_means(unembed_lm) -> None:
    w = unembed_lm.model.get_output_embeddings().weight.detach().float()
    agency = torch.stack([w[5], w[[6, 7]].mean(0), w[8]]).mean(0)
    _, contrast = unembedding_direction(unembed_lm, IDS)
    assert torch.allclose(contrast, agency - w[9:13].mean(0), atol=1e-6)


def test_shuffled_contrasts_keep_the_words_and_average_to_zero(unembed_lm) -> None:
    _, contrast = unembedding_direction(unembed_lm, IDS)
    null = shuffled_contrasts(unembed_lm, IDS, 3000, seed=1)
    assert torch.equal(null, shuffled_contrasts(unembed_lm, IDS, 3000, seed=1))  # reproducible
    # over all splits of the same words the contrast averages to 0; each row is a real split of them
    assert null.mean(0).norm() < 0.05 * null.norm(dim=1).mean()
    assert (null - contrast).norm(dim=1).max() > 0 and (null - contrast).norm(dim=1).min() < 1e-5  # the true split too


def test_a_head_along_the_contrast_reads_it_and_a_random_split_does_not(unembed_lm) -> None:
    _, contrast = unembedding_direction(unembed_lm, IDS)
    null = shuffled_contrasts(unembed_lm, IDS, 200, seed=2)
    noise = torch.randn(contrast.shape, generator=torch.Generator().manual_seed(3))
    noise = noise / noise.norm() * 0.2 * contrast.norm()
    reads = reading_against_null(contrast, null, [contrast + noise, contrast - noise])
    assert min(reads["per_head"]) > 0.9 and reads["outside"] and reads["null_n"] == 400
    head = torch.randn(contrast.shape, generator=torch.Generator().manual_seed(4))
    orthogonal = head - (head @ contrast) / (contrast @ contrast) * contrast  # reads none of the contrast
    blind = reading_against_null(contrast, null, [orthogonal])
    assert abs(blind["per_head"][0]) < 1e-5 and blind["null_low"] < 0 < blind["null_high"] and not blind["outside"]
