"""Base-LM log-probabilities of one-word answers: one forward pass per (prompt, wrapper), log-softmax at the
answer position.

Wrappers (the context the answer follows):
- `chat`: the model's chat template with the generation prompt (`render_prompt`), for instruct models;
- `raw`: the bare prompt, as the paper gave base models;
- `user_assistant`: "User: {prompt}\\nAssistant:", a plain wrapper for base models (the paper had none).
By default an instruct model (its tokenizer has a chat template) gets `chat`, a base model both `raw` and
`user_assistant`, reported side by side in the `wrapper` column.

A word's log-probability merges its single-token variants: as given, lower case, Capitalised and UPPER
case, each with and without a leading space (`interp.lexicons.matching`), as
`log Σ_v p(v)` (log-sum-exp over the distinct token ids). Variants that are several tokens are left out
(a one-token readout cannot score them); a word with no single-token variant gets no row and is listed
in `unmatched`.

>>> import tempfile
>>> from interp.models import load_lm
>>> from interp.render.prompts import paper_prompts
>>> from interp.models.tiny import build_tiny
>>> lm = load_lm(str(build_tiny("llama", tempfile.mkdtemp())))  # a tiny random LM (400 tokens, chat template)
>>> table, unmatched = answer_logprobs(lm, paper_prompts()[:1], ["power", "love"], progress=False)
>>> table[["wrapper", "word", "n_variants"]].values.tolist(), unmatched["word"].tolist()
([['chat', 'power', 1]], ['love'])
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Literal

import pandas as pd
import torch
from transformers import PreTrainedTokenizerBase

from interp._util.errors import UserError
from interp._util.progress import progress_bar
from interp.lexicons.matching import match_lexicon
from interp.lexicons.readers import Lexicon
from interp.models import ModelHandle
from interp.render import render_prompt, token_ids
from interp.render.prompts import Prompt

Wrapper = Literal["chat", "raw", "user_assistant"]
WRAPPERS: tuple[Wrapper, ...] = ("chat", "raw", "user_assistant")
COLUMNS = ["model", "wrapper", "prompt", "word", "score", "n_variants", "variants", "framing"]


def default_wrappers(tokenizer: PreTrainedTokenizerBase) -> tuple[Wrapper, ...]:
    """`chat` for instruct models (a chat template), `raw` and `user_assistant` for base models."""
    return ("chat",) if tokenizer.chat_template else ("raw", "user_assistant")


def context(tokenizer: PreTrainedTokenizerBase, prompt: str, wrapper: Wrapper) -> str:
    """The text the answer token follows, for one wrapper."""
    if wrapper == "chat":
        return render_prompt(tokenizer, prompt)
    if wrapper == "raw":
        return prompt
    if wrapper == "user_assistant":
        return f"User: {prompt}\nAssistant:"
    raise UserError(f"Unknown wrapper '{wrapper}'; use one of: {', '.join(WRAPPERS)}.")


@torch.no_grad()
def next_token_logprobs(handle: ModelHandle, text: str) -> torch.Tensor:
    """Log-softmax (fp32, CPU) over the vocabulary of the token that follows `text` (one BOS, no padding)."""
    if handle.kind != "lm":
        raise UserError(f"'{handle.name}' is loaded as a reward model; load it with load_lm for log-probabilities.")
    ids = torch.tensor([token_ids(handle.tokenizer, text)], device=handle.model.device)
    mask = torch.ones_like(ids)
    logits = handle.model(input_ids=ids, attention_mask=mask, use_cache=False, logits_to_keep=1).logits  # last only
    return torch.log_softmax(logits[0, -1].float(), dim=-1).cpu()


def single_token_variants(
    tokenizer: PreTrainedTokenizerBase, words: Sequence[str]
) -> tuple[dict[str, list[int]], pd.DataFrame]:
    """Each word's distinct single-token variant ids (case × leading space), and the words with none."""
    if not words:
        raise UserError("The list of answer words is empty; give at least one word.")
    lexicon = Lexicon("answers", {"answers": tuple(dict.fromkeys(words))}, "answer list")
    result = match_lexicon(lexicon, tokenizer)
    single = result.table[result.table["single_token"]]
    ids: dict[str, list[int]] = {}
    for word, group in single.groupby("word", sort=False):
        ids[str(word)] = list(dict.fromkeys(t[0] for t in group["token_ids"]))
    return ids, result.unmatched[["word", "reason"]].reset_index(drop=True)


