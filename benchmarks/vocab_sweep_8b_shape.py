"""Whole-vocabulary sweep throughput of a random RM with the shape of Llama-3.1-8B: prompt cache vs full sequence.

The RM is `AutoModelForSequenceClassification.from_config(LlamaConfig(...))` with Llama-3.1-8B's shape
(hidden 4096, 32 layers, 32 heads, 8 KV heads, MLP 14336, vocabulary 128256), randomly initialised: no
download. Its tokenizer is built in-process: a word-level vocabulary of exactly that size (Llama-3.1's
special tokens, the words of its chat template and the prompt, then synthetic tokens) and Llama-3.1's chat
layout (system header with the knowledge-cutoff lines), so prefix and tail lengths are the real ones.

One prompt; every chosen token id, decoded alone, is scored as the answer twice in one run, on the same
answers and batch size: the prompt-cache method (`interp.sweep.prefix.CachedScorer`, the way
`sweep_vocab` scores) and the full-sequence method (`interp.score.reward_scores`). Timings include the
prompt's own forward pass; a warm-up on other answers comes first.

    python -m benchmarks.vocab_sweep_8b_shape --quick   # CPU: 4 layers, hidden 512, 1024 token ids
    python -m benchmarks.vocab_sweep_8b_shape           # GPU: full shape, bf16, the whole vocabulary

The last line printed is a JSON object: `device`, `answers_per_second_cached`, `answers_per_second_full`,
`peak_memory_gb` (GPU: torch.cuda.max_memory_allocated, also per method; CPU: peak RSS of the process,
so the per-method peaks are cumulative there), the config used,
`max_abs_diff` and the Pearson correlation between the two methods' scores (bf16 on GPUs: compare the
difference with `score_std_full`), and `answers_per_second_render_tokenize`, the rate at which the CPU
renders and tokenizes the conversations alone (both methods include that work; it bounds the cached one).

Measured on one NVIDIA H200 (torch 2.11 + CUDA 13, bf16, batch 256, prefix 36 + tail 2 tokens):
whole vocabulary (128,250 ids) cached in 37.3 s = 3,436 answers/s; full sequence 853 answers/s on 8,192
ids (4.0x); peak 15.4 GB. `--quick` (8,192 ids each): 3,392-3,532 vs 843-853 answers/s. The cached rate
is about half GPU, half CPU rendering/tokenizing (7,351 answers/s alone). bf16 scores of the two
methods: Pearson 0.9975, max |diff| 0.23 against a score s.d. of 0.87 (random weights, 32 layers).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from collections.abc import Callable
from typing import Any

import torch
from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import AutoModelForSequenceClassification, LlamaConfig, PreTrainedTokenizerFast
from transformers.utils import logging

from interp.models import ModelHandle
from interp.render import render_pair, token_ids
from interp.runinfo import peak_rss_mb
from interp.score import reward_scores
from interp.sweep.prefix import CachedScorer, shared_prefix_length

SHAPE = {  # Llama-3.1-8B
    "hidden_size": 4096,
    "num_hidden_layers": 32,
    "num_attention_heads": 32,
    "num_key_value_heads": 8,
    "intermediate_size": 14336,
    "vocab_size": 128256,
}
QUICK_CPU = {
    **SHAPE,
    "hidden_size": 512,
    "num_hidden_layers": 4,
    "num_attention_heads": 8,
    "num_key_value_heads": 2,
    "intermediate_size": 1792,
}
PROMPT = "What, in one word, is the best thing ever?"
SPECIALS = ["<|begin_of_text|>", "<|eot_id|>", "<|start_header_id|>", "<|end_header_id|>", "<|finetune_right_pad_id|>"]
TEMPLATE = (  # Llama-3.1's layout with its default system lines
    "{{ '<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: December 2023\n"
    "Today Date: 26 Jul 2024\n\n<|eot_id|>' }}{% for m in messages %}{{ '<|start_header_id|>' + m['role'] + "
    "'<|end_header_id|>\n\n' + m['content'] | trim + '<|eot_id|>' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}"
)


def build_tokenizer(vocab_size: int) -> PreTrainedTokenizerFast:
    """A word-level tokenizer of exactly `vocab_size` tokens with Llama-3.1's specials and chat layout."""
    split = pre_tokenizers.Whitespace()
    text = "system Cutting Knowledge Date: December 2023 Today Date: 26 Jul 2024 user assistant " + PROMPT
    words = list(dict.fromkeys([*SPECIALS, "[UNK]", *(w for w, _ in split.pre_tokenize_str(text))]))
    words += [f"t{i:06d}" for i in range(vocab_size - len(words))]
    tok = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="[UNK]"))
    tok.pre_tokenizer = split
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token=SPECIALS[0],
        eos_token=SPECIALS[1],
        pad_token=SPECIALS[4],
        additional_special_tokens=SPECIALS[2:4],
        chat_template=TEMPLATE,
    )


def build_rm(shape: dict[str, int], dtype: torch.dtype, device: str) -> ModelHandle:
    """The random RM (seed 0) on `device`, head in fp32, as a toolkit handle."""
    tok = build_tokenizer(shape["vocab_size"])
    settings: dict[str, Any] = dict(
        shape,
        num_labels=1,
        max_position_embeddings=8192,
        rms_norm_eps=1e-5,
        pad_token_id=tok.pad_token_id,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
    )
    config = LlamaConfig(**settings)
    torch.manual_seed(0)
    with torch.device(device):
        model = AutoModelForSequenceClassification.from_config(config, dtype=dtype, attn_implementation="sdpa")
    model.eval()
    model.score.float()
    return ModelHandle(model, tok, "llama-3.1-8b-shape (random)", "rm")


