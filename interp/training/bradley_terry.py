"""Bradley–Terry training of a reward model from a base LM, with checkpoints and exact resume.

loss = −log σ(r(prompt, chosen) − r(prompt, rejected)); r is the fp32 score head on the final-norm
hidden state at the readout token (as `interp.score` computes it, position ids always passed). The body
runs under bf16 autocast (`dtype="bf16"`) or in fp32 (`"auto"`, the default: bf16 on a GPU, fp32 on the
CPU, where bf16 autocast was measured several times slower); weights stay fp32. AdamW, cosine schedule with
linear warm-up, gradient clipping. The batch of each step is a function of (seed, step), and every
checkpoint stores the trained weights, optimizer, scheduler and RNG states, so a resumed run ends with
the same weights as an uninterrupted one.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from transformers import get_cosine_schedule_with_warmup

from interp._util.errors import UserError
from interp._util.files import atomic_write
from interp._util.progress import progress_bar
from interp._util.runinfo import peak_rss_mb, versions
from interp.models import ModelHandle, rm_from_base
from interp.render import Encoded
from interp.score import body_readout, head_on
from interp.training.batches import (
    TokenPairs,
    encode_preferences,
    eval_batches,
    rows_for_step,
    split_by_prompt,
    steps_per_epoch,
)
from interp.training.checkpoints import (
    STATE,
    body_fingerprint,
    check_base,
    list_checkpoints,
    load_state,
    read_meta,
    save_checkpoint,
)
from interp.training.config import FREE_ON_RESUME, TrainConfig
from interp.training.features import warm_start
from interp.training.head_fit import accuracy_by_family, pair_correct
from interp.training.prefdata import PreferencePair, data_hash
from interp.training.runlog import MetricsLog
from interp.training.trainable import (
    Prepared,
    export_model,
    load_trainable,
    param_groups,
    prepare,
    trainable_state,
)


@dataclass
class TrainResult:
    """What a run produced: its folder, final checkpoint and metrics (`stopped` when halted early)."""

    out: Path
    checkpoint: Path | None
    metrics: dict[str, Any]
    stopped: bool = False
    checkpoints: list[Path] = field(default_factory=list)


def pair_scores(handle: ModelHandle, enc: Encoded, autocast: torch.dtype | None) -> torch.Tensor:
    """Reward of every row: body (optionally under autocast), readout row, fp32 head outside autocast."""
    device_type = handle.model.device.type
    with torch.autocast(device_type, dtype=autocast or torch.float32, enabled=autocast is not None):
        states = body_readout(handle, enc)
    return head_on(handle, states)


@torch.no_grad()
def evaluate_pairs(
    handle: ModelHandle, tokens: TokenPairs, batch_size: int, autocast: torch.dtype | None
) -> tuple[float, dict[str, float], float]:
    """(pairwise accuracy, accuracy per family, mean BT loss); ties count one half."""
    was_training = handle.model.training
    handle.model.eval()
    correct = torch.zeros(len(tokens))
    losses = torch.zeros(len(tokens))
    for rows, enc in eval_batches(tokens, batch_size):
        scores = pair_scores(handle, enc.to(handle.model.device), autocast).cpu()
        margin = scores[: len(rows)] - scores[len(rows) :]
        correct[rows] = torch.from_numpy(pair_correct(margin.numpy())).float()
        losses[rows] = -torch.nn.functional.logsigmoid(margin)
    handle.model.train(was_training)
    by_family = accuracy_by_family(correct.tolist(), [pair.family for pair in tokens.pairs])
    return float(correct.mean()), by_family, float(losses.mean())


def _resume_point(config: TrainConfig, meta: dict[str, Any], checkpoints: list[Path]) -> Path | None:
    """The checkpoint to resume from (None: start fresh); refuses one from another base, data or settings."""
    if not checkpoints:
        return None
    last = checkpoints[-1]
    saved = read_meta(last)
    check_base(saved, meta["base_fingerprint"], config.base, last)
    expected = {**config.resume_key(), "data_hash": meta["data_hash"]}
    found = {
        **{k: v for k, v in saved.get("config", {}).items() if k not in FREE_ON_RESUME},
        "data_hash": saved.get("data_hash"),
    }
    for key, value in expected.items():
        if found.get(key) != value:
            raise UserError(
                f"{last} was written with {key}={found.get(key)!r}, not {value!r}; resume with the "
                "same settings and data, or choose another --out."
            )
    return last


def check_fresh(config: TrainConfig, checkpoints: list[Path], resume: bool) -> None:
    """Refuse to start over a folder that holds a run's checkpoints unless asked to resume it."""
    if checkpoints and not resume:
        raise UserError(
            f"{config.out} already holds checkpoints (last: {checkpoints[-1].name}); pass --resume "
            "to continue that run, or choose another --out."
        )


