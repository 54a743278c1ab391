"""Fast behavioural sweeps: RM scores of lexicon words and of the whole vocabulary (prompt-prefix KV cache),
base-LM log-probabilities of answers, and the implicit reward (MWLR) between two LMs.

>>> import tempfile
>>> from interp.models import rm_from_base
>>> from interp.render.prompts import paper_prompts
>>> from interp.sweep import sweep_answers
>>> from interp.models.tiny import build_tiny
>>> rm = rm_from_base(str(build_tiny("llama", tempfile.mkdtemp())))  # a tiny random RM
>>> sweep_answers(rm, paper_prompts()[:3], ["love", "freedom"], progress=False).shape  # 3 prompts × 2 answers
(6, 5)
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
