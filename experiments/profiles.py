"""Profiles of the main job: `quick` (2 CPU cores, < 20 min), `full` (all 54 prompts, more data and controls)
and `smoke` (tiny random models in seconds; what the tests run).

>>> get_profile("quick").name
'quick'
>>> [p.key for p in get_profile("quick").prompts("probe")]
['best_ever_one', 'worst_ever_one']
>>> get_profile("full").ground_truth
('--seeds', '8')
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from interp.errors import UserError
from interp.prompts import Prompt, paper_prompts

QUICK_PROMPTS = (
    "best_ever_one",
    "greatest_world_single",
    "good_time_please",
    "worst_ever_one",
    "bad_world_single",
    "terrible_time_please",
)
CAUSAL_PROMPTS = ("best_ever_one", "greatest_world_single", "worst_ever_one", "bad_world_single")


@dataclass(frozen=True)
class Profile:
    """Sizes of every step. Prompt keys of None mean all 54 prompts; `causal_words_per_category` of None
    means every lexicon word in the ablation and steering grid; `ground_truth` holds the size flags of
    `experiments.ground_truth` (base, output folder and seed come from the run)."""

    name: str
    bases: tuple[tuple[str, str], ...] = (("smollm2-135m-instruct", "llama"), ("gemma3-270m", "gemma"))
    train_pairs: int = 400
    train_steps: int = 50
    train_lr: float = 3e-4
    batch_size: int = 8
    k_layers: int = 2
    save_every: int = 25
    prompt_keys: tuple[str, ...] | None = QUICK_PROMPTS
    probe_prompt_keys: tuple[str, ...] | None = ("best_ever_one", "worst_ever_one")
    causal_prompt_keys: tuple[str, ...] | None = CAUSAL_PROMPTS
    causal_words_per_category: int | None = 20
    probe_perm: int = 20
    probe_boot: int = 200
    layer_stride: int = 10
    random_layers: int = 0
    n_random: int = 20
    steer_n_random: int = 10
    steer_fractions: tuple[float, ...] = (-1.0, 0.0, 1.0)
    durability_checkpoints: int = 2
    ground_truth: tuple[str, ...] = ("--quick",)
    seed: int = 0

    def prompts(self, which: str = "behaviour") -> tuple[Prompt, ...]:
        """The prompts of one part of the study: `behaviour`, `probe` or `causal`."""
        keys = {"behaviour": self.prompt_keys, "probe": self.probe_prompt_keys, "causal": self.causal_prompt_keys}
        grid = paper_prompts()
        return grid if keys[which] is None else tuple(p for p in grid if p.key in keys[which])

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


PROFILES = {
    "quick": Profile("quick"),
    "full": Profile(
        "full",
        train_pairs=4000,
        train_steps=400,
        train_lr=1e-4,
        batch_size=16,
        k_layers=4,
        save_every=100,
        prompt_keys=None,
        probe_prompt_keys=QUICK_PROMPTS,
        causal_prompt_keys=QUICK_PROMPTS,
        causal_words_per_category=None,
        probe_perm=100,
        probe_boot=1000,
        layer_stride=2,
        random_layers=4,
        n_random=30,
        steer_n_random=20,
        steer_fractions=(-2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0),
        durability_checkpoints=4,
        ground_truth=("--seeds", "8"),
    ),
    "smoke": Profile(
        "smoke",
        train_pairs=64,
        train_steps=4,
        batch_size=4,
        k_layers=1,
        save_every=2,
        prompt_keys=QUICK_PROMPTS[:2] + QUICK_PROMPTS[3:5],
        probe_prompt_keys=("best_ever_one", "worst_ever_one"),
        causal_prompt_keys=("best_ever_one", "worst_ever_one"),
        causal_words_per_category=10,
        probe_perm=5,
        probe_boot=20,
        layer_stride=2,
        random_layers=1,
        n_random=3,
        steer_n_random=2,
        steer_fractions=(-1.0, 0.0, 1.0),
        durability_checkpoints=2,
        ground_truth=(
            *("--seeds", "2", "--pairs", "60", "--prompts", "2"),
            *("--plant-prompts", "4", "--plant-steps", "3", "--k", "1"),
            # the tiny tokenizer splits the default words into pieces the training pairs use; kindness is one token
            *("--planted-words", "kindness"),
        ),
    ),
}


def get_profile(name: str) -> Profile:
    """The named profile, or a clear error listing the known ones."""
    if name not in PROFILES:
        raise UserError(f"Unknown profile '{name}'; use one of: {', '.join(PROFILES)}.")
    return PROFILES[name]