def _write_json(path: Path, data: dict[str, Any]) -> None:
    atomic_write(path, json.dumps(data, indent=2, default=str))


def _restore(
    last: Path, prepared: Prepared, optimizer: torch.optim.Optimizer, scheduler: torch.optim.lr_scheduler.LRScheduler
) -> int:
    """Load trained weights, optimizer, scheduler and RNG states of a checkpoint; return its step. A trainer
    state from another run (other parameter groups or shapes) is refused in one sentence."""
    tensors, state = load_state(last)
    load_trainable(prepared, tensors, str(last))
    foreign = UserError(
        f"{last / STATE} holds another run's optimizer state (other trainable weights); delete the folder {last} "
        "and rerun with --resume (it resumes from the previous checkpoint, if any), or give the --out of its run."
    )
    try:
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        torch.set_rng_state(state["torch_rng"])
    except (ValueError, KeyError, TypeError, RuntimeError):
        raise foreign from None
    moments = [(p, v) for g in optimizer.param_groups for p in g["params"] for v in optimizer.state[p].values()]
    if any(torch.is_tensor(v) and v.dim() > 0 and v.shape != p.shape for p, v in moments):
        raise foreign
    if state.get("cuda_rng") and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda_rng"])
    return int(read_meta(last)["step"])


def train_rm(
    config: TrainConfig,
    pairs: Sequence[PreferencePair],
    resume: bool = False,
    stop_after: int | None = None,
    progress: bool = True,
    on_ready: Callable[[Path], None] | None = None,
) -> TrainResult:
    """Train an RM on `pairs`; `resume` continues from the last checkpoint in `config.out`.

    Everything is checked (settings, data, model, the checkpoint to resume) before the first file is
    written; `on_ready(out)` is then called, before anything else is written. `stop_after` halts after
    that many steps (as a kill would, keeping only saved checkpoints). `wall_seconds` in the metrics
    counts this process only (a resumed run reports its own time); `held_out_accuracy_at_start` is the
    original run's, kept in every checkpoint.
    """
    started = time.perf_counter()
    out = Path(config.out)
    check_fresh(config, list_checkpoints(out), resume)
    handle = rm_from_base(
        config.base, seed=config.seed, device=config.device, trust_remote_code=config.trust_remote_code
    )
    base_fp = body_fingerprint(handle)
    prepared = prepare(handle, config.mode, config.k, config.lora_r, config.lora_alpha, config.lora_dropout)
    tokens = encode_preferences(handle.tokenizer, pairs, config.max_length)
    train_rows, held_rows = split_by_prompt(tokens.pairs, config.held_out, config.split_seed)
    train, held = tokens.subset(train_rows), tokens.subset(held_rows)
    start_layer = handle.n_layers - config.k if config.mode == "last-k" else None
    head = warm_start(handle, tokens, train_rows, held_rows, start_layer, config.head_init, config.seed, progress)
    total = config.steps or config.epochs * steps_per_epoch(len(train), config.batch_size)
    meta = {
        "base": config.base,
        "base_fingerprint": base_fp,
        "data_hash": data_hash(tokens.pairs),
        "seed": config.seed,
        "total_steps": total,
        "train_pairs": len(train),
        "held_out_pairs": len(held),
        "dropped_too_long": tokens.dropped_too_long,
        "config": asdict(config),
    }
    groups = param_groups(prepared, config.lr, config.head_lr)
    optimizer = torch.optim.AdamW(groups, lr=config.lr, weight_decay=config.weight_decay)
    scheduler = get_cosine_schedule_with_warmup(optimizer, math.ceil(config.warmup * total), total)
    torch.manual_seed(config.seed)
    last = _resume_point(config, meta, list_checkpoints(out))
    start = 0 if last is None else _restore(last, prepared, optimizer, scheduler)
    if on_ready is not None:
        on_ready(out)
    out.mkdir(parents=True, exist_ok=True)
    config_json = {"kind": "train-rm", **meta, "versions": versions(), "n_trainable": prepared.n_trainable}
    _write_json(out / "config.json", config_json)
    log = MetricsLog(out / "metrics.jsonl", keep_until_step=start)
    autocast = config.autocast_dtype
    device = handle.model.device
    initial: float | None
    if last is None:
        initial = evaluate_pairs(handle, held, config.eval_batch_size, autocast)[0]
    else:
        initial = read_meta(last).get("held_out_accuracy_at_start")
    meta["held_out_accuracy_at_start"] = initial
    saved = list_checkpoints(out)
    evaluation: tuple[float, dict[str, float], float] | None = None
    handle.model.train()
    with progress_bar(progress) as bar:
        task = bar.add_task("train-rm", total=total, completed=start)
        for step in range(start, total):
            rows = rows_for_step(len(train), config.batch_size, config.seed, step)
            scores = pair_scores(handle, train.batch(rows).to(device), autocast)
            margin = scores[: len(rows)] - scores[len(rows) :]
            loss = -torch.nn.functional.logsigmoid(margin).mean()
            loss.backward()
            grad_norm = torch.nn.utils.clip_grad_norm_(list(prepared.params.values()), config.max_grad_norm)
            lr = scheduler.get_last_lr()[0]
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            done = step + 1
            row: dict[str, Any] = {
                "step": done,
                "epoch": step // steps_per_epoch(len(train), config.batch_size),
                "loss": loss.item(),
                "batch_accuracy": (margin > 0).float().mean().item(),
                "lr": lr,
                "grad_norm": float(grad_norm),
                "seconds": round(time.perf_counter() - started, 3),
            }
            if done % config.save_every == 0 or done == total:
                evaluation = evaluate_pairs(handle, held, config.eval_batch_size, autocast)
                acc = evaluation[0]
                row |= {"held_out_accuracy": acc, "held_out_loss": evaluation[2]}
                state = {
                    "optimizer": optimizer.state_dict(),
                    "scheduler": scheduler.state_dict(),
                    "torch_rng": torch.get_rng_state(),
                    "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
                }
                model = export_model(prepared)
                trained = trainable_state(prepared)
                meta_now = {**meta, "held_out_accuracy": acc}
                saved.append(save_checkpoint(out, done, model, handle.tokenizer, trained, state, meta_now))
            log.write(row)
            bar.update(task, advance=1, description=f"train-rm loss {loss.item():.3f}")
            if stop_after is not None and done >= stop_after and done < total:
                return TrainResult(out, saved[-1] if saved else None, {"steps": done}, True, saved)
    if evaluation is None:  # resumed from the final checkpoint: nothing left to train
        evaluation = evaluate_pairs(handle, held, config.eval_batch_size, autocast)
    accuracy, by_family, held_loss = evaluation
    metrics = {
        "held_out_accuracy": accuracy,
        "held_out_accuracy_by_family": by_family,
        "held_out_loss": held_loss,
        "held_out_accuracy_at_start": initial,
        "frozen_head_accuracy": head.frozen_head_accuracy,
        "frozen_head_accuracy_by_family": head.frozen_head_accuracy_by_family,
        "head_init": head.init,
        "steps": total,
        "resumed_from_step": start or None,
        "wall_seconds": round(time.perf_counter() - started, 2),
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "train_pairs": len(train),
        "held_out_pairs": len(held),
        "dropped_too_long": tokens.dropped_too_long,
        "n_trainable": prepared.n_trainable,
        "base_fingerprint": base_fp,
        "final_checkpoint": str(saved[-1]),
        "unit": "held-out pair",
    }
    _write_json(out / "metrics.json", metrics)
    return TrainResult(out, saved[-1], metrics, False, saved)
