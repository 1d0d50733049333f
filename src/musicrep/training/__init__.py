"""Training for any objective: recipes, one LightningModule, view datasets, schedules, runs.

    >>> from musicrep.training import load_recipe, train
    >>> recipe = load_recipe("configs/musicnn.yaml")                      # doctest: +SKIP
    >>> recipe["data"]["manifest"] = "data/corpus/tags.csv"               # doctest: +SKIP
    >>> result = train(recipe, out="runs/musicnn")                        # doctest: +SKIP

The package's modules are the parts of a run:

- :mod:`~musicrep.training.config`: the recipe schema (``DataConfig``, ``TrainingConfig``,
  ``EvaluationConfig``), validation, ``--set`` overrides, defaults;
- :mod:`~musicrep.training.schedules`: the registry of learning-rate schedules (``plateau``,
  ``cosine``, ``none``, ``polynomial``, ``won2020``);
- :mod:`~musicrep.training.data`: datasets producing the named views an objective declares
  (crops, pairs of crops, clean/distorted pairs, same-track/other-track crops, whole tracks);
- :mod:`~musicrep.training.module`: :class:`MusicrepModule`, the one LightningModule;
- :mod:`~musicrep.training.callbacks`: exact resume, atomic checkpoints, the CSV log, the
  per-epoch line;
- :mod:`~musicrep.training.checkpoints`: reading checkpoints and rebuilding their model;
- :mod:`~musicrep.training.folder`: the run folder (new, resumed, restarted, overwritten);
- :mod:`~musicrep.training.task`: the manifest, task and vocabulary of a run;
- :mod:`~musicrep.training.run`: :func:`train`.

What is trained is decided by the objective (:mod:`musicrep.objectives`).
"""

from musicrep.training.checkpoints import (
    CheckpointError,
    find_checkpoint,
    load_checkpoint_model,
    open_checkpoint,
)
from musicrep.training.config import (
    DataConfig,
    EvaluationConfig,
    TrainingConfig,
    apply_overrides,
    load_recipe,
    parse_override,
    read_run_config,
    resolve_config,
)
from musicrep.training.module import MusicrepModule
from musicrep.training.run import TrainResult, train
from musicrep.training.schedules import (
    SCHEDULES,
    WON2020,
    Won2020Schedule,
    won2020_milestones,
)

__all__ = [
    "SCHEDULES",
    "WON2020",
    "CheckpointError",
    "DataConfig",
    "EvaluationConfig",
    "MusicrepModule",
    "TrainResult",
    "TrainingConfig",
    "Won2020Schedule",
    "apply_overrides",
    "find_checkpoint",
    "load_checkpoint_model",
    "load_recipe",
    "open_checkpoint",
    "parse_override",
    "read_run_config",
    "resolve_config",
    "train",
    "won2020_milestones",
]
