"""Direct linear attribution of reward scores along the score head, through the final norm.

At the readout token the residual entering the final norm is a sum: x = embed + Σ_L (attn_L + mlp_L), each
branch being exactly what decoder layer L adds to the stream (Llama/Qwen: the `self_attn` and `mlp`
outputs; Gemma 2/3: the outputs of `post_attention_layernorm` and `post_feedforward_layernorm`). With the
final RMSNorm's scale frozen at its value on x, the score is linear in x, so each component gets
`head · (g ⊙ c) / rms(x)` (g the norm's gain: `weight`, or `1 + weight` for Gemma; rms(x) =
sqrt(mean(x²) + eps)), plus the head's bias as a row of its own. The rows of a pair sum to its score.

>>> import tempfile
>>> from interp.models import rm_from_base
>>> from interp.score import reward_scores
>>> from interp.models.tiny import build_tiny
>>> rm = rm_from_base(str(build_tiny("llama", tempfile.mkdtemp())))
>>> table = component_attribution(rm, [("Best thing?", "Love")])
>>> table["component"].tolist()[:4]
['embed', 'attn0', 'mlp0', 'attn1']
>>> abs(float(table["contribution"].sum()) - float(reward_scores(rm, [("Best thing?", "Love")])[0])) < 1e-5
True
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd
import torch
from torch.utils.hooks import RemovableHandle

from interp._util.errors import UserError
from interp.hooks.backend_torch import layer_input, layer_output
from interp.models import ModelHandle
from interp.render import Encoded, PaddingSide, encode_pairs
from interp.score import readout_hidden, score_encoded


def branch_modules(layer: Any) -> tuple[torch.nn.Module, torch.nn.Module]:
    """The modules whose outputs a decoder layer adds to the residual stream: (attention branch, MLP branch)."""
    if hasattr(layer, "post_feedforward_layernorm"):  # Gemma 2/3 sandwich norms: the post norms' outputs are added
        return layer.post_attention_layernorm, layer.post_feedforward_layernorm
    if hasattr(layer, "self_attn") and hasattr(layer, "mlp"):  # Llama/Qwen: post_attention_layernorm is pre-MLP
        return layer.self_attn, layer.mlp
    raise UserError(
        f"Cannot find the attention and MLP branches of {type(layer).__name__}; attribution needs a "
        "Llama-, Qwen- or Gemma-style decoder layer."
    )


def norm_gain(norm: torch.nn.Module) -> tuple[torch.Tensor, float]:
    """The final norm's gain g (fp32) and eps, such that norm(x) = g ⊙ x / sqrt(mean(x²) + eps).

    The convention (`weight` as in Llama, or `1 + weight` as in Gemma) is read off the module's output on a
    probe vector, so any other norm (LayerNorm, a bias) is refused instead of attributed wrongly.
    """
    eps = getattr(norm, "variance_epsilon", getattr(norm, "eps", None))
    weight = getattr(norm, "weight", None)
    if eps is None or not isinstance(weight, torch.Tensor):
        raise UserError(f"The final norm {type(norm).__name__} has no RMSNorm weight and eps to attribute through.")
    w = weight.detach().float()
    probe = torch.linspace(-1.0, 2.0, w.numel(), device=w.device)
    with torch.no_grad():
        out = norm(probe.to(weight.dtype)).float()
    unit = probe / torch.sqrt(probe.pow(2).mean() + eps)
    gains = (w, 1.0 + w)
    errors = [float((out - g * unit).abs().max()) for g in gains]
    best = min(range(2), key=errors.__getitem__)
    if errors[best] <= 1e-2 * float(out.abs().max()):
        return gains[best], float(eps)
    raise UserError(f"The final norm {type(norm).__name__} is not an RMSNorm (weight or 1 + weight); cannot attribute.")


def component_names(n_layers: int) -> list[str]:
    """Components in residual-stream order: `embed`, then `attn{L}`, `mlp{L}` for each layer."""
    return ["embed", *(f"{kind}{layer}" for layer in range(n_layers) for kind in ("attn", "mlp"))]


def _batch_components(rm: ModelHandle, enc: Encoded) -> tuple[torch.Tensor, torch.Tensor]:
    """Readout components (batch, n_components, d) and the final norm's input x (batch, d), both fp64 on the CPU."""
    readout = enc.readout.to(rm.model.device)
    parts: dict[int, torch.Tensor] = {}
    seen: dict[str, torch.Tensor] = {}

    def keep(slot: int) -> Any:
        def hook(module: torch.nn.Module, args: tuple[Any, ...], output: Any) -> None:
            parts[slot] = readout_hidden(layer_output(output).detach(), readout)

        return hook

    def embed(module: torch.nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        parts[0] = readout_hidden(layer_input(args, kwargs).detach(), readout)

    def final(module: torch.nn.Module, args: tuple[Any, ...]) -> None:
        seen["x"] = readout_hidden(args[0].detach(), readout)

    handles: list[RemovableHandle] = [
        rm.layers[0].register_forward_pre_hook(embed, with_kwargs=True),
        rm.body.norm.register_forward_pre_hook(final),
    ]
    try:
        for layer, module in enumerate(rm.layers):
            attn, mlp = branch_modules(module)
            handles.append(attn.register_forward_hook(keep(1 + 2 * layer)))
            handles.append(mlp.register_forward_hook(keep(2 + 2 * layer)))
        score_encoded(rm, enc)
    finally:
        for h in handles:
            h.remove()
    comps = torch.stack([parts[i].cpu().double() for i in range(1 + 2 * rm.n_layers)], dim=1)
    return comps, seen["x"].cpu().double()


def _check_sum(comps: torch.Tensor, x: torch.Tensor, dtype: torch.dtype) -> None:
    """Refuse when the captured branches do not add up to the residual (an architecture read wrongly)."""
    tol = 1e-4 if dtype == torch.float32 else 5e-2
    err = float(((comps.sum(1) - x).norm(dim=-1) / x.norm(dim=-1).clamp_min(1e-12)).max())
    if err > tol:
        raise UserError(
            f"The embedding and the attention and MLP branches do not add up to the final residual (relative error "
            f"{err:.1e}); this decoder layer adds something else to the stream, so it cannot be attributed."
        )


def component_attribution(
    rm: ModelHandle,
    pairs: Sequence[tuple[str, str]],
    batch_size: int = 16,
    padding_side: PaddingSide = "right",
) -> pd.DataFrame:
    """Each component's direct contribution to each pair's reward (long format, residual-stream order).

    Columns: pair (index into `pairs`), prompt, answer, component (`embed`, `attn{L}`, `mlp{L}`, and `bias`
    when the head has one), contribution. A pair's contributions sum to its score (fp32: to ~1e-6).
    """
    if rm.kind != "rm" or not hasattr(rm.model, "score"):
        raise UserError(f"'{rm.name}' has no scalar score head; load it with load_rm to attribute rewards.")
    if batch_size < 1:
        raise UserError(f"The batch size must be at least 1, not {batch_size}.")
    if not pairs:
        raise UserError("No pairs to attribute; give at least one (prompt, answer) pair.")
    gain, eps = norm_gain(rm.body.norm)
    direction = rm.head.weight[0].detach().double().cpu() * gain.double().cpu()  # head · (g ⊙ ·)
    bias = rm.head.bias
    names = component_names(rm.n_layers) + (["bias"] if bias is not None else [])
    chunks = []
    with torch.no_grad():
        for i in range(0, len(pairs), batch_size):
            comps, x = _batch_components(rm, encode_pairs(rm.tokenizer, pairs[i : i + batch_size], padding_side))
            _check_sum(comps, x, next(rm.body.parameters()).dtype)
            rms = torch.sqrt(x.pow(2).mean(-1, keepdim=True) + eps)
            contrib = (comps @ direction) / rms
            if bias is not None:
                contrib = torch.cat([contrib, torch.full((len(x), 1), float(bias[0]), dtype=torch.float64)], dim=1)
            chunks.append(contrib)
    values = torch.cat(chunks).numpy()
    return pd.DataFrame(
        {
            "pair": [i for i in range(len(pairs)) for _ in names],
            "prompt": [p for p, _ in pairs for _ in names],
            "answer": [a for _, a in pairs for _ in names],
            "component": names * len(pairs),
            "contribution": values.reshape(-1),
        }
    )


def gap_attribution(table: pd.DataFrame, treated: Sequence[str], reference: Sequence[str]) -> pd.DataFrame:
    """The reward gap (mean over `treated` answers minus mean over `reference` answers) split by component.

    Columns: component, treated, reference, gap, cumulative (the gap built up along the residual stream, so the
    layer where it forms is where `cumulative` moves); the `gap` column sums to the gap of mean scores.

    >>> t = pd.DataFrame({"answer": ["a", "a", "b", "b"], "component": ["embed", "mlp0"] * 2,
    ...                   "contribution": [1.0, 2.0, 0.5, -1.0]})
    >>> gap_attribution(t, ["a"], ["b"])[["component", "gap", "cumulative"]].values.tolist()
    [['embed', 0.5, 0.5], ['mlp0', 3.0, 3.5]]
    """
    means = {}
    for label, words in (("treated", treated), ("reference", reference)):
        rows = table[table["answer"].isin(list(words))]
        if rows.empty:
            raise UserError(f"No rows of the attribution table have a {label} answer; check the answer words.")
        means[label] = rows.groupby("component", sort=False)["contribution"].mean()
    out = pd.DataFrame({"treated": means["treated"], "reference": means["reference"]})
    out = out.reindex(table["component"].drop_duplicates()).reset_index(names="component")
    out["gap"] = out["treated"] - out["reference"]
    out["cumulative"] = out["gap"].cumsum()
    return out
