"""The paper's mixed model: median_rank ~ family * category * framing, random intercept per RM.

Unit of observation: one (RM, prompt, category) median rank. Treatment coding with the alphabetically
first level of each factor as reference (family gemma, category agency, framing negative for the paper's
data). Factors with one level are left out. The highest-order interaction (three-way, when all three
factors vary) is tested jointly with a Wald χ² over its coefficients (an F-test in the OLS fallback): with
two categories that is one coefficient and the test equals its z-test (t-test).

For the word-frequency covariate, fit this model to medians of ranks of frequency-residualised scores
(`interp.stats.frequency.residualise_on_frequency`): a category-level covariate would be collinear with
category, so frequency enters at the word level.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import statsmodels.formula.api as smf
from scipy import stats

from interp._util.errors import UserError

FACTORS = ("family", "category", "framing")


@dataclass(frozen=True)
class MixedResult:
    """Fixed-effect table, the highest-order interaction's test, and how the model was fitted."""

    formula: str
    method: str
    table: pd.DataFrame
    interaction: dict[str, Any]
    n_obs: int
    n_groups: int
    group_var: float | None
    notes: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: `coef`, `se`, `p` of the interaction at top level, then the full table."""
        return {
            "coef": self.interaction["coef"],
            "se": self.interaction["se"],
            "p": self.interaction["p"],
            "interaction": self.interaction,
            "formula": self.formula,
            "method": self.method,
            "unit": "one median rank per (RM, prompt, category); random intercept per RM",
            "n_obs": self.n_obs,
            "n_groups": self.n_groups,
            "group_var": self.group_var,
            "notes": list(self.notes),
            "table": self.table.to_dict(orient="records"),
        }


def _formula(data: pd.DataFrame, value: str) -> tuple[str, list[str]]:
    factors = [f for f in FACTORS if data[f].nunique() > 1]
    if not factors:
        raise UserError("The scores vary in no factor (one family, one category, one framing); nothing to model.")
    rhs = " * ".join(f"C({f})" for f in factors)
    return f"{value} ~ {rhs}", factors


def _interaction(params: pd.Series, cov: pd.DataFrame, factors: list[str], df_resid: float | None) -> dict[str, Any]:
    terms = [t for t in params.index if t.count(":") == len(factors) - 1 and all(f"C({f})" in t for f in factors)]
    b = params[terms].to_numpy()
    v = cov.loc[terms, terms].to_numpy()
    chi2 = float(b @ np.linalg.solve(v, b))
    out: dict[str, Any] = {
        "name": " × ".join(factors),
        "terms": terms,
        "chi2": chi2,
        "df": len(terms),
        "p": float(
            stats.chi2.sf(chi2, len(terms)) if df_resid is None else stats.f.sf(chi2 / len(terms), len(terms), df_resid)
        ),
        "test": f"Wald χ²({len(terms)})={chi2:.2f}"
        if df_resid is None
        else f"F({len(terms)}, {df_resid:g})={chi2 / len(terms):.2f}",
        "coef": None,
        "se": None,
    }
    if len(terms) == 1:
        out["coef"] = float(b[0])
        out["se"] = float(np.sqrt(v[0, 0]))
    return out


def fit_mixed(medians: pd.DataFrame, value: str = "median_rank") -> MixedResult:
    """Fit the model to a medians table (columns model, family, category, framing and `value`).

    Falls back to OLS (no random intercept) when some family has fewer than two RMs, since the RM intercept
    and the family effect cannot then be told apart.

    Six RMs, the three of family `b` 5 ranks higher on category `c2` under framing `pos`:

    >>> effect = lambda m, c, fr: 5.0 * (m >= 3) * (c == "c2") * (fr == "pos")
    >>> rows = [
    ...     (f"m{m}", "ab"[m // 3], f"p{p}", c, fr, 50 + effect(m, c, fr) + (7 * m + 3 * p) % 5)
    ...     for m in range(6) for p in range(4) for c in ("c1", "c2") for fr in ("neg", "pos")
    ... ]
    >>> medians = pd.DataFrame(rows, columns=["model", "family", "prompt", "category", "framing", "median_rank"])
    >>> inter = fit_mixed(medians).interaction
    >>> inter["test"], round(inter["coef"], 6), inter["p"] < 1e-4
    ('Wald χ²(1)=16.58', 5.0, True)
    """
    formula, factors = _formula(medians, value)
    per_family = medians.groupby("family")["model"].nunique()
    notes: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if per_family.min() >= 2:
            model = smf.mixedlm(formula, medians, groups=medians["model"])
            # Powell first: the default gradient optimisers crawl when the RM variance is near zero.
            result = model.fit(reml=True, method=["powell", "bfgs", "lbfgs"])
            method, group_var = "MixedLM (REML), random intercept per RM", float(result.cov_re.iloc[0, 0])
            df_resid = None
            params, cov = result.fe_params, result.cov_params().loc[result.fe_params.index, result.fe_params.index]
        else:
            result = smf.ols(formula, medians).fit()
            method, group_var = "OLS (some family has a single RM: no random intercept)", None
            df_resid = float(result.df_resid)
            params, cov = result.params, result.cov_params()
    notes += sorted({f"{w.category.__name__}: {w.message}" for w in caught})
    se = np.sqrt(np.diag(cov.to_numpy()))
    z = params.to_numpy() / se
    table = pd.DataFrame(
        {
            "term": params.index,
            "coef": params.to_numpy(),
            "se": se,
            "z": z,
            "p": 2 * (stats.norm.sf(np.abs(z)) if df_resid is None else stats.t.sf(np.abs(z), df_resid)),
            "ci_low": params.to_numpy() - 1.959964 * se,
            "ci_high": params.to_numpy() + 1.959964 * se,
        }
    )
    return MixedResult(
        formula=formula + (" + (1 | model)" if group_var is not None else ""),
        method=method,
        table=table,
        interaction=_interaction(params, cov, factors, df_resid),
        n_obs=len(medians),
        n_groups=int(medians["model"].nunique()),
        group_var=group_var,
        notes=tuple(notes),
    )