def peak_gb(device: str) -> float:
    """Peak memory so far: allocated GPU memory on CUDA, the process's peak RSS on the CPU."""
    if device.startswith("cuda"):
        return torch.cuda.max_memory_allocated() / 2**30
    return peak_rss_mb() / 1024


def timed(device: str, fn: Callable[[], torch.Tensor]) -> tuple[float, torch.Tensor, float]:
    """Seconds, result and peak memory (GB) of one call."""
    if device.startswith("cuda"):
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    out = fn()
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return time.perf_counter() - start, out, peak_gb(device)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="CPU: a shrunken model; GPU: 8192 token ids")
    parser.add_argument("--answers", type=int, help="token ids scored by the cached method (spread over the vocab)")
    parser.add_argument("--full-answers", type=int, help="how many of them the full-sequence method also scores")
    parser.add_argument("--batch-size", type=int, help="answers per forward pass (both methods)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args()
    logging.set_verbosity_error()
    gpu = args.device.startswith("cuda")
    shape = QUICK_CPU if args.quick and not gpu else SHAPE
    dtype = torch.bfloat16 if gpu else torch.float32
    n_answers = args.answers or ((8192 if args.quick else shape["vocab_size"]) if gpu else 1024)
    n_full = min(n_answers, args.full_answers or (8192 if gpu else 1024))
    batch = args.batch_size or (256 if gpu else 64)

    start = time.perf_counter()
    rm = build_rm(shape, dtype, args.device)
    build_s = time.perf_counter() - start
    vocab = shape["vocab_size"]
    first = len(SPECIALS) + 1  # skip specials and [UNK]: they decode to nothing
    step = max(1, (vocab - first) // n_answers)
    ids = list(range(first, vocab, step))[:n_answers]
    answers = [str(rm.tokenizer.decode([i])) for i in ids]
    rows = [token_ids(rm.tokenizer, render_pair(rm.tokenizer, PROMPT, a)) for a in answers[:64]]
    prefix = shared_prefix_length(rows)
    print(
        f"device {args.device}, {dtype}, shape {shape}, built in {build_s:.1f} s; {len(answers)} token ids "
        f"(cached), {n_full} (full); prompt prefix {prefix} tokens, full row {len(rows[0])} tokens; batch {batch}"
    )

    warm = [str(rm.tokenizer.decode([i])) for i in range(first + 1, first + 1 + 2 * batch, 2)]
    CachedScorer(rm, batch).score(PROMPT, warm)
    reward_scores(rm, [(PROMPT, a) for a in warm[:batch]], batch)
    cached_s, cached, peak_cached = timed(args.device, lambda: CachedScorer(rm, batch).score(PROMPT, answers))
    full_s, full, peak_full = timed(
        args.device, lambda: reward_scores(rm, [(PROMPT, a) for a in answers[:n_full]], batch)
    )
    diff = (cached[:n_full] - full).abs().max().item()
    agreement = torch.corrcoef(torch.stack([cached[:n_full], full]))[0, 1].item()
    start = time.perf_counter()  # the CPU share of either method: rendering and tokenizing the conversations
    for a in answers:
        token_ids(rm.tokenizer, render_pair(rm.tokenizer, PROMPT, a))
    render_s = time.perf_counter() - start
    name = (
        torch.cuda.get_device_name() if gpu else f"{platform.processor() or 'cpu'}, {torch.get_num_threads()} threads"
    )
    result: dict[str, Any] = {
        "benchmark": "vocab_sweep_8b_shape",
        "device": f"{args.device} ({name})",
        "dtype": str(dtype).removeprefix("torch."),
        "quick": args.quick,
        "config": shape,
        "full_8b_shape": shape == SHAPE,
        "n_answers_cached": len(answers),
        "n_answers_full": n_full,
        "batch_size": batch,
        "prefix_tokens": prefix,
        "row_tokens": len(rows[0]),
        "seconds_cached": round(cached_s, 3),
        "seconds_full": round(full_s, 3),
        "answers_per_second_cached": round(len(answers) / cached_s, 1),
        "answers_per_second_full": round(n_full / full_s, 1),
        "speedup": round((len(answers) / cached_s) / (n_full / full_s), 2),
        "max_abs_diff": diff,
        "score_std_full": round(full.std().item(), 4),
        "pearson_cached_full": round(agreement, 6),
        "answers_per_second_render_tokenize": round(len(answers) / render_s, 1),
        "peak_memory_gb": round(max(peak_cached, peak_full, peak_gb(args.device)), 3),
        "peak_memory_gb_cached": round(peak_cached, 3),
        "peak_memory_gb_full": round(peak_full, 3),
        "torch": torch.__version__,
        "load_average_1min": round(os.getloadavg()[0], 2),  # CPU timings are only as good as the machine is idle
    }
    print(
        f"cached: {result['answers_per_second_cached']} answers/s; full: {result['answers_per_second_full']} "
        f"answers/s; speedup {result['speedup']}x; max |Δ| {diff:.2e}"
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
