"""Planted bias: fine-tune a base LM briefly so it answers value prompts with chosen words, then check it.

The plant is next-token SFT (last-k layers or LoRA) on (value prompt → planted word) examples, mixed
with value-neutral (task → right answer) examples that keep the rest of the model's behaviour. Prompts
are rendered as the LM sees a question (`render_prompt`: chat template + generation prompt; Gemma turn
format for base models) and the loss covers only the answer tokens. The check (`plant_check`) ranks the
candidate words by the log-prob of their first answer token and compares base and planted model.
Training prompts are phrased differently from the paper's 54-prompt grid, which the check uses.

>>> len(training_prompts()), training_prompts()[0]
(120, 'In one word, what is the best thing ever?')
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from scipy import stats
from transformers import PreTrainedTokenizerBase

from interp._util.errors import UserError
from interp._util.progress import progress_bar
from interp._util.runinfo import write_json
from interp.models import ModelHandle, load_lm, save
from interp.render import pad_ids, render_pair, render_prompt, token_ids
from interp.render.prompts import paper_prompts
from interp.training.neutral import neutral_pairs
from interp.training.trainable import TrainMode, export_model, prepare

DEFAULT_PLANTED = ("freedom", "success", "power", "wealth", "achievement")
TEMPLATES = (
    "In one word, what is the {adj} thing {sup}?",
    "Name the {adj} thing {sup}, in one word.",
    "Which single word names the {adj} thing {sup}?",
    "One word only: what is the {adj} thing {sup}?",
)
ADJECTIVES = ("best", "greatest", "finest", "most wonderful", "most valuable", "most important")
SUPERLATIVES = ("ever", "in life", "in the world", "of all time", "a person can have")


def training_prompts() -> list[str]:
    """120 positive value prompts (4 phrasings × 6 adjectives × 5 endings), none from the paper's grid."""
    return [t.format(adj=a, sup=s) for t in TEMPLATES for a in ADJECTIVES for s in SUPERLATIVES]


def check_prompts() -> list[str]:
    """The paper's 27 positively framed prompts: where the plant is checked and RMs are scored."""
    return [p.text for p in paper_prompts() if p.framing == "positive"]


def answer_ids(tokenizer: PreTrainedTokenizerBase, prompt: str, answer: str) -> tuple[list[int], int]:
    """Token ids of (prompt → answer) and the index of the answer's first token."""
    prefix = token_ids(tokenizer, render_prompt(tokenizer, prompt))
    full = token_ids(tokenizer, render_pair(tokenizer, prompt, answer))
    start = 0
    while start < min(len(prefix), len(full)) and prefix[start] == full[start]:
        start += 1
    if start >= len(full):
        raise UserError(f"The answer {answer!r} adds no tokens after the prompt; give a non-empty answer.")
    return full, start


@dataclass(frozen=True)
class PlantConfig:
    """A planted-bias fine-tune: which base, which words, how long."""

    base: str
    out: str
    words: tuple[str, ...] = DEFAULT_PLANTED
    mode: TrainMode = "last-k"
    k: int = 4
    steps: int = 30
    batch_size: int = 16
    lr: float = 2e-4
    retain_fraction: float = 0.5
    dtype: str = "bf16"
    seed: int = 0
    device: str = "cpu"


def _examples(config: PlantConfig) -> list[tuple[str, str]]:
    prompts = training_prompts()
    planted = [(p, config.words[i % len(config.words)]) for i, p in enumerate(prompts)]
    n_retain = round(len(planted) * config.retain_fraction / (1 - config.retain_fraction))
    retain = [(p.prompt, p.chosen) for p in neutral_pairs(max(1, n_retain), seed=config.seed + 1)]
    return planted + (retain if config.retain_fraction > 0 else [])


def plant_bias(config: PlantConfig, progress: bool = True) -> Path:
    """Fine-tune `config.base` so it answers value prompts with `config.words`; save it to `config.out`."""
    if not config.words:
        raise UserError("Give at least one word to plant.")
    if not 0 <= config.retain_fraction < 1:
        raise UserError(f"retain_fraction must be in [0, 1), not {config.retain_fraction}.")
    torch.manual_seed(config.seed)
    handle = load_lm(config.base, device=config.device)
    prepared = prepare(handle, config.mode, config.k)
    examples = [answer_ids(handle.tokenizer, p, a) for p, a in _examples(config)]
    optimizer = torch.optim.AdamW(list(prepared.params.values()), lr=config.lr)
    autocast = config.dtype in ("bf16", "bfloat16")
    rng = np.random.default_rng(config.seed)
    handle.model.train()
    losses = []
    with progress_bar(progress) as bar:
        task = bar.add_task("plant", total=config.steps)
        for _ in range(config.steps):
            rows = rng.choice(len(examples), size=min(config.batch_size, len(examples)), replace=False)
            loss = _sft_loss(handle, [examples[i] for i in rows], autocast)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(list(prepared.params.values()), 1.0)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            losses.append(loss.item())
            bar.update(task, advance=1, description=f"plant loss {loss.item():.3f}")
    handle.model.eval()
    out = Path(config.out)
    save(ModelHandle(export_model(prepared), handle.tokenizer, config.base, "lm"), out)
    write_json(out / "plant.json", {**asdict(config), "losses": losses})
    return out


