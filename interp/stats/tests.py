"""Family comparisons of median ranks with the unit of analysis named, plus intervals and controls.

- `panel_tests`: per (framing, category) panel, the paper's analysis. Unit: one (RM, prompt) median rank;
  Welch t-test and a label-permutation test, Bonferroni over panels, Cohen's d (pooled SD).
- `rm_tests`: the same comparison with the RM as the unit (each RM's mean of median ranks over prompts),
  Welch t-test and an exact permutation test over all relabelings of RMs; also for the interaction contrast.
- `bootstrap_cis`: percentile CIs resampling RMs (within family) and prompts (within framing).
- `word_shuffle_control`: the interaction contrast when words' category labels are shuffled.

Differences are `family_b − family_a` with families in alphabetical order (for the paper's data,
llama − gemma), so the three-way contrast has the sign of the mixed model's coefficient.
"""

from __future__ import annotations

import itertools
from math import comb

import numpy as np
import pandas as pd
from scipy import stats

from interp._util.errors import UserError
from interp.stats.bootstrap import bootstrap_weights, percentile_interval
from interp.stats.ranks import rank_cube

CELL = ["framing", "category"]


def two_families(frame: pd.DataFrame) -> tuple[str, str]:
    """The two families compared, alphabetically; `UserError` unless there are exactly two."""
    fams = sorted(frame["family"].unique())
    if len(fams) != 2:
        raise UserError(f"Family comparisons need exactly two families; the scores have {fams}.")
    return fams[0], fams[1]


def cohens_d(a: np.ndarray, b: np.ndarray) -> float:
    """(mean b − mean a) / pooled standard deviation."""
    na, nb = len(a), len(b)
    pooled = np.sqrt(((na - 1) * np.var(a, ddof=1) + (nb - 1) * np.var(b, ddof=1)) / (na + nb - 2))
    return float((b.mean() - a.mean()) / pooled) if pooled > 0 else float("nan")


def permutation_p(a: np.ndarray, b: np.ndarray, n_perm: int, rng: np.random.Generator) -> float:
    """Two-sided p of the mean difference under random relabelling ((k + 1) / (n + 1))."""
    pooled = np.concatenate([a, b])
    observed = abs(b.mean() - a.mean())
    hits, done = 0, 0
    while done < n_perm:
        chunk = min(2000, n_perm - done)
        perm = rng.permuted(np.tile(pooled, (chunk, 1)), axis=1)
        diff = perm[:, len(a) :].mean(axis=1) - perm[:, : len(a)].mean(axis=1)
        hits += int((np.abs(diff) >= observed - 1e-12).sum())
        done += chunk
    return (hits + 1) / (n_perm + 1)


