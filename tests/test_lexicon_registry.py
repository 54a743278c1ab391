"""Registry of public files: import with hash check, fetch from a local file:// URL, offline error."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from interp._util.errors import UserError
from interp.lexicons.downloads import REGISTRY, PublicFile, add, cached_path, fetch, resolve
from interp.lexicons.readers import load_lexicon

CONTENT = b"Category,word\nAgency,power\nCommunion,love\n"


def _table(url: str, data: bytes = CONTENT) -> dict[str, PublicFile]:
    sha = hashlib.sha256(data).hexdigest()
    return {"toy": PublicFile("toy", url, sha, "lexicon", "toy lexicon")}


def test_paper_entries_are_pinned() -> None:
    assert len(resolve("paper-scores")) == 10
    for entry in REGISTRY.values():
        assert "/5d8d2e9d879bf0060c791b11300f0efda42c9bcf/" in entry.url and len(entry.sha256) == 64


def test_add_checks_hash_and_stores(tmp_path: Path) -> None:
    src = tmp_path / "toy.csv"
    src.write_bytes(CONTENT)
    table = _table("https://example.invalid/toy.csv")
    [stored] = add("toy", src, registry=table, cache=tmp_path / "cache")
    assert stored.read_bytes() == CONTENT
    assert cached_path("toy", registry=table, cache=tmp_path / "cache") == stored
    assert load_lexicon(stored).categories == {"agency": ("power",), "communion": ("love",)}


def test_add_rejects_hash_mismatch(tmp_path: Path) -> None:
    src = tmp_path / "toy.csv"
    src.write_bytes(CONTENT + b"Agency,extra\n")
    with pytest.raises(UserError, match="not the registered") as err:
        add("toy", src, registry=_table("https://example.invalid/toy.csv"), cache=tmp_path / "cache")
    assert "\n" not in str(err.value)
    assert not (tmp_path / "cache" / "toy.csv").exists()


@pytest.mark.parametrize(("make", "message"), [(None, "does not exist"), ("folder", "is a folder without toy.csv")])
def test_add_refuses_a_missing_copy_or_a_folder_without_it_before_the_cache_exists(
    tmp_path: Path, make: str | None, message: str
) -> None:
    src = tmp_path / "copy"
    if make == "folder":
        src.mkdir()
        (src / "other.csv").write_bytes(CONTENT)
    with pytest.raises(UserError, match=message) as err:
        add("toy", src, registry=_table("https://example.invalid/toy.csv"), cache=tmp_path / "cache")
    assert "\n" not in str(err.value) and not (tmp_path / "cache").exists()


def test_fetch_from_file_url_verifies(tmp_path: Path) -> None:
    src = tmp_path / "served.csv"
    src.write_bytes(CONTENT)
    [path] = fetch("toy", registry=_table(src.as_uri()), cache=tmp_path / "cache")
    assert path.read_bytes() == CONTENT


def test_fetch_offline_suggests_add(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="lexicon add toy --from FILE"):
        fetch("toy", registry=_table("http://127.0.0.1:9/toy.csv"), cache=tmp_path / "cache", timeout=5)


def test_registry_lexicon_not_yet_fetched(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RM_INTERP_CACHE", str(tmp_path))
    with pytest.raises(UserError, match="rm-interp lexicon fetch big2-nouns"):
        load_lexicon("big2-nouns")


def test_unknown_name() -> None:
    with pytest.raises(UserError, match="not in the lexicon registry"):
        resolve("nope")