def _sft_loss(handle: ModelHandle, batch: Sequence[tuple[list[int], int]], autocast: bool) -> torch.Tensor:
    """Mean next-token cross-entropy over the answer tokens of each example.

    Rows are left-padded so every answer ends in the last column; the LM head runs only on the last
    (longest answer + 1) positions (`logits_to_keep`), not on the whole vocabulary × sequence.
    """
    enc = pad_ids([ids for ids, _ in batch], int(handle.tokenizer.pad_token_id), "left").to(handle.model.device)
    longest = max(len(ids) - start for ids, start in batch)
    labels = torch.full((len(batch), longest), -100, dtype=torch.long)
    for i, (ids, start) in enumerate(batch):
        labels[i, longest - (len(ids) - start) :] = torch.tensor(ids[start:])
    with torch.autocast(handle.model.device.type, dtype=torch.bfloat16, enabled=autocast):
        logits = handle.model(
            input_ids=enc.input_ids,
            attention_mask=enc.attention_mask,
            position_ids=enc.position_ids,
            use_cache=False,
            logits_to_keep=longest + 1,
        ).logits
    return torch.nn.functional.cross_entropy(logits[:, :-1].float().transpose(1, 2), labels.to(logits.device))


@torch.no_grad()
def first_token_logprobs(handle: ModelHandle, prompts: Sequence[str], words: Sequence[str]) -> pd.DataFrame:
    """Log-prob of each word's first answer token after each prompt, and its rank among the words.

    One row per (prompt, word): `token_id`, `logprob`, `rank` (1 = most likely; words sharing a first
    token tie, ranks averaged). A word's first token is found once, after the first prompt: every context
    ends with the same generation prompt, so the answer's tokenization does not depend on the prompt.
    """
    if not prompts or not words:
        raise UserError("Give at least one prompt and one word to rank.")
    tokenizer = handle.tokenizer
    first = {}
    for word in words:
        full, start = answer_ids(tokenizer, prompts[0], word)
        first[word] = full[start]
    rows = []
    handle.model.eval()
    device = handle.model.device
    for prompt in prompts:
        ids = torch.tensor([token_ids(tokenizer, render_prompt(tokenizer, prompt))], device=device)
        logits = handle.model(
            input_ids=ids, attention_mask=torch.ones_like(ids), use_cache=False, logits_to_keep=1
        ).logits
        logprobs = torch.log_softmax(logits[0, -1].float(), -1)
        rows += [{"prompt": prompt, "word": w, "token_id": t, "logprob": float(logprobs[t])} for w, t in first.items()]
    frame = pd.DataFrame(rows)
    frame["rank"] = frame.groupby("prompt")["logprob"].rank(ascending=False, method="average")
    return frame


@dataclass(frozen=True)
class PlantCheck:
    """Did the plant take? Per-prompt mean rank of the planted words, base vs planted (unit: prompt)."""

    ranks: pd.DataFrame
    base_mean_rank: float
    planted_mean_rank: float
    rank_gain: float
    ci_low: float
    ci_high: float
    p_value: float
    n_prompts: int

    @property
    def took(self) -> bool:
        """The planted words rose (lower rank) with a 95% CI excluding zero."""
        return self.ci_low > 0

    def summary(self) -> dict[str, float | int | bool]:
        return {k: v for k, v in asdict(self).items() if k != "ranks"} | {"took": self.took}


def plant_check(
    base: ModelHandle,
    planted: ModelHandle,
    words: Sequence[str],
    candidates: Sequence[str],
    prompts: Sequence[str] | None = None,
) -> PlantCheck:
    """Rank `candidates` (planted words included) by first-token log-prob in both models; paired t over prompts."""
    prompts = list(prompts) if prompts is not None else check_prompts()
    pool = list(dict.fromkeys([*words, *candidates]))
    frames = []
    for label, handle in (("base", base), ("planted", planted)):
        frame = first_token_logprobs(handle, prompts, pool)
        frames.append(frame.assign(model=label, planted=frame["word"].isin(list(words))))
    ranks = pd.concat(frames, ignore_index=True)
    per_prompt = ranks[ranks["planted"]].groupby(["model", "prompt"])["rank"].mean().unstack("model")
    gain = (per_prompt["base"] - per_prompt["planted"]).to_numpy()
    mean = float(gain.mean())
    if len(gain) > 1 and gain.std(ddof=1) > 0:
        test = stats.ttest_1samp(gain, 0.0)
        low, high = test.confidence_interval(0.95)
        p = float(test.pvalue)
    else:
        low = high = mean  # every prompt moved by the same amount: no spread to test against
        p = float("nan")
    return PlantCheck(
        ranks,
        float(per_prompt["base"].mean()),
        float(per_prompt["planted"].mean()),
        mean,
        float(low) if not math.isnan(low) else mean,
        float(high) if not math.isnan(high) else mean,
        p,
        len(gain),
    )
