"""The objective contract: what training optimises, for any encoder.

An :class:`Objective` is an ``nn.Module`` built with the :class:`~musicrep.models.Encoder` it
trains plus the context the trainer knows, and it owns everything objective-specific:

- **its modules**: heads, decoders, projections, tag encoders... (the encoder stays outside it,
  so the same encoder serves every objective; the objective keeps no reference to it);
- **the loss**: ``forward(encoder, batch)`` returns a dict of named tensors: ``"loss"`` (the
  scalar that is optimised) plus any other scalars (partial losses, batch metrics), which the
  trainer logs as ``train/<name>`` and ``val/<name>``; non-scalar entries are not logged;
- **its data**, as named *views* (:class:`View`): which inputs a batch must carry and how each
  is made (:attr:`Objective.views` for training, :attr:`Objective.valid_views` for validation),
  each with an optional transform applied on the device; whether labels are needed
  (:attr:`Objective.needs_labels`; batches then carry ``"target"``); the length of the
  examples (:meth:`Objective.example_samples`);
- **its optimisation**: parameter groups with their own learning rates
  (:meth:`Objective.param_groups`), extra Lightning callbacks (:meth:`Objective.callbacks`: loss
  weighting, gradient blending...) and epoch hooks (:meth:`Objective.on_train_epoch_start`,
  :meth:`Objective.on_train_epoch_end`), the metric that selects the best checkpoint
  (:attr:`Objective.monitor`), a one-off preparation before training
  (:meth:`Objective.prepare`, e.g. fitting input statistics);
- **the end of a run**: the final evaluation on the test split (:meth:`Objective.evaluate`) and
  what is exported (:meth:`Objective.export_model`: a model with a head and labels, the encoder
  alone as an embedding model, or the objective's own network).

Objectives are registered in :data:`OBJECTIVES` and built by :func:`build_objective`, which
passes the keyword arguments of the recipe's ``objective:`` section plus, when the factory names
them as parameters, the context:

- ``encoder``: the :class:`~musicrep.models.Encoder` being trained (None when the recipe has no
  ``model:`` section and the objective builds its own network, :attr:`requires_encoder` False);
- ``task``: ``"multilabel"``, ``"singlelabel"`` or None (no labels);
- ``vocab`` / ``num_outputs``: the label vocabulary and its size;
- ``embed_dim``: the encoder's embedding size;
- ``model_config``: the recipe's resolved ``model:`` section: the encoder's config
  (``name``, ``frontend``, ``frontend_kwargs``, ``backend_kwargs``, ``input_samples``) plus the
  options the objective reads from it (:attr:`Objective.model_options`, e.g. the head's
  ``dropout`` and ``head_hidden``, COALA's ``variant``).

Later objectives extend the same contract: a multi-branch encoder exposes its branch
embeddings and the objective owns joint and per-branch heads; an audio-visual objective declares
an audio view and a frames view (a custom view kind, see :data:`VIEW_KINDS` in
:mod:`musicrep.training.data`); a generative model sets :attr:`requires_encoder` to False,
builds its whole network, and exports it with its own ``export_kind`` (see
:mod:`musicrep.io`). Each registered objective provides :meth:`Objective.example_config`, a tiny
configuration the contract test (``tests/test_objectives_contract.py``) trains, exports and
reloads.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from musicrep.errors import ConfigError
from musicrep.registry import Registry

#: Task types understood by the supervised objectives and the evaluation.
TASKS = ("multilabel", "singlelabel")

#: How a view's waveform is made (see :class:`View`); :mod:`musicrep.training.data` implements
#: them and can register more.
VIEW_KINDS = ("crop", "same", "other", "track", "frames")


@dataclass(frozen=True, eq=False)
class View:
    """One named input of a batch, and how the dataset makes it.

    Parameters
    ----------
    name : str
        Key of the tensor in the batch (``"wave"``, ``"view_a"``, ``"clean"``, ``"context"``...).
    kind : str
        - ``"crop"``: a random crop of the clip (independent of the other crop views; the first
          crop view of a batch uses the crop of :class:`~musicrep.data.CropDataset`);
        - ``"same"``: the waveform of the view named ``source`` (e.g. a distorted input of the
          clean target's crop), before that view's transform;
        - ``"other"``: a random crop of another clip of the split (a negative);
        - ``"track"``: the whole track as ``chunks`` equally spaced chunks,
          ``(chunks, samples)`` per item (the batch also carries ``"ok"``: whether the track
          could be decoded);
        - ``"frames"``: the face frames (the manifest's ``video`` column) that show the audio
          of the view named ``source`` (a crop or a track view), ``(time, 3, H, W)`` floats in
          [0, 1] per crop (``(chunks, time, 3, H, W)`` for a track), plus
          ``"<name>_mask"`` (False for frames past the end of the video); ``options``:
          ``size`` (square side, default 48), ``fps`` (frames per second sampled, default
          25), ``num_frames`` (that many frames spread over the window instead of every
          ``1/fps``), ``column`` (default ``video``), ``source_fps`` (rate of ``.npy`` arrays
          and image folders without ``fps.txt``, default 25).
        Extra kinds can be registered in :data:`musicrep.training.data.VIEW_MAKERS`.
    source : str, optional
        For ``kind="same"``: the view whose crop is reused.
    transform : callable, optional
        Applied by the trainer on the device to the batched view ``(batch, samples)`` (or
        ``(batch, chunks, samples)``) before the objective sees it, e.g. a
        :mod:`musicrep.augment` chain. Random transforms draw from torch's global generator
        (saved in checkpoints, so resumed runs continue identically); validation batches are
        transformed under a fixed seed. Make a transform with parameters or state a submodule
        of the objective so that it moves to the device with it.
    samples : int, optional
        Samples per crop; default the objective's example length (:meth:`example_samples`,
        else the encoder's ``input_samples``).
    chunks : int, optional
        For ``kind="track"``: chunks per track; default the recipe's ``data.valid_chunks``.
    options : dict, optional
        Options of the view kind (``"frames"``: see above).
    """

    name: str
    kind: str = "crop"
    source: str | None = None
    transform: Callable[[torch.Tensor], torch.Tensor] | None = None
    samples: int | None = None
    chunks: int | None = None
    options: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        if self.kind in ("same", "frames") and not self.source:
            raise ConfigError(f"view {self.name!r} of kind {self.kind!r} needs a source view")
        if self.name in ("target", "index", "ok"):
            raise ConfigError(f"view name {self.name!r} is reserved")


class Objective(nn.Module):
    """Base class of every training objective (see the module docstring for the contract).

    Class attributes a subclass may override:

    Attributes
    ----------
    needs_labels : bool
        Whether batches must carry ``"target"`` (multi-hot ``(batch, classes)`` float for
        ``"multilabel"``, class indices ``(batch,)`` long for ``"singlelabel"``). Label-free
        objectives train on manifests without labels.
    task : str or None
        The task this objective trains (None: label-free).
    requires_encoder : bool
        False for objectives that build their whole network (no ``model:`` section).
    provides_data : bool
        True for objectives that make their own training data (:meth:`make_dataset`, e.g.
        the generation objectives rendering the built-in corpus); ``data.manifest`` is then
        not needed and the final evaluation's ``data`` has no manifest.
    open_set_labels : bool
        True for open-set objectives (speaker verification): the label vocabulary (the
        classifier's classes) is built from the training split only, so the unseen speakers of
        the test split are never classes, and test rows need no label known to training.
    model_options : tuple of str
        Keys of the recipe's ``model:`` section the objective reads (beside the encoder's and
        ``num_outputs``, which every objective accepts and which the vocabulary size replaces);
        others are an error.
    monitor : (str, str)
        Metric selecting the best checkpoint, driving early stopping and the ``plateau``
        schedule, and its mode (``"min"`` or ``"max"``).
    views : tuple of View
        Views of a training batch.
    valid_views : tuple of View or None
        Views of a validation batch; None: the training views (crops drawn with a fixed seed).
    """

    needs_labels: bool = False
    task: str | None = None
    requires_encoder: bool = True
    provides_data: bool = False
    open_set_labels: bool = False
    model_options: tuple[str, ...] = ()
    monitor: tuple[str, str] = ("val/loss", "min")
    views: tuple[View, ...] = (View("wave"),)
    valid_views: tuple[View, ...] | None = None

    def forward(
        self, encoder: nn.Module | None, batch: dict[str, torch.Tensor]
    ) -> dict[str, torch.Tensor]:
        """Compute the loss of one training batch.

        Parameters
        ----------
        encoder : Encoder or None
            The encoder being trained (``encoder(wave)``: ``(batch, samples)`` ->
            ``(batch, embed_dim)``).
        batch : dict
            The views (:attr:`views`) as tensors, ``"target"`` when :attr:`needs_labels`, and
            ``"index"`` (dataset indices).

        Returns
        -------
        dict of str to Tensor
            ``"loss"`` (scalar, differentiable) plus other named scalars and optional tensors.
        """
        raise NotImplementedError

    # -- data
    def example_samples(self, encoder: nn.Module | None) -> int | None:
        """Samples per training example, or None for the encoder's native chunk.

        An objective that draws its own input from longer clips (COALA picks the loudest patch
        of each 10-s clip) returns that length.
        """
        return None

    def make_dataset(self, split: str, seed: int) -> Any:
        """The dataset of ``split`` (``data.train_split``/``data.valid_split``) for objectives
        with :attr:`provides_data`: a map-style ``torch.utils.data.Dataset`` of dicts of
        tensors (a batch after collation), optionally with ``set_epoch(epoch)`` (called before
        every epoch, to move crops), ``skipped`` (a list of skipped entries) and
        ``sample_rate``. The default (None) uses the manifest and the views."""
        return None

    def training_views(self) -> tuple[View, ...]:
        """The views of a training batch (:attr:`views`)."""
        return tuple(self.views)

    def encoder_inputs(self, batch: dict[str, torch.Tensor]) -> list[torch.Tensor]:
        """The waveforms the encoder runs on in a training batch (after the views' transforms),
        one tensor per encoder call; used to recompute BatchNorm statistics
        (``training.precise_bn_batches``). Default: every ``(batch, samples)`` training view."""
        names = [v.name for v in self.training_views()]
        return [batch[n] for n in names if torch.is_tensor(batch.get(n)) and batch[n].dim() == 2]

    def validation_views(self) -> tuple[View, ...]:
        """The views of a validation batch (:attr:`valid_views`, else :attr:`views`)."""
        return tuple(self.valid_views if self.valid_views is not None else self.views)

    # -- optimisation
    def param_groups(self, encoder: nn.Module | None) -> list[dict[str, Any]]:
        """Parameter groups for the optimizer: dicts with ``"params"`` and optionally their own
        ``"lr"``/``"weight_decay"`` (groups without them use the recipe's). Default: one group
        with every trainable parameter of the encoder and the objective."""
        params = list(encoder.parameters()) if encoder is not None else []
        params += list(self.parameters())
        return [{"params": [p for p in params if p.requires_grad]}]

    def callbacks(self) -> list[Any]:
        """Extra Lightning callbacks for the run (loss weighting, gradient blending...)."""
        return []

    def on_train_epoch_start(self, module: Any) -> None:
        """Called at the start of every training epoch with the LightningModule (which has
        ``encoder``, ``trainer``, ``log``)."""

    def on_train_epoch_end(self, module: Any) -> None:
        """Called at the end of every training epoch (after validation) with the module."""

    def prepare(self, encoder: nn.Module | None, batches: Iterable[dict], device=None) -> None:
        """Called once before training starts (not when resuming) with an iterable of training
        batches (the training views, untransformed), e.g. to fit input statistics stored in the
        encoder. The default does nothing."""
        return None

    # -- validation
    def validation_step(
        self, encoder: nn.Module | None, batch: dict[str, torch.Tensor]
    ) -> dict[str, torch.Tensor]:
        """The losses of one validation batch (default: :meth:`forward`). May return
        ``"batch_size"`` (an int) when the batch's first dimension is not the number of
        examples."""
        return self(encoder, batch)

    def validation_epoch_end(self, gather: Callable[[torch.Tensor], torch.Tensor]) -> dict:
        """Metrics computed over the whole validation split (logged as ``val/<name>``), e.g.
        from predictions collected in :meth:`validation_step`; ``gather`` concatenates a
        tensor over devices. Default: none."""
        return {}

    # -- the end of a run
    def evaluate(self, encoder: nn.Module | None, data: Any) -> dict | None:
        """The final evaluation on the test split, written to ``results.json``; None (the
        default) when the objective has none.

        ``data`` (:class:`musicrep.training.data.EvalData`) builds test datasets and says where
        to run (``device``, ``batch_size``, ``num_workers``, ``show_progress``)."""
        return None

    def export_model(self, encoder: nn.Module | None) -> nn.Module:
        """What ``musicrep export`` writes: by default the encoder alone (an embedding model).

        Objectives with a head return the encoder with it (a
        :class:`~musicrep.models.TaggingModel`, exported with its labels); objectives that own
        their network return it. The returned module shares parameters with the encoder and the
        objective.
        """
        if encoder is None:
            raise ConfigError(
                f"objective {type(self).__name__} has no encoder and defines no export_model"
            )
        return encoder

    def export_info(self) -> dict[str, Any]:
        """Extra fields of the exported ``config.json`` (``vocab`` and ``task`` for models with
        labels); default none."""
        return {}

    # -- tests
    @classmethod
    def example_config(cls) -> dict[str, Any] | None:
        """A tiny configuration for the objective contract test, or None.

        A dict with ``"model"`` (a small ``model:`` section, or None when the objective builds
        its own network), ``"objective"`` (options of the ``objective:`` section, without
        ``name``) and ``"task"`` (``"multilabel"``, ``"singlelabel"`` or None: which labels the
        test manifest has); ``"video": True`` gives the test clips face frames in a ``video``
        column (audio-visual objectives).
        """
        return None


OBJECTIVES: Registry[Objective] = Registry("objective")


def objective_factory(spec: str | dict[str, Any]) -> tuple[str, Callable[..., Objective], dict]:
    """``(name, factory, options)`` of an ``objective:`` section (ConfigError if unknown)."""
    if isinstance(spec, str):
        spec = {"name": spec}
    spec = dict(spec)
    if "name" not in spec:
        raise ConfigError(
            f"objective section {spec} has no 'name'",
            f"valid names: {', '.join(OBJECTIVES.names())}",
        )
    name = spec.pop("name")
    return name, OBJECTIVES.get(name), spec


def objective_attribute(spec: str | dict[str, Any], attribute: str, default: Any = None) -> Any:
    """A class attribute (``needs_labels``, ``requires_encoder``...) of a registered objective
    before it is built; factories that are functions carry them as function attributes."""
    _, factory, _ = objective_factory(spec)
    return getattr(factory, attribute, default)


def build_objective(
    spec: str | dict[str, Any],
    *,
    encoder: nn.Module | None = None,
    task: str | None = None,
    vocab: Sequence[str] | None = None,
    num_outputs: int | None = None,
    embed_dim: int | None = None,
    model_config: dict[str, Any] | None = None,
) -> Objective:
    """Build a registered objective from a recipe section.

    Parameters
    ----------
    spec : str or dict
        A registered name (``"supervised"``) or a dict ``{"name": ..., **kwargs}``.
    encoder, task, vocab, num_outputs, embed_dim, model_config
        Context passed to the factory when its signature names them (see the module
        docstring); ``num_outputs`` defaults to ``len(vocab)``, ``embed_dim`` to the encoder's.

    Raises
    ------
    ConfigError
        Unknown name (the message lists the valid ones) or options the objective does not take.
    """
    name, factory, options = objective_factory(spec)
    if num_outputs is None and vocab is not None:
        num_outputs = len(vocab)
    if embed_dim is None and encoder is not None:
        embed_dim = getattr(encoder, "embed_dim", None)
    context = {
        "encoder": encoder,
        "task": task,
        "vocab": list(vocab) if vocab is not None else None,
        "num_outputs": num_outputs,
        "embed_dim": embed_dim,
        "model_config": model_config,
    }
    params = inspect.signature(factory).parameters
    takes_any = any(p.kind is p.VAR_KEYWORD for p in params.values())
    for key in options:
        if key in context:
            raise ConfigError(f"objective.{key} is set by the trainer, not the recipe")
    unknown = [k for k in options if k not in params and not takes_any]
    if unknown:
        valid = [p for p in params if p not in context and p != "self"]
        raise ConfigError(
            f"unknown option(s) {', '.join(unknown)} for objective {name!r}",
            f"valid: {', '.join(valid) or 'none'}",
        )
    for key, value in context.items():
        if value is not None and key in params:
            options[key] = value
    return OBJECTIVES.create(name, **options)
