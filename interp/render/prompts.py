"""The paper's 54 prompts, generated from their factorial definition, and user prompt files.

6 adjectives × 3 superlatives × 3 concision styles. Keys are `<adjective>_<superlative>_<style>`.

>>> grid = paper_prompts()
>>> len(grid), grid[0].key, grid[0].text
(54, 'best_ever_one', 'What, in one word, is the best thing ever?')
>>> by_key(grid)["bad_time_please"].framing
'negative'
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import yaml

from interp._util.errors import UserError
from interp._util.files import read_text

# key part, phrase in the prompt, framing
ADJECTIVES: tuple[tuple[str, str, str], ...] = (
    ("best", "best", "positive"),
    ("greatest", "greatest", "positive"),
    ("good", "most good", "positive"),
    ("worst", "worst", "negative"),
    ("bad", "most bad", "negative"),
    ("terrible", "most terrible", "negative"),
)
SUPERLATIVES: tuple[tuple[str, str], ...] = (("ever", "ever"), ("world", "in the world"), ("time", "of all time"))
STYLES: tuple[tuple[str, str], ...] = (
    ("one", "What, in one word, is the {adj} thing {sup}?"),
    ("single", "What, in a single word, is the {adj} thing {sup}?"),
    ("please", "What is the {adj} thing {sup}? Please answer in one word only."),
)
UNSPECIFIED = "unspecified"


@dataclass(frozen=True)
class Prompt:
    """One prompt; `framing` is 'positive', 'negative' or 'unspecified' (user prompts without one)."""

    key: str
    text: str
    framing: str = UNSPECIFIED
    adjective: str = ""
    superlative: str = ""
    style: str = ""


def paper_prompts() -> tuple[Prompt, ...]:
    """The 54 prompts in the paper's order (adjective, then superlative, then style)."""
    return tuple(
        Prompt(f"{adj}_{sup}_{style}", template.format(adj=phrase, sup=sup_text), framing, adj, sup, style)
        for adj, phrase, framing in ADJECTIVES
        for sup, sup_text in SUPERLATIVES
        for style, template in STYLES
    )


def by_key(prompts: Iterable[Prompt]) -> dict[str, Prompt]:
    """Index prompts by key."""
    return {p.key: p for p in prompts}


def _with_grid_fields(key: str, text: str, framing: str | None) -> Prompt:
    grid = by_key(paper_prompts())
    if key in grid and not framing:
        g = grid[key]
        return Prompt(key, text, g.framing, g.adjective, g.superlative, g.style)
    return Prompt(key, text, (framing or UNSPECIFIED).strip().lower())


def _yaml_items(path: Path, text: str) -> list[tuple[str, str, str | None]]:
    """(key, text, framing) from a YAML mapping `key: text` or a list of {key, text, framing}; plain YAML only."""
    try:
        data = yaml.safe_load(text)
    except yaml.constructor.ConstructorError as err:
        tag = re.search(r"'([^']+)'", str(err.problem))
        name = tag[1].replace("tag:yaml.org,2002:", "!!") if tag else "it holds"
        raise UserError(
            f"{path}{_line(err)} uses the YAML tag {name}, which is not allowed; "
            "a prompt file holds plain text keys and values."
        ) from None
    except yaml.YAMLError as err:
        raise UserError(
            f"{path}{_line(err)} is not valid YAML ({getattr(err, 'problem', None) or 'syntax error'}); fix the syntax."
        ) from None
    if isinstance(data, dict) and all(_scalar(k) and _scalar(v) for k, v in data.items()):
        return [(str(k), str(v), None) for k, v in data.items()]
    if isinstance(data, list) and all(
        isinstance(d, dict)
        and _scalar(d.get("key"))
        and _scalar(d.get("text"))
        and (d.get("framing") is None or _scalar(d["framing"]))
        for d in data
    ):
        return [(str(d["key"]), str(d["text"]), None if d.get("framing") is None else str(d["framing"])) for d in data]
    raise UserError(f"{path}: expected a mapping `key: text` or a list of {{key, text, framing}} with text values.")


def _line(err: yaml.YAMLError) -> str:
    mark = getattr(err, "problem_mark", None)
    return f":{mark.line + 1}" if mark is not None else ""


def _scalar(value: object) -> bool:
    return isinstance(value, str | int | float) and not isinstance(value, bool) and str(value).strip() != ""


def _csv_items(path: Path, text: str) -> list[tuple[str, str, str | None]]:
    """(key, text, framing) from a CSV with `key`, `text` and optional `framing` columns."""
    try:
        rows = list(csv.DictReader(io.StringIO(text)))
    except csv.Error as err:
        raise UserError(
            f"{path} is not a readable CSV file ({err}); check for an unclosed quote and save it as comma-separated "
            "UTF-8 text."
        ) from None
    if not rows or not {"key", "text"} <= set(rows[0]):
        raise UserError(f"{path}: a prompt CSV needs 'key' and 'text' columns.")
    for i, r in enumerate(rows, start=2):
        if not (r["key"] or "").strip() or not (r["text"] or "").strip():
            raise UserError(f"{path}:{i}: a prompt row needs a key and a text.")
    return [(r["key"], r["text"], r.get("framing")) for r in rows]


def load_prompts(path: str | Path) -> tuple[Prompt, ...]:
    """Read prompts from YAML (`key: text` mapping, or a list of {key, text, framing}), CSV (`key,text`
    and optional `framing` columns) or a text file (one prompt per line, keys `prompt_001`, ...).

    Keys of the paper's grid get its framing unless the file gives one. A missing path, a folder, a binary,
    non-UTF-8 or empty file, malformed YAML and YAML tags (`!!python/object`) are refused in one sentence.
    """
    path = Path(path)
    text = read_text(path, "prompt file", "--prompts")
    suffix = path.suffix.lower()
    items: list[tuple[str, str, str | None]]
    if suffix in (".yaml", ".yml"):
        items = _yaml_items(path, text)
    elif suffix == ".csv":
        items = _csv_items(path, text)
    else:
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        items = [(f"prompt_{i:03d}", line, None) for i, line in enumerate(lines, start=1)]
    if not items:
        raise UserError(f"{path} holds no prompts.")
    keys = [k for k, _, _ in items]
    if len(set(keys)) != len(keys):
        dup = next(k for k in keys if keys.count(k) > 1)
        raise UserError(f"{path}: prompt key '{dup}' appears twice; keys must be unique.")
    return tuple(_with_grid_fields(k, t, f) for k, t, f in items)
