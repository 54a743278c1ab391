"""Conformance of a reward model to the toolkit's scoring promises, as a list of named pass/fail checks.

Each check runs a few fixed (prompt, answer) pairs through the RM as given (its dtype, device and mode) and
compares two ways of computing the same scores, or inspects the rendered tokens for a known trap: a doubled
BOS, a missing end-of-turn token, a readout off the last real token, a pad token that collides with EOS or the
end of turn. A check that cannot run counts as failed; NaN scores fail their check and never raise.

>>> import tempfile
>>> from interp.models import rm_from_base
>>> from interp.models.tiny import build_tiny
>>> rm = rm_from_base(str(build_tiny("gemma3", tempfile.mkdtemp())))  # a tiny random RM
>>> checks = conformance(rm, dtypes=["fp32"])  # the default also checks bf16 and fp16 copies
>>> [c.check for c in checks if not c.passed], len(checks)
([], 10)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial

from interp._util.errors import UserError
from interp.models import DTYPES, ModelHandle, declares_reward_model, load_rm, rm_from_base
from interp.score.score_checks import (
    batch_invariance,
    cached_prefix,
    determinism,
    dtype_name,
    finite_in,
    own_head,
    padding_invariance,
)
from interp.score.token_checks import end_of_turn_check, pad_collision, readout_token, template_tokens

# Answers of different token lengths (so batches pad), two answers or more per prompt (so prompt caching has a
# shared prefix), and a prompt long enough to cross a small sliding window.
PAIRS: tuple[tuple[str, str], ...] = (
    ("What, in one word, is the best thing ever?", "Love"),
    ("What, in one word, is the best thing ever?", "Freedom and success"),
    ("What, in one word, is the best thing ever?", "A family"),
    ("Name the most important thing in a long and happy life.", "Kindness"),
    ("Name the most important thing in a long and happy life.", "Power, wealth and achievement"),
)
CHECK_DTYPES: tuple[str, ...] = ("float32", "bfloat16", "float16")


@dataclass(frozen=True)
class Check:
    """One conformance check: its name, whether it passed, and what was measured (with the bound used)."""

    check: str
    passed: bool
    detail: str


def conformance(
    handle: ModelHandle,
    pairs: Sequence[tuple[str, str]] = PAIRS,
    dtypes: Sequence[str] = CHECK_DTYPES,
) -> list[Check]:
    """Run every conformance check on an RM (as loaded: its dtype, device and train/eval mode).

    `dtypes` are the dtypes whose scores must be finite (each a temporary copy of the model, freed after).
    A check that raises is reported as failed with the reason; NaN scores never raise.
    """
    if handle.kind != "rm":
        raise UserError(f"'{handle.name}' is loaded as a language model; load it with load_rm to check it.")
    if len(pairs) < 2:
        raise UserError("Conformance needs at least two (prompt, answer) pairs.")
    for name in dtypes:
        if name not in DTYPES:
            raise UserError(f"Unknown dtype '{name}'; use one of: {', '.join(DTYPES)}.")
    checks: list[tuple[str, Callable[..., tuple[bool, str]], tuple[object, ...]]] = [
        ("determinism", determinism, ()),
        ("batch invariance", batch_invariance, ()),
        ("padding invariance", padding_invariance, ()),
        ("own head", own_head, ()),
        ("cached prefix", cached_prefix, ()),
        *((f"finite {dtype_name(DTYPES[name])}", finite_in, (DTYPES[name],)) for name in dtypes),
        ("template tokens", template_tokens, ()),
        ("end of turn", end_of_turn_check, ()),
        ("readout token", readout_token, ()),
        ("pad collision", pad_collision, ()),
    ]
    return [_run(name, partial(run, handle, pairs, *extra)) for name, run, extra in checks]


def rm_to_check(name: str, dtype: str = "float32", trust_remote_code: bool = False) -> tuple[ModelHandle, str]:
    """The RM the checks of `name` run on, and a sentence saying how it was made: a declared RM
    (`declares_reward_model`) as it is; a causal LM or embedded name as an RM built from it (its body + a fresh
    scalar head, seed 0).

    >>> import tempfile
    >>> from interp.models.tiny import build_tiny
    >>> rm, how = rm_to_check(str(build_tiny("llama", tempfile.mkdtemp())))
    >>> rm.kind, how.endswith("(its body + a fresh scalar head, seed 0)")
    ('rm', True)
    """
    if declares_reward_model(name):
        return load_rm(name, dtype=dtype, trust_remote_code=trust_remote_code), f"{name}: loaded as a reward model"
    return (
        rm_from_base(name, seed=0, dtype=dtype, trust_remote_code=trust_remote_code),
        f"{name}: a causal LM; checking an RM built from it (its body + a fresh scalar head, seed 0)",
    )


def _run(name: str, run: Callable[[], tuple[bool, str]]) -> Check:
    try:
        passed, detail = run()
    except Exception as err:  # a check that cannot run is a finding about the model, not a crash
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        return Check(name, False, f"could not run: {reason}")
    return Check(name, passed, detail)
