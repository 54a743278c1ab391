"""Public files the toolkit can download at run time: pinned URL + sha256, never bundled.

The paper's Big Two word lists, prompts and per-RM score tables come from the authors' repository at a fixed
commit. It has no licence file, so the files are fetched to the user's cache (`RM_INTERP_CACHE`, else the
platform cache folder) and checked against their sha256; offline users import a copy with `add`.
Every function takes the registry table as a parameter so other tables (and tests) can use it.

>>> REGISTRY["big2-nouns"].url.endswith("data/corpora/dict_big2_nouns.csv")
True
>>> [e.name for e in resolve("paper-scores")][:1]
['scores-LxzGordon_URM-LLaMa-3.1-8B']
"""

from __future__ import annotations

import hashlib
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Literal

from interp._util.cache import cache_root
from interp._util.errors import UserError
from interp._util.files import atomic_write, check_output_folder
from interp._util.named import by_name

PAPER_REPO = "brchristian/reward_models_inherit_value_biases_from_pretraining"
PAPER_COMMIT = "5d8d2e9d879bf0060c791b11300f0efda42c9bcf"
PAPER_BASE = f"https://raw.githubusercontent.com/{PAPER_REPO}/{PAPER_COMMIT}"
PAPER_NOTE = "Christian et al. 2026 (ICLR), authors' repository; no licence: download-only"
Kind = Literal["lexicon", "prompts", "scores"]


@dataclass(frozen=True)
class PublicFile:
    """One downloadable file: its registry name, URL, expected sha256 and where it goes in the cache."""

    name: str
    url: str
    sha256: str
    kind: Kind
    description: str
    group: str = ""

    @property
    def cache_name(self) -> str:
        """Path inside the cache folder; score tables share one folder so `--scores` can point at it."""
        base = PurePosixPath(self.url).name
        return f"{self.group}/{base}" if self.group else base


def _paper(name: str, path: str, sha: str, kind: Kind, description: str, group: str = "") -> PublicFile:
    return PublicFile(name, f"{PAPER_BASE}/{path}", sha, kind, f"{description}; {PAPER_NOTE}", group)


_SCORES = "data/reward_model_scores/dict_big2_nouns"
_SCORE_HASHES = {
    "LxzGordon_URM-LLaMa-3.1-8B": "c699e86fcbe9a6469956eada8b0c0038cdf09e265d74f85201643c80005551a5",
    "RLHFlow_ArmoRM-Llama3-8B-v0.1": "f5082b17fb9b6793cab814b217a96c534e1eb7cb907e9fd68fbff01d5fb79bc0",
    "Ray2333_GRM-Llama3-8B-rewardmodel-ft": "e9d6a28b9af3336f7065820fcd4ab1ac1e4c1b42c128656887b17d98f816271b",
    "Ray2333_GRM-Llama3.2-3B-rewardmodel-ft": "ef6d34263d3d866e31a3f08e4c344ae7e7a6701380eb75baaa67ec7acec1770c",
    "Ray2333_GRM-gemma2-2B-rewardmodel-ft": "1ad021d4a7a5f5da2a9a2cd87f452b87e6f597cf013ab57bddf39030704d05c9",
    "Skywork_Skywork-Reward-Gemma-2-27B-v0.2": "dfa9220bd5a6df92d0e343a944746f9cd82e66c879f43689ee3fa3e4618f173b",
    "Skywork_Skywork-Reward-Gemma-2-27B": "e735023066fea2d81f802e3d20f4366b8e7d4202ec08a7875d10f695f3a7e46e",
    "Skywork_Skywork-Reward-Llama-3.1-8B-v0.2": "102a77636bfc228db2da8e28094a1f6d846c60ca6c244190593ed2f9606eb1ae",
    "nicolinho_QRM-Gemma-2-27B": "fac8cb5e475ae5c17539ea482290c37417f3d28a49ed27f00ae1287e86c6dfc5",
    "nicolinho_QRM-Llama3.1-8B": "7b3d8c82d637bb1c4e2210ba75b214a929e01ba3aca115d52125566f38d7e3a2",
}

REGISTRY: dict[str, PublicFile] = by_name(
    _paper(
        "big2-nouns",
        "data/corpora/dict_big2_nouns.csv",
        "186886a25b2f03ea3ec7e78fad71fabee408e3b5ec1758683461df4359b45435",
        "lexicon",
        "Big Two nouns (Pietraszkiewicz et al. 2019 dictionaries, 104 agency + 159 communion)",
    ),
    _paper(
        "big2-expanded",
        "data/corpora/dict_big2_expanded.csv",
        "9554698f6b7dd619853a7c129db977b59884560e211e75699e2b9c4b746dd8f1",
        "lexicon",
        "Big Two expanded word forms (936 rows, .dicx layout)",
    ),
    _paper(
        "paper-prompts",
        "config/prompts.yaml",
        "23d866d2152824218785408897967fb8ae8a90acf8755e28dc18cb993e2cf5b5",
        "prompts",
        "the paper's 54 prompts",
    ),
    *(
        _paper(
            f"scores-{key}",
            f"{_SCORES}/big2_rewards_{key}.csv",
            sha,
            "scores",
            f"rewards of {key} for the Big Two nouns",
            group="paper-scores",
        )
        for key, sha in _SCORE_HASHES.items()
    ),
)