def merge_variants(logprobs: torch.Tensor, ids: Sequence[int]) -> float:
    """log Σ p over distinct token ids: the probability that the answer is any of the variants.

    >>> round(merge_variants(torch.log(torch.tensor([0.1, 0.2, 0.7])), [0, 1, 1]), 4)
    -1.204
    """
    return float(torch.logsumexp(logprobs[list(dict.fromkeys(ids))], dim=0))


def _each_context(
    handle: ModelHandle, prompts: Sequence[Prompt], wrappers: tuple[Wrapper, ...], what: str, progress: bool
) -> Iterator[tuple[Wrapper, Prompt, torch.Tensor]]:
    """(wrapper, prompt, next-token log-softmax) for every wrapper and prompt, under a progress bar `what`."""
    if not prompts:
        raise UserError("The list of prompts is empty; give at least one prompt.")
    with progress_bar(progress) as bar:
        task = bar.add_task(what, total=len(prompts) * len(wrappers))
        for wrapper in wrappers:
            for prompt in prompts:
                yield wrapper, prompt, next_token_logprobs(handle, context(handle.tokenizer, prompt.text, wrapper))
                bar.advance(task)


def answer_logprobs(
    handle: ModelHandle,
    prompts: Sequence[Prompt],
    words: Sequence[str],
    wrappers: Sequence[Wrapper] | None = None,
    model: str | None = None,
    progress: bool = True,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Merged log-probability of each word as the answer to each prompt, per wrapper; see the module doc.

    Returns the tidy table (`score` is the merged log-probability) and the words with no single-token variant.
    """
    tokenizer = handle.tokenizer
    variants, unmatched = single_token_variants(tokenizer, words)
    n_ids = int(handle.model.get_output_embeddings().weight.shape[0])  # tokenizers may hold extra ids
    variants = {w: kept for w, ids in variants.items() if (kept := [i for i in ids if i < n_ids])}
    wrappers = tuple(wrappers or default_wrappers(tokenizer))
    names = {word: "|".join(tokenizer.convert_ids_to_tokens(ids)) for word, ids in variants.items()}
    rows = [
        (
            model or handle.name,
            wrapper,
            prompt.key,
            word,
            merge_variants(logprobs, ids),
            len(ids),
            names[word],
            prompt.framing,
        )
        for wrapper, prompt, logprobs in _each_context(handle, prompts, wrappers, "log-probabilities", progress)
        for word, ids in variants.items()
    ]
    return pd.DataFrame(rows, columns=COLUMNS), unmatched


def vocab_logprobs(
    handle: ModelHandle,
    prompts: Sequence[Prompt],
    wrappers: Sequence[Wrapper] | None = None,
    model: str | None = None,
    progress: bool = True,
) -> pd.DataFrame:
    """Merged log-probability of every decoded token string, keyed by its stripped lower-case form.

    Token ids whose decoded text is equal after `strip().lower()` are merged by log-sum-exp (this merges
    case and leading-space variants across the whole vocabulary); whitespace-only tokens and tokenizer ids
    beyond the model's output layer are left out.
    """
    tokenizer = handle.tokenizer
    n_ids = min(len(tokenizer), int(handle.model.get_output_embeddings().weight.shape[0]))
    keys = pd.Series([str(tokenizer.decode([i])).strip().lower() for i in range(n_ids)])
    keep = keys != ""
    groups = pd.factorize(keys[keep])
    index = torch.tensor(groups[0], dtype=torch.long)
    token_ids_kept = torch.tensor(keep.to_numpy().nonzero()[0], dtype=torch.long)
    wrappers = tuple(wrappers or default_wrappers(tokenizer))
    frames = []
    for wrapper, prompt, logprobs in _each_context(
        handle, prompts, wrappers, "log-probabilities (vocabulary)", progress
    ):
        probs = logprobs[token_ids_kept].double().exp()
        merged = torch.zeros(len(groups[1]), dtype=torch.float64).index_add_(0, index, probs).log()
        frames.append(
            pd.DataFrame(
                {
                    "model": model or handle.name,
                    "wrapper": wrapper,
                    "prompt": prompt.key,
                    "word": groups[1],
                    "score": merged.numpy(),
                    "framing": prompt.framing,
                }
            )
        )
    return pd.concat(frames, ignore_index=True)
