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
- ``embed_dim``: the encoder's embedding size (for objectives that add their own heads).
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


OBJECTIVES: Registry[Objective] = Registry("objective")


def build_objective(
    spec: str | dict[str, Any],
    *,
    task: str | None = None,
    num_outputs: int | None = None,
    embed_dim: int | None = None,
) -> Objective:
    """Build a registered objective from a recipe section.

    Parameters
    ----------
    spec : str or dict
        A registered name (``"supervised"``) or a dict ``{"name": ..., **kwargs}``.
    task, num_outputs, embed_dim
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
    context = {"task": task, "num_outputs": num_outputs, "embed_dim": embed_dim}
    params = inspect.signature(factory).parameters
    for key, value in context.items():
        if key not in spec and value is not None and key in params:
            spec[key] = value
    return OBJECTIVES.create(name, **spec)
