"""Lexicons: readers for LIWC `.dic`/`.dicx`, CSV and plain lists;
matching words to a tokenizer's tokens; pinned public downloads.

Names import their module on first use (`interp._util.lazy`), so importing the package stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from interp._util.lazy import lazy_exports

if TYPE_CHECKING:
    from interp.lexicons.downloads import (
        PAPER_BASE,
        PAPER_COMMIT,
        PAPER_NOTE,
        PAPER_REPO,
        REGISTRY,
        PublicFile,
        cache_dir,
        cached_path,
        sha256_of,
    )
    from interp.lexicons.matching import CASES, COLUMNS, MULTI_TOKEN, MatchResult, match_lexicon, token_vocabulary
    from interp.lexicons.readers import (
        DEFAULT_LABEL,
        WHAT,
        Lexicon,
        default_lexicon,
        default_lexicon_sources,
        load_lexicon,
        read_csv,
        read_dic,
        read_dicx,
        read_lexicon,
        read_plain,
    )

__all__ = [
    "CASES",
    "COLUMNS",
    "DEFAULT_LABEL",
    "MULTI_TOKEN",
    "PAPER_BASE",
    "PAPER_COMMIT",
    "PAPER_NOTE",
    "PAPER_REPO",
    "REGISTRY",
    "WHAT",
    "Lexicon",
    "MatchResult",
    "PublicFile",
    "cache_dir",
    "cached_path",
    "default_lexicon",
    "default_lexicon_sources",
    "load_lexicon",
    "match_lexicon",
    "read_csv",
    "read_dic",
    "read_dicx",
    "read_lexicon",
    "read_plain",
    "sha256_of",
    "token_vocabulary",
]

__getattr__, __dir__ = lazy_exports(__name__)
