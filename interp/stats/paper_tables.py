"""Read reward scores: the paper's per-RM tables or tidy long tables, and each RM's base family.

Two layouts are accepted, as CSV or parquet:
- the paper's: one file per RM, a `response` column and one column per prompt key (model = file stem);
- tidy long: columns `model, prompt, word, score` (what the project's own sweeps write).
Scores must be finite; the prompt keys must be exactly those of the prompt set.

>>> families_from_registry(["big2_rewards_nicolinho_QRM-Gemma-2-27B"])
{'big2_rewards_nicolinho_QRM-Gemma-2-27B': 'gemma'}
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from interp._util.errors import UserError
from interp._util.files import read_text
from interp.models import registry
from interp.render.prompts import Prompt

LONG = ["model", "prompt", "word", "score"]


def _files(sources: Iterable[Path]) -> list[Path]:
    files: list[Path] = []
    for source in sources:
        if source.is_dir():
            found = sorted(p for p in source.iterdir() if p.suffix.lower() in (".csv", ".parquet"))
            # a sweep writes scores.parquet and scores.csv side by side: read the parquet once
            found = [p for p in found if p.suffix.lower() == ".parquet" or p.with_suffix(".parquet") not in found]
            if not found:
                raise UserError(f"Folder {source} holds no .csv or .parquet score files.")
            files += found
        elif source.is_file():
            files.append(source)
        else:
            raise UserError(f"Score file or folder {source} does not exist.")
    return files


def _read(path: Path) -> pd.DataFrame:
    if path.suffix.lower() == ".parquet":
        try:
            return pd.read_parquet(path)
        except (ValueError, OSError):
            raise UserError(
                f"The score file {path} is not a readable parquet file; give a parquet or CSV score table."
            ) from None
    text = read_text(path, "score file", "--scores")
    try:
        return pd.read_csv(io.StringIO(text), keep_default_na=False, na_values=["", "NA", "NaN", "nan"])
    except ValueError as err:  # pandas' ParserError is a ValueError
        reason = str(err).rsplit("error: ", 1)[-1].rstrip(".")
        raise UserError(f"The score file {path} is not a valid CSV table ({reason}); fix its rows.") from None


def _from_wide(path: Path, frame: pd.DataFrame, keys: Sequence[str]) -> pd.DataFrame:
    columns = [c for c in frame.columns if c != "response"]
    missing = [k for k in keys if k not in columns]
    extra = [c for c in columns if c not in keys]
    if missing or extra:
        raise UserError(
            f"{path}: its prompt columns do not match the prompt set (missing {missing[:3]}, unexpected "
            f"{extra[:3]}, {len(missing)} and {len(extra)} in all); pass the prompts it was scored with (--prompts)."
        )
    long = frame.melt(id_vars="response", var_name="prompt", value_name="score")
    return long.rename(columns={"response": "word"}).assign(model=path.stem)[LONG]


def _check(path: Path, table: pd.DataFrame, keys: Sequence[str]) -> pd.DataFrame:
    table = table.assign(word=table["word"].astype(str), prompt=table["prompt"].astype(str))
    try:
        score = pd.to_numeric(table["score"]).to_numpy(dtype=float)
    except (ValueError, TypeError):
        raise UserError(f"{path}: some scores are not numbers; every score must be a finite number.") from None
    bad = ~np.isfinite(score)
    if bad.any():
        row = table[bad].iloc[0]
        raise UserError(
            f"{path}: {int(bad.sum())} scores are NaN or infinite (first: word '{row['word']}', prompt "
            f"'{row['prompt']}'); rescore those answers or remove them."
        )
    unknown = sorted(set(table["prompt"]) - set(keys))
    if unknown and "framing" not in table.columns:
        raise UserError(
            f"{path}: prompt keys {unknown[:3]} are not in the prompt set; "
            "pass the prompts it was scored with (--prompts)."
        )
    duplicated = table.duplicated(["model", "prompt", "word"])
    if duplicated.any():
        row = table[duplicated].iloc[0]
        raise UserError(f"{path}: word '{row['word']}' is scored twice for prompt '{row['prompt']}' by one model.")
    return table.assign(score=score)


def read_scores(sources: Iterable[str | Path], prompts: Sequence[Prompt]) -> pd.DataFrame:
    """Read score files/folders into one tidy table (model, prompt, word, score), checked.

    A tidy table may carry a `framing` column; its prompts need not be in `prompts` (see
    `prompts_with_table_framing`).
    """
    keys = [p.key for p in prompts]
    tables = []
    for path in _files(Path(s) for s in sources):
        frame = _read(path)
        if set(LONG) <= set(frame.columns):
            table = frame[[*LONG, *(["framing"] if "framing" in frame.columns else [])]].copy()
        elif "response" in frame.columns:
            table = _from_wide(path, frame, keys)
        else:
            raise UserError(
                f"{path}: expected a 'response' column plus one column per prompt (the paper's layout) "
                f"or columns {', '.join(LONG)}; found {list(frame.columns)[:6]}."
            )
        tables.append(_check(path, table, keys))
    scores = pd.concat(tables, ignore_index=True)
    if scores.duplicated(["model", "prompt", "word"]).any():
        raise UserError("Two score files hold the same model; give each model's scores once.")
    return scores


def prompts_with_table_framing(scores: pd.DataFrame, prompts: Sequence[Prompt]) -> tuple[Prompt, ...]:
    """The prompt set plus prompts known only from a tidy table's `framing` column (e.g. a sweep's)."""
    known = {p.key for p in prompts}
    if "framing" not in scores.columns:
        return tuple(prompts)
    extra = scores.loc[~scores["prompt"].isin(known), ["prompt", "framing"]].drop_duplicates("prompt")
    return (*prompts, *(Prompt(r.prompt, "", str(r.framing)) for r in extra.itertuples()))


def families_from_registry(models: Iterable[str]) -> dict[str, str]:
    """Each model's base family, looked up in the RM registry by its name or file name."""
    out: dict[str, str] = {}
    for model in models:
        try:
            out[model] = registry.lookup(model).family
        except UserError:
            raise UserError(
                f"Model '{model}' is not in the RM registry; give families with --families FILE.csv "
                "(columns model,family)."
            ) from None
    return out


def _model_key(name: str) -> str:
    name = name.strip()
    return Path(name).stem if name.lower().endswith((".csv", ".parquet")) else name


def families_from_csv(path: Path, models: Iterable[str]) -> dict[str, str]:
    """Each model's family from a CSV with columns `model,family` (model = name or file stem)."""
    rows = list(csv.DictReader(io.StringIO(read_text(path, "family file", "--families"), newline="")))
    if not rows or not {"model", "family"} <= set(rows[0]):
        raise UserError(f"{path}: a family file needs columns 'model' and 'family'.")
    table = {_model_key(r["model"]): r["family"].strip().lower() for r in rows}
    out = {}
    for model in models:
        if model not in table:
            raise UserError(f"{path} gives no family for model '{model}'; add a row '{model},FAMILY'.")
        out[model] = table[model]
    return out


def assign_families(spec: str, models: Iterable[str]) -> dict[str, str]:
    """`registry` looks families up by model name; anything else is a CSV path."""
    models = list(models)
    if spec == "registry":
        return families_from_registry(models)
    return families_from_csv(Path(spec), models)
