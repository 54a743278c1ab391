"""Preference pairs (prompt, chosen, rejected) from local files or the hub, validated and subsampled.

Schemas read: chosen/rejected message lists (Skywork-Reward-Preference-80K-v0.2: `chosen` and `rejected`
are lists of `{role, content}` whose last message is the assistant's answer), `conv_A`/`conv_B` with
`conv_A_rating`/`conv_B_rating` (llm-blender/Unified-Feedback; ties are dropped), and flat rows with
`prompt`/`chosen`/`rejected` strings (this module's own jsonl export). Earlier turns of a multi-turn
conversation are folded into the prompt as `role: content` lines, because an RM here scores one user turn
and one answer.

>>> pairs = pairs_from_records([{"chosen": [{"role": "user", "content": "2+2?"},
...                                         {"role": "assistant", "content": "4"}],
...                              "rejected": [{"role": "user", "content": "2+2?"},
...                                           {"role": "assistant", "content": "5"}]}], "toy")
>>> pairs[0]
PreferencePair(prompt='2+2?', chosen='4', rejected='5', family='toy')
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import random
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pandas as pd

from interp._util.errors import UserError
from interp.models.hub import HUB_ID, hub_reachable, looks_like_path
from interp.training.neutral import neutral_pairs
from interp.training.pairs import PreferencePair

MESSAGE_FIELDS = (("chosen", "rejected"), ("conv_A", "conv_B"))
FILE_TYPES = (".jsonl", ".json", ".parquet")


def data_hash(pairs: Sequence[PreferencePair]) -> str:
    """A short hash of the pairs' texts, in order (identifies the training data of a run)."""
    digest = hashlib.sha256()
    for p in pairs:
        digest.update(json.dumps([p.prompt, p.chosen, p.rejected]).encode())
    return digest.hexdigest()[:16]


def _messages(value: Any, where: str) -> list[dict[str, str]]:
    if isinstance(value, str):
        return [{"role": "assistant", "content": value}]
    try:
        return [{"role": str(m["role"]), "content": str(m["content"])} for m in value]
    except (TypeError, KeyError) as err:
        raise UserError(f"{where} is neither a string nor a list of {{role, content}} messages.") from err


def _split(conversation: list[dict[str, str]], where: str) -> tuple[str, str]:
    """(prompt, answer): the answer is the last assistant message, the prompt the turns before it."""
    if not conversation or conversation[-1]["role"] != "assistant":
        raise UserError(f"{where} does not end with an assistant message; each side needs the answer last.")
    context = conversation[:-1]
    if len(context) == 1:
        return context[0]["content"], conversation[-1]["content"]
    return "\n".join(f"{m['role']}: {m['content']}" for m in context), conversation[-1]["content"]


def _pair(record: Mapping[str, Any], i: int, source: str) -> PreferencePair | None:
    family = str(record.get("family") or record.get("source") or source)
    if "conv_A" in record and "conv_B" in record:
        a, b = record.get("conv_A_rating"), record.get("conv_B_rating")
        if a is None or b is None:
            raise UserError(f"{source}: row {i} has conv_A/conv_B but no conv_A_rating/conv_B_rating.")
        if a == b:
            return None  # a tie says nothing about preference (Unified-Feedback has many)
        chosen_key, rejected_key = ("conv_A", "conv_B") if a > b else ("conv_B", "conv_A")
    else:
        chosen_key, rejected_key = "chosen", "rejected"
    chosen, rejected = record[chosen_key], record[rejected_key]
    if isinstance(chosen, str) and isinstance(rejected, str) and "prompt" in record:
        return PreferencePair(str(record["prompt"]), chosen, rejected, family)
    prompt, chosen_text = _split(_messages(chosen, f"{source}: row {i} '{chosen_key}'"), f"{source}: row {i}")
    other, rejected_text = _split(_messages(rejected, f"{source}: row {i} '{rejected_key}'"), f"{source}: row {i}")
    if other != prompt and other:
        raise UserError(
            f"{source}: row {i} has different prompts on its chosen and rejected sides; "
            "both sides must answer the same conversation."
        )
    if not prompt:
        raise UserError(f"{source}: row {i} has no prompt: give a 'prompt' column or a user turn before the answer.")
    return PreferencePair(prompt, chosen_text, rejected_text, family)


def check_pairs(pairs: Sequence[PreferencePair], source: str) -> list[PreferencePair]:
    """Refuse empty data and pairs whose chosen and rejected answers are identical."""
    if not pairs:
        raise UserError(f"{source} holds no usable preference pairs.")
    same = [i for i, p in enumerate(pairs) if p.chosen.strip() == p.rejected.strip()]
    if same:
        raise UserError(
            f"{source}: {len(same)} pairs have identical chosen and rejected answers (first at "
            f"index {same[0]}); remove them, they carry no preference."
        )
    return list(pairs)


def pairs_from_records(records: Iterable[Mapping[str, Any]], source: str) -> list[PreferencePair]:
    """Convert rows of any supported schema; ties (equal ratings) are dropped, other problems refused."""
    records = list(records)
    if not records:
        raise UserError(f"{source} holds no rows.")
    fields = set(records[0])
    if not any(set(pair) <= fields for pair in MESSAGE_FIELDS):
        raise UserError(
            f"{source} has no chosen/rejected (or conv_A/conv_B) fields; its fields are: {', '.join(sorted(fields))}."
        )
    pairs = [p for i, r in enumerate(records) if (p := _pair(r, i, source)) is not None]
    return check_pairs(pairs, source)