def cache_dir() -> Path:
    """The download folder, `lexicons` in the rm-interp cache (`interp._util.cache.cache_root`); not created here."""
    return cache_root("lexicons", create=False)


def resolve(name: str, registry: Mapping[str, PublicFile] = REGISTRY) -> list[PublicFile]:
    """The entries a name stands for: one entry, or every entry of a group (e.g. `paper-scores`)."""
    if name in registry:
        return [registry[name]]
    group = [e for e in registry.values() if e.group == name]
    if not group:
        known = sorted({*registry, *(e.group for e in registry.values() if e.group)})
        raise UserError(f"'{name}' is not in the lexicon registry; known names: {', '.join(known)}.")
    return group


def sha256_of(data: bytes) -> str:
    """Hex sha256 of bytes."""
    return hashlib.sha256(data).hexdigest()


def cached_path(name: str, registry: Mapping[str, PublicFile] = REGISTRY, cache: Path | None = None) -> Path | None:
    """The cached file (or group folder) of a registry name, or None if it is not there yet."""
    entries = resolve(name, registry)
    root = cache or cache_dir()
    if not all((root / e.cache_name).is_file() for e in entries):
        return None
    return root / (entries[0].group if name not in registry else entries[0].cache_name)


def _store(entry: PublicFile, data: bytes, root: Path, origin: str) -> Path:
    actual = sha256_of(data)
    if actual != entry.sha256:
        raise UserError(
            f"{origin} has sha256 {actual[:12]}…, not the registered {entry.sha256[:12]}… of '{entry.name}'; "
            "it is a different version of the file, use the one at the registered URL."
        )
    return atomic_write(root / entry.cache_name, data)


def fetch(
    name: str,
    registry: Mapping[str, PublicFile] = REGISTRY,
    cache: Path | None = None,
    timeout: float = 30.0,
) -> list[Path]:
    """Download a registry name (or group) to the cache, verify each sha256, write atomically."""
    root = check_output_folder(cache or cache_dir(), "the lexicon cache, RM_INTERP_CACHE")
    paths = []
    for entry in resolve(name, registry):
        target = root / entry.cache_name
        if target.is_file() and sha256_of(target.read_bytes()) == entry.sha256:
            paths.append(target)
            continue
        try:
            with urllib.request.urlopen(entry.url, timeout=timeout) as response:
                data = response.read()
        except (urllib.error.URLError, OSError) as err:
            reason = getattr(err, "reason", err)
            raise UserError(
                f"Could not download '{entry.name}' from {entry.url} ({reason}); if you are offline, get the "
                f"file elsewhere and import it with `rm-interp lexicon add {name} --from FILE`."
            ) from None
        paths.append(_store(entry, data, root, entry.url))
    return paths


def add(
    name: str,
    source: Path,
    registry: Mapping[str, PublicFile] = REGISTRY,
    cache: Path | None = None,
) -> list[Path]:
    """Import a local copy of a registry name into the cache after the same sha256 check as `fetch`.

    For a group, `source` is a folder holding the group's files under their original names.
    """
    entries = resolve(name, registry)
    if not source.exists():
        raise UserError(f"{source} does not exist; give the downloaded copy of '{name}'.")
    single = PurePosixPath(entries[0].url).name
    if len(entries) == 1 and source.is_dir() and not (source / single).is_file():
        raise UserError(f"{source} is a folder without {single}; give the file itself.")
    root = check_output_folder(cache or cache_dir(), "the lexicon cache, RM_INTERP_CACHE")
    if len(entries) > 1 and not source.is_dir():
        raise UserError(f"'{name}' is a group of {len(entries)} files; give the folder that holds them.")
    paths = []
    for entry in entries:
        file = source / PurePosixPath(entry.url).name if source.is_dir() else source
        if file.is_dir():
            raise UserError(f"{file} is a folder; give the downloaded copy of '{entry.name}' (a file).")
        if not file.is_file():
            raise UserError(f"{file} does not exist; give the downloaded copy of '{entry.name}'.")
        try:
            data = file.read_bytes()
        except OSError as err:
            raise UserError(f"{file} cannot be read ({err.strerror}); check its permissions.") from None
        paths.append(_store(entry, data, root, str(file)))
    return paths
