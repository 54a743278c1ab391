"""Causal interventions on the residual stream, as context managers over `Site`s (torch hooks).

>>> from interp.causal import ablate, steer, mean_ablate, leace, fit_leace  # doctest: +SKIP
"""

from interp.causal.ablation import ablate, mean_ablate
from interp.causal.hooks import active_interventions, edit_sites
from interp.causal.leace import fit_leace, leace
from interp.causal.steering import steer

__all__ = ["ablate", "active_interventions", "edit_sites", "fit_leace", "leace", "mean_ablate", "steer"]
