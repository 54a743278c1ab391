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
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import yaml

from interp.errors import UserError

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


def load_prompts(path: str | Path) -> tuple[Prompt, ...]:
    """Read prompts from YAML (`key: text` mapping, or a list of {key, text, framing}), CSV (`key,text`
    and optional `framing` columns) or a text file (one prompt per line, keys `prompt_001`, ...).

    Keys of the paper's grid get its framing unless the file gives one.
    """
    path = Path(path)
    if not path.is_file():
        raise UserError(f"Prompt file {path} does not exist.")
    suffix = path.suffix.lower()
    items: list[tuple[str, str, str | None]]
    if suffix in (".yaml", ".yml"):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        if isinstance(data, dict):
            items = [(str(k), str(v), None) for k, v in data.items()]
        elif isinstance(data, list) and all(isinstance(d, dict) and "key" in d and "text" in d for d in data):
            items = [(str(d["key"]), str(d["text"]), d.get("framing")) for d in data]
        else:
            raise UserError(f"{path}: expected a mapping `key: text` or a list of {{key, text, framing}}.")
    elif suffix == ".csv":
        with path.open(encoding="utf-8-sig", newline="") as fh:
            rows = list(csv.DictReader(fh))
        if not rows or not {"key", "text"} <= set(rows[0]):
            raise UserError(f"{path}: a prompt CSV needs 'key' and 'text' columns.")
        items = [(r["key"], r["text"], r.get("framing")) for r in rows]
    else:
        lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        items = [(f"prompt_{i:03d}", line, None) for i, line in enumerate(lines, start=1)]
    if not items:
        raise UserError(f"{path} holds no prompts.")
    keys = [k for k, _, _ in items]
    if len(set(keys)) != len(keys):
        dup = next(k for k in keys if keys.count(k) > 1)
        raise UserError(f"{path}: prompt key '{dup}' appears twice; keys must be unique.")
    return tuple(_with_grid_fields(k, t, f) for k, t, f in items)
