"""Fast behavioural sweeps: RM scores of lexicon words and of the whole vocabulary (prompt-prefix KV cache),
base-LM log-probabilities of answers, and the implicit reward (MWLR) between two LMs.

>>> from interp.sweep import CachedScorer, sweep_answers, sweep_vocab, answer_logprobs, mwlr  # doctest: +SKIP
"""

from interp.sweep.answers import lexicon_answers, sweep_answers, sweep_lexicon
from interp.sweep.implicit import mwlr, mwlr_summary
from interp.sweep.logprobs import answer_logprobs, next_token_logprobs, vocab_logprobs
from interp.sweep.prefix import CachedScorer, PrefixCache, shared_prefix_length
from interp.sweep.vocab import sweep_vocab, vocab_table

__all__ = [
    "CachedScorer",
    "PrefixCache",
    "answer_logprobs",
    "lexicon_answers",
    "mwlr",
    "mwlr_summary",
    "next_token_logprobs",
    "shared_prefix_length",
    "sweep_answers",
    "sweep_lexicon",
    "sweep_vocab",
    "vocab_logprobs",
    "vocab_table",
]
