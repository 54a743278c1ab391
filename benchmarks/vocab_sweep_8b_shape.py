"""Whole-vocabulary sweep throughput of a random RM with the shape of Llama-3.1-8B: every scoring method, one run.

The RM is `AutoModelForSequenceClassification.from_config(LlamaConfig(...))` with Llama-3.1-8B's shape
(hidden 4096, 32 layers, 32 heads, 8 KV heads, MLP 14336, vocabulary 128256), randomly initialised: no
download. Its tokenizer is built in-process: a word-level vocabulary of exactly that size (Llama-3.1's
special tokens, the words of its chat template and the prompt, then synthetic tokens) and Llama-3.1's chat
layout (system header with the knowledge-cutoff lines), so prefix and tail lengths are the real ones.

One prompt; every chosen token id, decoded alone, is scored as the answer by each method, on the same answers
and batch size, in one run: `legacy` (the prompt-cache path before splicing and packing: every conversation
rendered and tokenised whole, tails batched on the copied prompt cache), `batched` and `packed`
(`interp.sweep.prefix.CachedScorer` with that method: spliced tokenisation, cold), and `full` (full-sequence
scoring, `interp.score.reward_scores`, on the first `--full-answers`). Timings include the prompt's own forward
pass; a warm-up on other answers comes first. CPU: process CPU seconds (one torch thread); GPU: wall seconds
with synchronisation.

    python -m benchmarks.vocab_sweep_8b_shape --quick   # CPU: 4 layers, hidden 512, 1024 token ids
    python -m benchmarks.vocab_sweep_8b_shape           # GPU: full shape, bf16, the whole vocabulary
    python -m benchmarks.vocab_sweep_8b_shape --quick --dtype float32 --answers 2048   # GPU: fp32 agreement

The last line printed is a JSON object: `device`, `answers_per_second_<method>` for each method,
`best_method` and `best_over_legacy` (its answers/s over `legacy`'s), `answers_per_second_cached` (the
method `CachedScorer` picks by default) and `speedup` (that over `full`), `peak_memory_gb` (GPU:
torch.cuda.max_memory_allocated, also per method; CPU: peak RSS of the process, so the per-method peaks are
cumulative there), the config used, `max_abs_diff` (each method vs `full` on the answers both score) and the
Pearson correlation of the default method's scores with `full`'s (bf16 on GPUs: compare the difference with
`score_std_full`), and the CPU rate of preparing the conversations' token ids alone: rendered and tokenised
whole (`answers_per_second_render_tokenize`) and spliced from cold (`answers_per_second_prepare_spliced`).

Measured before this version on one NVIDIA H200 (torch 2.11 + CUDA 13, bf16, batch 256, prefix 36 + tail 2
tokens): whole vocabulary (128,250 ids) with the `legacy` path in 37.3 s = 3,436 answers/s; full sequence 853
answers/s on 8,192 ids (4.0x); peak 15.4 GB; about half of the legacy time was CPU rendering/tokenizing
(7,351 answers/s alone). bf16 scores of the two methods: Pearson 0.9975, max |diff| 0.23 against a score s.d.
of 0.87 (random weights, 32 layers). Splicing and packing have not been measured on a GPU yet. `--quick` on
the CPU (2 shared cores, one thread, CPU seconds): packed 714 answers/s, batched 574, legacy 480 (best 1.49x
legacy), full 43; max |Δ| 7.7e-7; preparation 72,481 answers/s spliced vs 3,143 rendered.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from collections.abc import Callable, Sequence
from typing import Any

import torch
from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import AutoModelForSequenceClassification, LlamaConfig, PreTrainedTokenizerFast
from transformers.utils import logging

from interp._util.runinfo import peak_rss_mb
from interp.models import ModelHandle
from interp.render import render_pair, token_ids
from interp.score import reward_scores
from interp.sweep.packed import packable
from interp.sweep.prefix import CachedScorer, Method, PrefixCache, score_tails, shared_prefix_length
from interp.sweep.splice import splicer

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
    """Seconds (GPU: wall, synchronised; CPU: this process's CPU time), result and peak memory (GB) of one call."""
    gpu = device.startswith("cuda")
    if gpu:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    clock = time.perf_counter if gpu else time.process_time
    start = clock()
    out = fn()
    if gpu:
        torch.cuda.synchronize()
    return clock() - start, out, peak_gb(device)


def legacy_cached(rm: ModelHandle, prompt: str, answers: Sequence[str], batch: int) -> torch.Tensor:
    """The prompt-cache path before splicing and packing: each conversation rendered and tokenised whole, the
    shared prefix run once, tails sorted by length and batched on copies of its cache."""
    rows = [token_ids(rm.tokenizer, render_pair(rm.tokenizer, prompt, a)) for a in answers]
    cut = shared_prefix_length(rows)
    cache = PrefixCache(rm, [rows[0][:cut]])
    tails = [r[cut:] for r in rows]
    order = sorted(range(len(rows)), key=lambda i: len(tails[i]))
    scores = torch.empty(len(rows), dtype=torch.float32)
    for start in range(0, len(order), batch):
        chunk = order[start : start + batch]
        scores[chunk] = score_tails(rm, cache, [0] * len(chunk), [tails[i] for i in chunk])
    return scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="CPU: a shrunken model; GPU: 8192 token ids")
    parser.add_argument("--answers", type=int, help="token ids scored by the cached methods (spread over the vocab)")
    parser.add_argument("--full-answers", type=int, help="how many of them the full-sequence method also scores")
    parser.add_argument("--batch-size", type=int, help="answers per forward pass (every method)")
    parser.add_argument("--row-tokens", type=int, default=128, help="tokens per packed row (about)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--dtype", choices=["auto", "float32", "bfloat16"], default="auto", help="auto: bf16 on GPUs")
    args = parser.parse_args()
    logging.set_verbosity_error()
    gpu = args.device.startswith("cuda")
    shape = QUICK_CPU if args.quick and not gpu else SHAPE
    dtype = torch.bfloat16 if (args.dtype == "auto" and gpu) or args.dtype == "bfloat16" else torch.float32
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
    default = CachedScorer(rm, batch, row_tokens=args.row_tokens).method
    print(
        f"device {args.device}, {dtype}, shape {shape}, built in {build_s:.1f} s; {len(answers)} token ids "
        f"(cached), {n_full} (full); prompt prefix {prefix} tokens, full row {len(rows[0])} tokens; batch {batch}; "
        f"default method {default}"
    )

    def spliced(method: Method) -> Callable[[], torch.Tensor]:
        def run() -> torch.Tensor:
            splicer(rm.tokenizer).clear()  # cold: no answer ids kept from the warm-up
            return CachedScorer(rm, batch, method=method, row_tokens=args.row_tokens).score(PROMPT, answers)

        return run

    methods: dict[str, Callable[[], torch.Tensor]] = {
        "legacy": lambda: legacy_cached(rm, PROMPT, answers, batch),
        "batched": spliced("batched"),
    }
    if packable(rm):
        methods["packed"] = spliced("packed")
    warm = [str(rm.tokenizer.decode([i])) for i in range(first + 1, first + 1 + 2 * batch, 2)]
    for method in ("batched", "packed") if packable(rm) else ("batched",):
        CachedScorer(rm, batch, method=method, row_tokens=args.row_tokens).score(PROMPT, warm)  # type: ignore[arg-type]
    legacy_cached(rm, PROMPT, warm, batch)
    reward_scores(rm, [(PROMPT, a) for a in warm[:batch]], batch)
    seconds, scores, peaks = {}, {}, {}
    for name, run in methods.items():
        seconds[name], scores[name], peaks[name] = timed(args.device, run)
    seconds["full"], full, peaks["full"] = timed(
        args.device, lambda: reward_scores(rm, [(PROMPT, a) for a in answers[:n_full]], batch)
    )
    rate = {name: len(answers) / s for name, s in seconds.items() if name != "full"}
    rate["full"] = n_full / seconds["full"]
    best = max((name for name in methods if name != "legacy"), key=lambda name: rate[name])
    diff = {name: (scores[name][:n_full] - full).abs().max().item() for name in methods}
    agreement = torch.corrcoef(torch.stack([scores[default][:n_full], full]))[0, 1].item()
    start = time.process_time()  # the CPU work of preparing token ids: rendering and tokenizing whole ...
    for a in answers:
        token_ids(rm.tokenizer, render_pair(rm.tokenizer, PROMPT, a))
    render_s = time.process_time() - start
    splicer(rm.tokenizer).clear()
    start = time.process_time()  # ... or spliced, from cold
    splicer(rm.tokenizer).split(PROMPT, answers)
    splice_s = time.process_time() - start
    name = (
        torch.cuda.get_device_name() if gpu else f"{platform.processor() or 'cpu'}, {torch.get_num_threads()} threads"
    )
    result: dict[str, Any] = {
        "benchmark": "vocab_sweep_8b_shape",
        "device": f"{args.device} ({name})",
        "clock": "wall, synchronised" if gpu else "process CPU time",
        "dtype": str(dtype).removeprefix("torch."),
        "quick": args.quick,
        "config": shape,
        "full_8b_shape": shape == SHAPE,
        "n_answers_cached": len(answers),
        "n_answers_full": n_full,
        "batch_size": batch,
        "row_tokens": args.row_tokens,
        "prefix_tokens": prefix,
        "row_tokens_full": len(rows[0]),
        "default_method": default,
        **{f"seconds_{k}": round(v, 3) for k, v in seconds.items()},
        **{f"answers_per_second_{k}": round(v, 1) for k, v in rate.items()},
        "answers_per_second_cached": round(rate[default], 1),
        "best_method": best,
        "best_over_legacy": round(rate[best] / rate["legacy"], 2),
        "speedup": round(rate[default] / rate["full"], 2),
        "max_abs_diff": diff[default],
        **{f"max_abs_diff_{k}": v for k, v in diff.items()},
        "score_std_full": round(full.std().item(), 4),
        "pearson_cached_full": round(agreement, 6),
        "answers_per_second_render_tokenize": round(len(answers) / render_s, 1),
        "answers_per_second_prepare_spliced": round(len(answers) / splice_s, 1),
        "peak_memory_gb": round(max(*peaks.values(), peak_gb(args.device)), 3),
        **{f"peak_memory_gb_{k}": round(v, 3) for k, v in peaks.items()},
        "torch": torch.__version__,
        "load_average_1min": round(os.getloadavg()[0], 2),  # CPU timings are only as good as the machine is idle
    }
    print(
        "; ".join(f"{k}: {v:,.0f} answers/s" for k, v in rate.items())
        + f"; best {best} = {result['best_over_legacy']}x legacy; max |Δ| {diff[default]:.2e}"
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
