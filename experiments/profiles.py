"""Profiles of the main job: `quick` (2 CPU cores, < 25 min with the ground truth), `full` (all 54 prompts, more
data, every null at full size) and `smoke` (tiny random models in seconds; what the tests run).

Causal claims use disjoint data: probes, directions and the best layer are fitted on the fitting words
(`eval_words_per_category` of each category are held out) × the probe prompts; every effect is measured on the
held-out words × the evaluation prompts, which share no prompt with the probe prompts.

Time decides the quick profile's sizes (2 cores, one thread; the ground truth takes half the budget): 3 seed RMs
on 320 pairs, 6 held-out words per category × 10 prompts, 4 grid layers and the best, and per layer 6
label-shuffled, 6 covariance-matched and 3 isotropic null directions and the placebo (20 label-shuffled and 20
covariance-matched at the best layer, where the headline claim is); the full profile draws 30
of each kind at every second layer, and also runs the durability panel (a checkpointed training run) that quick
leaves out.

>>> get_profile("quick").name
'quick'
>>> [p.key for p in get_profile("quick").prompts("probe")]
['best_ever_one', 'worst_ever_one']
>>> len(get_profile("quick").prompts("eval")), dict(get_profile("full").null_draws)["shuffled_label"]
(10, 30)
>>> get_profile("full").ground_truth
('--seeds', '8')
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from interp._util.errors import UserError
from interp.render.prompts import Prompt, paper_prompts

QUICK_PROMPTS = (
    "best_ever_one",
    "greatest_world_single",
    "good_time_please",
    "worst_ever_one",
    "bad_world_single",
    "terrible_time_please",
)
PROBE_PROMPTS = ("best_ever_one", "worst_ever_one")
EVAL_PROMPTS = (  # five per framing, every adjective, superlative and style; none is a probe prompt
    "best_world_single",
    "greatest_ever_please",
    "good_time_one",
    "greatest_time_single",
    "best_time_please",
    "worst_world_single",
    "bad_ever_please",
    "terrible_time_one",
    "bad_time_single",
    "worst_time_please",
)


@dataclass(frozen=True)
class Profile:
    """Sizes of every step. Prompt keys of None mean every paper prompt (for `eval`: every one that is not a probe
    prompt); `ablation_layers` of None means every second layer (plus the last and the best); `null_draws` and
    `steer_null_draws` count the draws of each null kind beside each ablation and each steering dose (the
    placebo is one direction); `all_positions_grid` edits every position at every grid layer (else at the best
    layer only); `durability` trains a checkpointed RM (`train_steps`, `save_every`) for the durability panel;
    `ground_truth` holds the size flags of `experiments.ground_truth` (base, output folder and seed come from the
    run)."""

    name: str
    bases: tuple[tuple[str, str], ...] = (("smollm2-135m-instruct", "llama"), ("gemma3-270m", "gemma"))
    train_pairs: int = 320
    train_epochs: int = 1
    train_lr: float = 3e-4
    batch_size: int = 8
    k_layers: int = 2
    n_seeds: int = 3
    prompt_keys: tuple[str, ...] | None = QUICK_PROMPTS
    probe_prompt_keys: tuple[str, ...] | None = PROBE_PROMPTS
    eval_prompt_keys: tuple[str, ...] | None = EVAL_PROMPTS
    eval_words_per_category: int = 6
    probe_perm: int = 20
    probe_boot: int = 200
    ablation_layers: int | None = 4
    null_draws: tuple[tuple[str, int], ...] = (("shuffled_label", 6), ("covariance_matched", 6), ("isotropic", 3))
    best_layer_null_draws: tuple[tuple[str, int], ...] | None = (
        ("shuffled_label", 20),
        ("covariance_matched", 20),
        ("isotropic", 3),
    )
    all_positions_grid: bool = False
    steer_doses: tuple[float, ...] = (0.25, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0)
    steer_null_draws: tuple[tuple[str, int], ...] = (("shuffled_label", 1), ("covariance_matched", 1))
    n_boot: int = 2000
    durability: bool = False
    gap_patching: bool = False
    train_steps: int = 50
    save_every: int = 25
    durability_checkpoints: int = 2
    ground_truth: tuple[str, ...] = ("--quick",)
    seed: int = 0

    def prompts(self, which: str = "behaviour") -> tuple[Prompt, ...]:
        """The prompts of one part of the study: `behaviour`, `probe` (fitting) or `eval` (held-out)."""
        grid = paper_prompts()
        if which == "eval" and self.eval_prompt_keys is None:
            return tuple(p for p in grid if p not in self.prompts("probe"))
        keys = {"behaviour": self.prompt_keys, "probe": self.probe_prompt_keys, "eval": self.eval_prompt_keys}
        if which not in keys:
            raise UserError(f"Unknown prompt set '{which}'; use behaviour, probe or eval.")
        chosen = keys[which]
        return grid if chosen is None else tuple(p for p in grid if p.key in chosen)

    def draws_at(self, layer: int, best: int) -> dict[str, int]:
        """Null draws of each kind beside the ablation at `layer` (the placebo is one direction).

        >>> quick = get_profile("quick")
        >>> quick.draws_at(27, best=27)["covariance_matched"], quick.draws_at(0, best=27)["covariance_matched"]
        (20, 6)
        """
        chosen = self.best_layer_null_draws if layer == best and self.best_layer_null_draws else self.null_draws
        return {**dict(chosen), "placebo": 1}

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


PROFILES = {
    "quick": Profile("quick"),
    "full": Profile(
        "full",
        train_pairs=4000,
        train_lr=1e-4,
        batch_size=16,
        k_layers=4,
        n_seeds=5,
        prompt_keys=None,
        probe_prompt_keys=QUICK_PROMPTS,
        eval_prompt_keys=None,
        eval_words_per_category=27,
        probe_perm=100,
        probe_boot=1000,
        ablation_layers=None,
        null_draws=(("shuffled_label", 30), ("covariance_matched", 30), ("isotropic", 30)),
        best_layer_null_draws=None,
        all_positions_grid=True,
        steer_doses=(0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 4.0),
        steer_null_draws=(("shuffled_label", 10), ("covariance_matched", 10), ("isotropic", 10)),
        durability=True,
        gap_patching=True,
        train_steps=400,
        save_every=100,
        durability_checkpoints=4,
        ground_truth=("--seeds", "8"),
    ),
    "smoke": Profile(
        "smoke",
        train_pairs=64,
        batch_size=4,
        k_layers=1,
        n_seeds=2,
        prompt_keys=QUICK_PROMPTS[:2] + QUICK_PROMPTS[3:5],
        eval_prompt_keys=("greatest_world_single", "bad_world_single"),
        eval_words_per_category=4,
        probe_perm=5,
        probe_boot=20,
        ablation_layers=3,
        null_draws=(("shuffled_label", 3), ("covariance_matched", 3), ("isotropic", 2)),
        best_layer_null_draws=None,
        steer_doses=(0.5, 1.0),
        steer_null_draws=(("covariance_matched", 1),),
        n_boot=200,
        durability=True,
        gap_patching=True,
        train_steps=4,
        save_every=2,
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
