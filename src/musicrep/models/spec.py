"""Model specifications: the one place where each published model's input spec lives.

A :class:`ModelSpec` says which front-end (with which options), which back-end and which head
make up a published model, and what input it was trained on (sample rate, chunk length). Every
command (training, evaluation, embedding, benchmarks) reads these through
:func:`musicrep.models.model_spec` instead of hard-coding lengths.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from musicrep.registry import Registry

#: The head's hidden layer has the embedding's size (``Linear D -> D -> BN -> ReLU -> ...``).
SAME_AS_EMBED = "embed_dim"


def _frozen(d: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return MappingProxyType(dict(d or {}))


@dataclass(frozen=True)
class ModelSpec:
    """A published model: input spec, front-end, back-end and head.

    Parameters
    ----------
    name : str
        Registry name (``create_model(name)``).
    title : str
        Short description.
    reference : str
        The paper (authors, title, venue, year).
    sample_rate : int
        Input sample rate in Hz.
    input_samples : int
        Native chunk length in samples (the training crop).
    frontend : str
        Front-end registry name; ``frontend_kwargs`` its options (``sample_rate`` is added).
    backend : str
        Back-end registry name; ``backend_kwargs`` its options (the defaults of each back-end
        class are the published layer configuration).
    head_hidden : int, "embed_dim" or None
        Hidden size of the classifier head (None: ``Dropout -> Linear``); see
        :class:`musicrep.nn.ClassifierHead`.
    dropout : float
        Dropout of the head.
    reference_params_m : float or None
        Parameter count in millions with 50 outputs, as counted from the reference code
        (``minzwon/sota-music-tagging-models``), front-end normalisation included; None when
        there is no reference implementation.
    notes : str
        Choices where the paper is silent, differences from the reference.
    factory : callable, optional
        For models that are not front-end + back-end + :class:`~musicrep.nn.ClassifierHead`
        (e.g. COALA's variants): ``factory(spec, num_outputs=..., **options)`` builds the
        model; :func:`~musicrep.models.create_model` passes it the options it was given, and
        the model's ``config`` must rebuild it through ``create_model(**config)``.
    encoder_factory : callable, optional
        With ``factory``: ``encoder_factory(spec, **encoder_options)`` builds the model's
        :class:`~musicrep.models.Encoder` alone (for :func:`~musicrep.models.create_encoder`,
        which training uses: the objective adds the head), drawing its parameters as
        ``factory`` does; its ``config`` must rebuild it through ``create_encoder(**config)``.
    """

    name: str
    title: str
    reference: str
    sample_rate: int
    input_samples: int
    frontend: str
    backend: str
    frontend_kwargs: Mapping[str, Any] = field(default_factory=dict)
    backend_kwargs: Mapping[str, Any] = field(default_factory=dict)
    head_hidden: int | str | None = None
    dropout: float = 0.5
    reference_params_m: float | None = None
    notes: str = ""
    factory: Callable[..., Any] | None = None
    encoder_factory: Callable[..., Any] | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "frontend_kwargs", _frozen(self.frontend_kwargs))
        object.__setattr__(self, "backend_kwargs", _frozen(self.backend_kwargs))

    @property
    def input_seconds(self) -> float:
        """Native chunk length in seconds."""
        return self.input_samples / self.sample_rate


MODEL_SPECS: Registry[ModelSpec] = Registry("model")


def register_model(spec: ModelSpec) -> ModelSpec:
    """Add ``spec`` to the model registry under ``spec.name``; returns it."""
    MODEL_SPECS.register(spec.name)(lambda: spec)
    return spec


__all__ = ["MODEL_SPECS", "SAME_AS_EMBED", "ModelSpec", "register_model"]
