"""Lexicons: named categories of words, read from LIWC `.dic`, LIWC-22 `.dicx`, CSV or plain word lists.

An entry ending in `*` is a LIWC stem glob (`achiev*` matches achieve, achievement, ...); it is expanded
against a vocabulary (a tokenizer's words, or the answers in a score table) with `Lexicon.restrict`.
Entries may hold several words ("best friend"). Category names are stripped and lower-cased.

>>> lex = Lexicon("toy", {"agency": ("power", "achiev*"), "communion": ("love",)}, source="example")
>>> lex.restrict(["Power", "achievement", "love", "table"]).categories
{'agency': ('Power', 'achievement'), 'communion': ('love',)}
"""

from __future__ import annotations

import bisect
import csv
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import pandas as pd

from interp._util.errors import UserError
from interp._util.files import read_text

DEFAULT_LABEL = "rm-interp default lexicon (project's own; not the Big Two dictionaries)"


@dataclass(frozen=True)
class Lexicon:
    """Categories of words; `source` says where the words come from and is printed with every result."""

    name: str
    categories: dict[str, tuple[str, ...]]
    source: str
    is_default: bool = False

    def __post_init__(self) -> None:
        if not self.categories:
            raise UserError(f"Lexicon '{self.name}' has no categories; give at least one category of words.")
        for category, words in self.categories.items():
            if not words:
                raise UserError(
                    f"Category '{category}' of lexicon '{self.name}' is empty; add words to it or remove it."
                )

    @property
    def label(self) -> str:
        """One line naming the lexicon and its source, for outputs."""
        return f"{self.name} [{self.source}]"

    def entries(self) -> pd.DataFrame:
        """One row per (word, category) entry, globs unexpanded: columns `word`, `category`."""
        rows = [(w, c) for c, words in self.categories.items() for w in words]
        return pd.DataFrame(rows, columns=["word", "category"])

    def restrict(self, vocabulary: Iterable[str]) -> Lexicon:
        """Keep the vocabulary words each entry matches (case-insensitive; `stem*` matches by prefix).

        Vocabulary entries are compared stripped and lower-cased but returned as given (so " Love" and
        "love" from a tokenizer both match `love`). Raises `UserError` when no word matches at all,
        or when a whole category matches nothing.
        """
        vocab = sorted({v for v in vocabulary if v.strip()}, key=lambda v: (v.strip().lower(), v))
        keys = [v.strip().lower() for v in vocab]
        by_key: dict[str, list[str]] = {}
        for key, v in zip(keys, vocab, strict=True):
            by_key.setdefault(key, []).append(v)
        kept: dict[str, tuple[str, ...]] = {}
        for category, words in self.categories.items():
            found: dict[str, None] = {}
            for entry in words:
                for w in _expand(entry, vocab, keys, by_key):
                    found[w] = None
            kept[category] = tuple(found)
        if not any(kept.values()):
            raise UserError(
                f"None of the words of lexicon '{self.name}' occur in the vocabulary "
                f"({len(vocab)} words); check that the lexicon and the scores/tokenizer are in the same language."
            )
        empty = [c for c, ws in kept.items() if not ws]
        if empty:
            raise UserError(
                f"No word of category '{empty[0]}' of lexicon '{self.name}' occurs in the vocabulary; "
                "add words to it or drop the category."
            )
        return Lexicon(self.name, kept, self.source, self.is_default)


def _expand(entry: str, vocab: list[str], keys: list[str], by_key: dict[str, list[str]]) -> list[str]:
    key = entry.lower()
    if not key.endswith("*"):
        return by_key.get(key, [])
    stem = key[:-1]
    start = bisect.bisect_left(keys, stem)
    end = start
    while end < len(keys) and keys[end].startswith(stem):
        end += 1
    return vocab[start:end]