def read_pairs(path: str | Path) -> list[PreferencePair]:
    """Read a `.jsonl`, `.json` or `.parquet` file of preference rows."""
    path = Path(path)
    if path.is_dir():
        raise UserError(f"{path} is a folder; pass a preference file (.jsonl, .json or .parquet).")
    if not path.is_file():
        raise UserError(f"Preference file {path} does not exist; check the path.")
    suffix = path.suffix.lower()
    try:
        if suffix == ".parquet":
            frame = pd.read_parquet(path)
        elif suffix in FILE_TYPES:
            frame = pd.read_json(path, lines=suffix == ".jsonl", dtype=False, convert_dates=False)
        else:
            raise UserError(f"{path}: unknown file type '{suffix}'; give a .jsonl, .json or .parquet file.")
    except ValueError as err:
        raise UserError(f"{path} could not be parsed as {suffix[1:]}: {str(err).splitlines()[0]}") from err
    return pairs_from_records(frame.to_dict("records"), path.name)


@contextlib.contextmanager
def _local_only() -> Iterator[None]:
    """`datasets` and the hub client read only the local cache inside the block (no retries, no waiting)."""
    import datasets.config
    import huggingface_hub.constants

    saved = huggingface_hub.constants.HF_HUB_OFFLINE, datasets.config.HF_HUB_OFFLINE
    huggingface_hub.constants.HF_HUB_OFFLINE = datasets.config.HF_HUB_OFFLINE = True
    try:
        yield
    finally:
        huggingface_hub.constants.HF_HUB_OFFLINE, datasets.config.HF_HUB_OFFLINE = saved


def load_hub_pairs(dataset_id: str, split: str = "train") -> list[PreferencePair]:
    """Load a hub dataset with `datasets` (`org/name` or `org/name:config`); when the hub is unreachable
    (2 s check) only the local cache is read, so an uncached dataset is refused at once."""
    import datasets

    name, _, config = dataset_id.partition(":")
    reachable = hub_reachable()
    try:
        with contextlib.nullcontext() if reachable else _local_only():
            data = datasets.load_dataset(name, config or None, split=split)
    except Exception as err:  # datasets raises many types for offline / missing datasets
        if not reachable:
            raise UserError(
                f"The hub dataset '{dataset_id}' is not in the local Hugging Face cache and the hub is "
                "unreachable (this machine may be offline); download it where the hub is reachable, or pass a "
                "local .jsonl/.parquet file."
            ) from err
        raise UserError(
            f"Could not load the hub dataset '{dataset_id}' "
            f"({str(err).splitlines()[0] if str(err) else type(err).__name__}); check the id, config and "
            "split, and if this machine may be offline, pass a local .jsonl/.parquet file instead."
        ) from err
    return pairs_from_records(data, dataset_id)


def subsample(pairs: Sequence[PreferencePair], n: int | None, seed: int = 0) -> list[PreferencePair]:
    """`n` pairs drawn without replacement with `seed` (all pairs, in order, when `n` is None).

    >>> ps = [PreferencePair(str(i), "a", "b") for i in range(10)]
    >>> [p.prompt for p in subsample(ps, 3, seed=1)] == [p.prompt for p in subsample(ps, 3, seed=1)]
    True
    """
    if n is None:
        return list(pairs)
    if n < 1:
        raise UserError(f"The number of pairs must be at least 1, not {n}.")
    if n > len(pairs):
        raise UserError(f"Asked for {n} pairs but the data holds only {len(pairs)}; ask for fewer.")
    chosen = sorted(random.Random(seed).sample(range(len(pairs)), n))
    return [pairs[i] for i in chosen]


def load_pairs(spec: str, n: int | None = None, seed: int = 0) -> list[PreferencePair]:
    """`neutral` (built-in generator), a local file, or a hub dataset id; `n` pairs subsampled with `seed`.

    >>> len(load_pairs("neutral", n=5))
    5
    """
    if spec == "neutral":
        return neutral_pairs(n if n is not None else 2000, seed)
    if Path(spec).expanduser().exists():
        return subsample(read_pairs(Path(spec).expanduser()), n, seed)
    if looks_like_path(spec) or Path(spec).suffix.lower() in FILE_TYPES:
        raise UserError(
            f"Preference file {spec} does not exist (and it is neither 'neutral' nor a hub dataset id); check the path."
        )
    if HUB_ID.fullmatch(spec.partition(":")[0]):
        return subsample(load_hub_pairs(spec), n, seed)
    raise UserError(f"'{spec}' is neither 'neutral', an existing .jsonl/.parquet file, nor a hub dataset id.")


def write_pairs(pairs: Iterable[PreferencePair], path: str | Path) -> Path:
    """Write pairs as jsonl rows {prompt, chosen, rejected, family} (readable again with `read_pairs`)."""
    path = Path(path)
    with path.open("w", encoding="utf-8") as fh:
        for p in pairs:
            fh.write(json.dumps(asdict(p)) + "\n")
    return path
