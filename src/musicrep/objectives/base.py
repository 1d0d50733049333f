"""The objective contract: what training optimises, independent of the encoder.

An :class:`Objective` is an ``nn.Module`` that owns its own heads/decoders (if any) and turns
``(model, batch)`` into a dict of named tensors: ``"loss"`` (the scalar that is optimised) plus
any number of other scalars (partial losses, batch metrics), all logged by
:class:`musicrep.train.MusicrepModule` as ``train/<name>`` and ``val/<name>``. An objective may
also return non-scalar tensors; the module does not log those, and uses ``"logits"``
(shape ``(batch, classes)``) when present to compute track-level validation metrics.

Objectives are registered in :data:`OBJECTIVES` and built by :func:`build_objective`, which
passes the keyword arguments from the recipe's ``objective:`` section plus, when the factory
names them as parameters, the context the trainer knows:

- ``task``: ``"multilabel"`` or ``"singlelabel"``;
- ``num_outputs``: size of the label vocabulary;
- ``embed_dim``: the encoder's embedding size (for objectives that add their own heads);
- ``model_config``: the model's ``config`` dict (for objectives whose modules mirror the model,
  e.g. COALA's decoder and variant).

Two optional hooks let an objective shape its data: :meth:`Objective.example_samples` (the
length of the training/validation examples, when it is not the encoder's native chunk) and
:meth:`Objective.prepare` (called once before training, e.g. to fit input statistics stored in
the model).
"""

from __future__ import annotations

import inspect
from typing import Any

import torch
from torch import nn

from musicrep.errors import ConfigError
from musicrep.registry import Registry

#: Task types understood by the supervised objectives and the evaluation.
TASKS = ("multilabel", "singlelabel")


class Objective(nn.Module):
    """Base class of every training objective.

    Subclasses implement :meth:`forward`. ``task`` says which label format the batches carry
    (``batch["target"]`` multi-hot ``(batch, classes)`` float for ``"multilabel"``, class indices
    ``(batch,)`` long for ``"singlelabel"``) or ``None`` for objectives that need no labels.
    """

    #: Task type this objective trains, or None (label-free objectives).
    task: str | None = None

    def forward(self, model: nn.Module, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Compute the loss for one batch.

        Parameters
        ----------
        model : nn.Module
            The model being trained (a ``musicrep.models.TaggingModel``: ``model(wave)`` gives
            logits ``(batch, classes)``, ``model.embed(wave)`` the embedding ``(batch, dim)``).
        batch : dict
            At least ``"wave"``: ``(batch, samples)`` float32 at the model's sample rate, and
            ``"target"`` for supervised objectives.

        Returns
        -------
        dict of str to Tensor
            ``"loss"`` (scalar, differentiable) plus other named scalars and optional tensors.
        """
        raise NotImplementedError

    def activation(self, logits: torch.Tensor) -> torch.Tensor:
        """Map logits ``(batch, classes)`` to probabilities (sigmoid by default)."""
        return torch.sigmoid(logits)

    def example_samples(self, model: nn.Module) -> int | None:
        """Samples per training/validation example, or None for the encoder's native chunk.

        An objective that draws its own input from longer clips (COALA picks the loudest patch
        of each 10-s clip) returns that length; the trainer then serves random crops of it for
        training and one such clip per track (from its start) for validation.
        """
        return None

    def prepare(self, model: nn.Module, batches, device=None) -> None:
        """Called once before training starts (not when resuming) with an iterable of training
        batches (dicts with ``"wave"``), e.g. to fit input statistics stored in the model.
        The default does nothing."""
        return None


OBJECTIVES: Registry[Objective] = Registry("objective")


def build_objective(
    spec: str | dict[str, Any],
    *,
    task: str | None = None,
    num_outputs: int | None = None,
    embed_dim: int | None = None,
    model_config: dict[str, Any] | None = None,
) -> Objective:
    """Build a registered objective from a recipe section.

    Parameters
    ----------
    spec : str or dict
        A registered name (``"supervised"``) or a dict ``{"name": ..., **kwargs}``.
    task, num_outputs, embed_dim, model_config
        Context passed to the factory when its signature names them.

    Raises
    ------
    ConfigError
        Unknown name (the message lists the valid ones) or options the objective does not take.
    """
    if isinstance(spec, str):
        spec = {"name": spec}
    spec = dict(spec)
    if "name" not in spec:
        raise ConfigError(
            f"objective section {spec} has no 'name'",
            f"valid names: {', '.join(OBJECTIVES.names())}",
        )
    name = spec.pop("name")
    factory = OBJECTIVES.get(name)
    context = {
        "task": task,
        "num_outputs": num_outputs,
        "embed_dim": embed_dim,
        "model_config": model_config,
    }
    params = inspect.signature(factory).parameters
    for key, value in context.items():
        if key not in spec and value is not None and key in params:
            spec[key] = value
    return OBJECTIVES.create(name, **spec)