def _build(name: str, pairs: Iterable[tuple[str, str]], source: str, is_default: bool = False) -> Lexicon:
    """Group (word, category) pairs into a Lexicon, keeping first-seen order and dropping duplicates."""
    cats: dict[str, dict[str, None]] = {}
    for word, category in pairs:
        cats.setdefault(category.strip().lower(), {})[" ".join(word.split())] = None
    return Lexicon(name, {c: tuple(ws) for c, ws in cats.items()}, source, is_default)


_DIC_ENTRY = re.compile(r"^(?P<word>.+?)\s+(?P<nums>\d+(?:\s+\d+)*)\s*$")
WHAT = "lexicon file"


def read_dic(path: Path) -> Lexicon:
    """Read a LIWC `.dic`: a `%`-fenced header of `number<TAB>category`, then `word<TAB>num num ...`."""
    lines = read_text(path, WHAT).splitlines()
    fences = [i for i, line in enumerate(lines) if line.strip() == "%"]
    if len(fences) < 2:
        raise UserError(f"{path}: a LIWC .dic file must start with a '%'-fenced category header.")
    names: dict[str, str] = {}
    for i in range(fences[0] + 1, fences[1]):
        line = lines[i].strip()
        if not line:
            continue
        parts = line.split(None, 1)
        if len(parts) != 2 or not parts[0].isdigit():
            raise UserError(f"{path}:{i + 1}: malformed category line {line!r}; expected 'number<TAB>name'.")
        names[parts[0]] = parts[1].strip()
    pairs: list[tuple[str, str]] = []
    for i in range(fences[1] + 1, len(lines)):
        line = lines[i].strip()
        if not line:
            continue
        match = _DIC_ENTRY.match(line)
        if match is None:
            raise UserError(f"{path}:{i + 1}: malformed entry {line!r}; expected 'word<TAB>category numbers'.")
        for num in match["nums"].split():
            if num not in names:
                raise UserError(f"{path}:{i + 1}: category number {num} is not declared in the header.")
            pairs.append((match["word"], names[num]))
    lexicon = _build(path.stem, pairs, f"LIWC dictionary {path.name}")
    missing = [n for n in names.values() if n.strip().lower() not in lexicon.categories]
    if missing:
        raise UserError(f"{path}: category '{missing[0]}' has no words; add words to it or remove it.")
    return lexicon


def _read_rows(path: Path) -> list[list[str]]:
    """The non-blank rows of a CSV lexicon file; refuses a file that is not UTF-8 CSV text or holds no rows."""
    try:
        rows = [row for row in csv.reader(io.StringIO(read_text(path, WHAT))) if any(c.strip() for c in row)]
    except csv.Error as err:
        raise UserError(
            f"{path} is not a readable CSV file ({err}); check for an unclosed quote and save it as comma-separated "
            "UTF-8 text."
        ) from None
    if not rows:
        raise UserError(f"{path} holds no rows; a lexicon CSV needs a header row and one row per word.")
    return rows


def read_dicx(path: Path, rows: list[list[str]] | None = None) -> Lexicon:
    """Read a LIWC-22 `.dicx`: a `DicTerm` column and one column per category, `X` marking membership."""
    rows = _read_rows(path) if rows is None else rows
    header = [h.strip() for h in rows[0]]
    if "dicterm" not in [h.lower() for h in header]:
        raise UserError(f"{path}:1: a .dicx file needs a 'DicTerm' column; found {header}.")
    term = [h.lower() for h in header].index("dicterm")
    categories = [(j, h) for j, h in enumerate(header) if j != term]
    if not categories or len(rows) < 2:
        raise UserError(f"{path} has no category columns or no words; add a column per category and a row per word.")
    pairs: list[tuple[str, str]] = []
    for i, row in enumerate(rows[1:], start=2):
        if len(row) != len(header) or not row[term].strip():
            raise UserError(f"{path}:{i}: malformed row {row}; expected {len(header)} cells with a DicTerm.")
        pairs += [(row[term], name) for j, name in categories if row[j].strip().upper() == "X"]
    lexicon = _build(path.stem, pairs, f"LIWC-22 dictionary {path.name}")
    for _, name in categories:
        if name.lower() not in lexicon.categories:
            raise UserError(f"{path}: category '{name}' has no words (no 'X' in its column); fix or drop it.")
    return lexicon


