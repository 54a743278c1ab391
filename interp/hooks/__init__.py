"""Residual-stream access: sites, and capture through torch hooks, nnsight or TransformerLens.

>>> from interp.hooks import Site
>>> Site(0).name
'L0.resid_post.readout'
"""

from interp.hooks.active import active_interventions
from interp.hooks.backend import BACKENDS, BackendName
from interp.hooks.capture import capture, capture_batch, scores_with
from interp.hooks.site import Point, Position, Site, check_sites, parse_layers

__all__ = [
    "BACKENDS",
    "BackendName",
    "Point",
    "Position",
    "Site",
    "active_interventions",
    "capture",
    "capture_batch",
    "check_sites",
    "parse_layers",
    "scores_with",
]
