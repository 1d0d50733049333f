"""Training objectives: supervised, COALA, CLMR, multi-task self-supervised (PASE+ workers),
generation, gradient blending, audio-visual speaker models.

Every objective is an :class:`Objective` registered in :data:`OBJECTIVES` (the contract is in
:mod:`musicrep.objectives.base`); recipes name one in their ``objective:`` section (default
``supervised``, which picks binary cross-entropy for multi-label manifests and cross-entropy for
single-label ones). A new objective module registers itself with
``@OBJECTIVES.register("name")`` and is imported below.
"""

from musicrep.objectives import av as _av  # noqa: F401  (registers)
from musicrep.objectives import coala as _coala  # noqa: F401  (registers)
from musicrep.objectives import contrastive as _contrastive  # noqa: F401  (registers)
from musicrep.objectives import generative as _generative  # noqa: F401  (registers)
from musicrep.objectives import gradient_blending as _gradient_blending  # noqa: F401
from musicrep.objectives import multitask as _multitask  # noqa: F401  (registers)
from musicrep.objectives import supervised as _supervised  # noqa: F401  (registers)
from musicrep.objectives.base import (
    OBJECTIVES,
    TASKS,
    Objective,
    View,
    build_objective,
    objective_attribute,
)
from musicrep.objectives.supervised import SupervisedMultiLabel, SupervisedSingleLabel
from musicrep.objectives.tagging import TaggingObjective
from musicrep.objectives.weighting import WEIGHTINGS, LossWeighting, create_weighting


def list_objectives() -> list[str]:
    """Names accepted in a recipe's ``objective:`` section."""
    return OBJECTIVES.names()


__all__ = [
    "OBJECTIVES",
    "TASKS",
    "Objective",
    "SupervisedMultiLabel",
    "SupervisedSingleLabel",
    "TaggingObjective",
    "View",
    "WEIGHTINGS",
    "LossWeighting",
    "create_weighting",
    "build_objective",
    "list_objectives",
    "objective_attribute",
]