def read_csv(path: Path) -> Lexicon:
    """Read a CSV with a `Category` column and a word column (the first other column, any name)."""
    rows = _read_rows(path)
    header = [h.strip().lower() for h in rows[0]]
    if "dicterm" in header:
        return read_dicx(path, rows)
    if "category" not in header or len(header) < 2:
        raise UserError(f"{path}:1: a lexicon CSV needs a 'Category' column and a word column; got {rows[0]}.")
    cat = header.index("category")
    word = next(j for j in range(len(header)) if j != cat)
    pairs: list[tuple[str, str]] = []
    for i, row in enumerate(rows[1:], start=2):
        if len(row) != len(header) or not row[cat].strip() or not row[word].strip():
            raise UserError(f"{path}:{i}: malformed row {row}; expected a category and a word.")
        pairs.append((row[word], row[cat]))
    return _build(path.stem, pairs, f"user lexicon {path.name}")


def read_plain(path: Path) -> Lexicon:
    """Read one entry per line (blank lines and `#` comments skipped); the category is the file stem."""
    words = [line.strip() for line in read_text(path, WHAT).splitlines()]
    words = [w for w in words if w and not w.startswith("#")]
    if not words:
        raise UserError(f"{path} holds no words; write one word per line.")
    return _build(path.stem, [(w, path.stem) for w in words], f"word list {path.name}")


def read_lexicon(path: Path) -> Lexicon:
    """Read a lexicon file, choosing the reader by its suffix (.dic, .dicx, .csv, anything else: plain).

    A missing path, a folder, or a binary, non-UTF-8 or empty file is refused in one sentence.
    """
    readers = {".dic": read_dic, ".dicx": read_dicx, ".csv": read_csv}
    return readers.get(path.suffix.lower(), read_plain)(path)


def default_lexicon() -> Lexicon:
    """The bundled agency/communion lexicon: the project's own word choice, each word's theory cited.

    >>> lex = default_lexicon()
    >>> sorted(lex.categories), lex.is_default
    (['agency', 'communion'], True)
    """
    text = resources.files("interp").joinpath("data", "default_lexicon.csv").read_text(encoding="utf-8")
    rows = list(csv.DictReader(text.splitlines()))
    return _build("default", [(r["word"], r["category"]) for r in rows], DEFAULT_LABEL, is_default=True)


def default_lexicon_sources() -> pd.DataFrame:
    """The bundled lexicon with its `source` column (the theory each word follows)."""
    with resources.files("interp").joinpath("data", "default_lexicon.csv").open(encoding="utf-8") as fh:
        return pd.read_csv(fh)


def load_lexicon(path_or_name: str | Path | None = None) -> Lexicon:
    """Load a lexicon from a file path, the name `default` (or None), or a fetched registry name.

    >>> load_lexicon().is_default
    True
    """
    if path_or_name is None or str(path_or_name) == "default":
        return default_lexicon()
    path = Path(path_or_name)
    if path.exists():
        return read_lexicon(path)
    from interp.lexicons.downloads import REGISTRY, cached_path

    name = str(path_or_name)
    if name in REGISTRY and REGISTRY[name].kind == "lexicon":
        cached = cached_path(name)
        if cached is None:
            raise UserError(
                f"Lexicon '{name}' is not downloaded yet; run `rm-interp lexicon fetch {name}` "
                f"(or `rm-interp lexicon add {name} --from FILE` offline)."
            )
        lexicon = read_lexicon(cached)
        return Lexicon(name, lexicon.categories, f"{REGISTRY[name].description} ({REGISTRY[name].url})")
    known = ", ".join(["default", *[n for n, e in REGISTRY.items() if e.kind == "lexicon"]])
    if path.suffix or len(path.parts) > 1:
        raise UserError(f"The lexicon file {path} does not exist; give an existing file or one of: {known}.")
    raise UserError(f"'{path_or_name}' is neither a lexicon file nor a known lexicon; known ones: {known}.")