def exact_permutation_p(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sided p over every way to split the pooled values into groups of len(a) and len(b)."""
    pooled = np.concatenate([a, b])
    observed = abs(b.mean() - a.mean())
    idx = np.arange(len(pooled))
    diffs = []
    for chosen in itertools.combinations(idx, len(a)):
        mask = np.zeros(len(pooled), bool)
        mask[list(chosen)] = True
        diffs.append(pooled[~mask].mean() - pooled[mask].mean())
    return float(np.mean(np.abs(diffs) >= observed - 1e-12))


def _compare(a: np.ndarray, b: np.ndarray) -> dict[str, float]:
    welch = stats.ttest_ind(b, a, equal_var=False) if min(len(a), len(b)) >= 2 else None
    return {
        "n_a": len(a),
        "n_b": len(b),
        "mean_a": float(a.mean()),
        "mean_b": float(b.mean()),
        "difference": float(b.mean() - a.mean()),
        "t": float(welch.statistic) if welch else float("nan"),
        "df": float(welch.df) if welch else float("nan"),
        "p_welch": float(welch.pvalue) if welch else float("nan"),
        "cohens_d": cohens_d(a, b) if min(len(a), len(b)) >= 2 else float("nan"),
    }


def _bonferroni(table: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    for col in columns:
        table[f"{col}_bonferroni"] = np.minimum(table[col] * len(table), 1.0)
    return table


def panel_tests(medians: pd.DataFrame, n_perm: int = 10_000, seed: int = 0) -> pd.DataFrame:
    """Per panel: family b vs a over (RM, prompt) median ranks; Welch, permutation, Bonferroni, Cohen's d."""
    fa, fb = two_families(medians)
    rng = np.random.default_rng(seed)
    rows = []
    for (framing, category), cell in medians.groupby(CELL):
        a = cell.loc[cell["family"] == fa, "median_rank"].to_numpy(float)
        b = cell.loc[cell["family"] == fb, "median_rank"].to_numpy(float)
        row = {"framing": framing, "category": category, "family_a": fa, "family_b": fb, **_compare(a, b)}
        row["p_permutation"] = permutation_p(a, b, n_perm, rng)
        rows.append(row)
    table = _bonferroni(pd.DataFrame(rows), ["p_welch", "p_permutation"])
    return table.assign(unit="RM x prompt median rank", n_permutations=n_perm)


def rm_means(medians: pd.DataFrame) -> pd.DataFrame:
    """Each RM's mean of median ranks over prompts, per (framing, category): the RM-level data."""
    return (
        medians.groupby(["model", "family", "framing", "category"])["median_rank"]
        .mean()
        .rename("mean_median_rank")
        .reset_index()
    )


def _rm_contrasts(rm: pd.DataFrame) -> pd.DataFrame:
    """Per RM: category − reference category gap, and (if two framings) its change across framings."""
    wide = rm.pivot_table(index=["model", "family"], columns=["framing", "category"], values="mean_median_rank")
    framings = sorted(rm["framing"].unique())
    cats = sorted(rm["category"].unique())
    out = {}
    for cat in cats[1:]:
        gaps = {g: wide[(g, cat)] - wide[(g, cats[0])] for g in framings}
        for g in framings:
            out[(g, f"{cat} − {cats[0]}")] = gaps[g]
        if len(framings) == 2:
            out[(f"{framings[1]} − {framings[0]}", f"{cat} − {cats[0]}")] = gaps[framings[1]] - gaps[framings[0]]
    table = pd.DataFrame(out)
    table.columns.names = CELL
    return table.stack(CELL, future_stack=True).rename("mean_median_rank").reset_index()


def rm_tests(rm: pd.DataFrame) -> pd.DataFrame:
    """Family b vs a with RMs as units: per panel, and for each RM-level contrast (gap, interaction)."""
    fa, fb = two_families(rm)
    rows = []
    for kind, data in (("panel", rm), ("contrast", _rm_contrasts(rm))):
        for (framing, category), cell in data.groupby(CELL):
            a = cell.loc[cell["family"] == fa, "mean_median_rank"].to_numpy(float)
            b = cell.loc[cell["family"] == fb, "mean_median_rank"].to_numpy(float)
            row = {"kind": kind, "framing": framing, "category": category, "family_a": fa, "family_b": fb}
            row.update(_compare(a, b))
            row["p_exact_permutation"] = (
                exact_permutation_p(a, b) if comb(len(a) + len(b), len(a)) <= 50_000 else float("nan")
            )
            rows.append(row)
    table = pd.DataFrame(rows)
    parts = [_bonferroni(part.copy(), ["p_welch", "p_exact_permutation"]) for _, part in table.groupby("kind")]
    return pd.concat(parts, ignore_index=True).assign(unit="RM (mean of median ranks over prompts)")


def _cube(medians: pd.DataFrame) -> tuple[np.ndarray, list[str], list[str], list[str]]:
    models = sorted(medians["model"].unique())
    prompts = sorted(medians["prompt"].unique())
    cats = sorted(medians["category"].unique())
    wide = medians.pivot_table(index=["model", "prompt"], columns="category", values="median_rank")
    wide = wide.reindex(pd.MultiIndex.from_product([models, prompts]))[cats]
    if wide.isna().any().any():
        raise UserError("Every RM must be scored on every prompt for every category to resample them.")
    return wide.to_numpy().reshape(len(models), len(prompts), len(cats)), models, prompts, cats


def _contrasts(means: np.ndarray) -> dict[str, np.ndarray]:
    """From cell means [..., family(2), framing, category]: family differences and interactions."""
    diff = means[..., 1, :, :] - means[..., 0, :, :]
    out = {"difference": diff, "interaction": diff[..., 1:] - diff[..., :1]}
    if means.shape[-2] == 2:
        out["three_way"] = out["interaction"][..., 1, :] - out["interaction"][..., 0, :]
    return out


def bootstrap_cis(medians: pd.DataFrame, n_boot: int = 2000, seed: int = 0, level: float = 0.95) -> pd.DataFrame:
    """Percentile CIs of cell means, family differences and interaction contrasts.

    Each replicate resamples RMs with replacement within each family and prompts with replacement within
    each framing (the same prompts for every RM), so both RMs and prompts count as sampled units.
    """
    cube, models, prompts, cats = _cube(medians)
    fams = sorted(medians["family"].unique())
    frs = sorted(medians["framing"].unique())
    model_family = medians.drop_duplicates("model").set_index("model")["family"].loc[models].to_numpy()
    prompt_framing = medians.drop_duplicates("prompt").set_index("prompt")["framing"].loc[prompts].to_numpy()
    rng = np.random.default_rng(seed)
    # row 0 of each weight matrix is the data itself (every unit once), rows 1.. the replicates
    wm = np.vstack([np.ones(len(models)), bootstrap_weights(models, n_boot, rng, within=model_family)])
    wp = np.vstack([np.ones(len(prompts)), bootstrap_weights(prompts, n_boot, rng, within=prompt_framing)])
    in_family = (model_family[None, :] == np.array(fams)[:, None]).astype(float)
    in_framing = (prompt_framing[None, :] == np.array(frs)[:, None]).astype(float)
    total = np.einsum("bm,fm,mpk,bp,gp->bfgk", wm, in_family, cube, wp, in_framing, optimize=True)
    count = np.einsum("bm,fm->bf", wm, in_family)[:, :, None] * np.einsum("bp,gp->bg", wp, in_framing)[:, None, :]
    means = total / count[..., None]
    point, boots = means[0], means[1:]
    rows = []

    def add(quantity: str, family: str, framing: str, category: str, est: float, sample: np.ndarray) -> None:
        low, high = percentile_interval(sample, level)
        rows.append((quantity, family, framing, category, est, low, high))

    for f, fam in enumerate(fams):
        for g, fr in enumerate(frs):
            for k, cat in enumerate(cats):
                add("mean", fam, fr, cat, point[f, g, k], boots[:, f, g, k])
    if len(fams) == 2:
        label = f"{fams[1]} − {fams[0]}"
        pc, bc = _contrasts(point), _contrasts(boots)
        for g, fr in enumerate(frs):
            for k, cat in enumerate(cats):
                add("difference", label, fr, cat, pc["difference"][g, k], bc["difference"][:, g, k])
            for k, cat in enumerate(cats[1:]):
                gap = f"{cat} − {cats[0]}"
                add("interaction", label, fr, gap, pc["interaction"][g, k], bc["interaction"][:, g, k])
        for k, cat in enumerate(cats[1:]):
            if "three_way" in pc:
                add(
                    "three_way",
                    label,
                    f"{frs[1]} − {frs[0]}",
                    f"{cat} − {cats[0]}",
                    pc["three_way"][k],
                    bc["three_way"][:, k],
                )
    cols = ["quantity", "family", "framing", "category", "estimate", "ci_low", "ci_high"]
    return pd.DataFrame(rows, columns=cols).assign(
        level=level, n_boot=n_boot, unit="RMs resampled within family, prompts within framing"
    )


def word_shuffle_control(words: pd.DataFrame, n_shuffle: int = 1000, seed: int = 0) -> dict[str, float | str]:
    """Is the family × category (× framing) contrast larger than for random word-to-category labels?

    Shuffles which words belong to which category (category sizes kept), recomputes median ranks and
    the contrast's norm. Unit: words. p = (k + 1) / (n + 1).
    """
    fa, fb = two_families(words)
    ranks, models, prompts, vocab = rank_cube(words)
    unique = words.drop_duplicates(["model", "prompt", "word"])
    cats = sorted(words["category"].unique())
    member = pd.crosstab(words["word"], words["category"]).reindex(index=vocab, columns=cats).to_numpy() > 0
    fam_of = unique.drop_duplicates("model").set_index("model")["family"]
    fr_of = unique.drop_duplicates("prompt").set_index("prompt")["framing"]
    fams, frs = [fa, fb], sorted(unique["framing"].unique())
    m_idx = [np.array([fam_of[m] == f for m in models]) for f in fams]
    p_idx = [np.array([fr_of[p] == g for p in prompts]) for g in frs]

    def statistic(membership: np.ndarray) -> float:
        med = np.stack([np.median(ranks[:, :, membership[:, k]], axis=2) for k in range(len(cats))], axis=-1)
        means = np.array([[med[m][:, p].mean(axis=(0, 1)) for p in p_idx] for m in m_idx])
        contrasts = _contrasts(means)
        key = "three_way" if "three_way" in contrasts else "interaction"
        return float(np.linalg.norm(contrasts[key]))

    observed = statistic(member)
    rng = np.random.default_rng(seed)
    null = np.array([statistic(member[rng.permutation(len(member))]) for _ in range(n_shuffle)])
    return {
        "statistic": "norm of the family x category (x framing) contrast of mean median ranks",
        "unit": "words (category labels shuffled across words)",
        "observed": observed,
        "null_mean": float(null.mean()),
        "null_q95": float(np.quantile(null, 0.95)),
        "p": float((np.sum(null >= observed - 1e-12) + 1) / (n_shuffle + 1)),
        "n_shuffle": n_shuffle,
    }
