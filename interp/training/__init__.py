"""RM training from a base LM: preference data, neutrality check, head fitted on frozen features then
Bradley–Terry fine-tuning of the top layers on cached inputs, planted bias.

Names import their module on first use (`interp._util.lazy`), so importing the package stays light.

>>> from interp.training import neutral_pairs, neutrality_report
>>> neutrality_report(neutral_pairs(70)).passed
True
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from interp._util.lazy import lazy_exports

if TYPE_CHECKING:
    from interp.training.bradley_terry import TrainResult, evaluate_pairs, pair_scores, train_rm
    from interp.training.checkpoints import (
        body_fingerprint,
        check_conformance,
        check_trained_from,
        checkpoint_lineage,
        folders_lineage,
        list_checkpoints,
        load_checkpoint,
        read_meta,
        rm_folders,
    )
    from interp.training.config import HEAD_INITS, TrainConfig
    from interp.training.neutral import DEFAULT_FAMILIES, FAMILIES, iter_neutral, neutral_pair, neutral_pairs
    from interp.training.neutrality import (
        NeutralityOptions,
        NeutralityReport,
        check_neutral,
        neutrality_report,
        training_pairs,
    )
    from interp.training.plant import PlantCheck, PlantConfig, first_token_logprobs, plant_bias, plant_check
    from interp.training.prefdata import (
        PreferencePair,
        load_hub_pairs,
        load_pairs,
        pairs_from_records,
        read_pairs,
        subsample,
        write_pairs,
    )
    from interp.training.projection import Projector, base_projector

__all__ = [
    "DEFAULT_FAMILIES",
    "FAMILIES",
    "HEAD_INITS",
    "NeutralityOptions",
    "NeutralityReport",
    "PlantCheck",
    "PlantConfig",
    "PreferencePair",
    "Projector",
    "TrainConfig",
    "TrainResult",
    "base_projector",
    "body_fingerprint",
    "check_conformance",
    "check_neutral",
    "check_trained_from",
    "checkpoint_lineage",
    "evaluate_pairs",
    "first_token_logprobs",
    "folders_lineage",
    "iter_neutral",
    "list_checkpoints",
    "load_checkpoint",
    "load_hub_pairs",
    "load_pairs",
    "neutral_pair",
    "neutral_pairs",
    "neutrality_report",
    "pair_scores",
    "pairs_from_records",
    "plant_bias",
    "plant_check",
    "read_meta",
    "read_pairs",
    "rm_folders",
    "subsample",
    "train_rm",
    "training_pairs",
    "write_pairs",
]

__getattr__, __dir__ = lazy_exports(__name__)
