"""``create_model``: build a registered model, with any front-end swapped in."""

from __future__ import annotations

import inspect
import json
from typing import Any

from musicrep.errors import ConfigError
from musicrep.frontends import FRONTENDS
from musicrep.models.encoder import Encoder, TaggingModel, _accepts, build_encoder
from musicrep.models.spec import MODEL_SPECS, SAME_AS_EMBED, ModelSpec
from musicrep.nn import ClassifierHead

_UNSET: Any = object()


def model_spec(name: str) -> ModelSpec:
    """The :class:`ModelSpec` of a registered model (ConfigError listing names if unknown)."""
    return MODEL_SPECS.get(name)()


def list_models() -> list[str]:
    """Names accepted by :func:`create_model`."""
    return MODEL_SPECS.names()


def _resolve(
    spec: ModelSpec,
    frontend: str | None,
    frontend_kwargs: dict[str, Any] | None,
    backend_kwargs: dict[str, Any] | None,
) -> tuple[str, dict[str, Any], dict[str, Any]]:
    fe_name = frontend or spec.frontend
    factory = FRONTENDS.get(fe_name)  # ConfigError listing the names if unknown
    fe_kwargs: dict[str, Any] = {"sample_rate": spec.sample_rate}
    if fe_name == spec.frontend:
        fe_kwargs.update(spec.frontend_kwargs)
    elif _accepts(factory, "batchnorm"):
        # every zoo model normalises its input map with a learned BatchNorm; keep that when
        # another front-end is swapped in (pass frontend_kwargs={"batchnorm": False} to drop it)
        fe_kwargs["batchnorm"] = True
    fe_kwargs.update(frontend_kwargs or {})
    be_kwargs = {**spec.backend_kwargs, **(backend_kwargs or {})}
    return fe_name, fe_kwargs, be_kwargs


def create_encoder(
    name: str,
    *,
    frontend: str | None = None,
    frontend_kwargs: dict[str, Any] | None = None,
    backend_kwargs: dict[str, Any] | None = None,
    input_samples: int | None = None,
) -> Encoder:
    """The encoder (front-end + back-end) of model ``name``, without a head.

    Same overrides as :func:`create_model`.
    """
    spec = model_spec(name)
    fe_name, fe_kwargs, be_kwargs = _resolve(spec, frontend, frontend_kwargs, backend_kwargs)
    n = int(input_samples) if input_samples is not None else spec.input_samples
    return build_encoder(fe_name, spec.backend, n, fe_kwargs, be_kwargs)


def create_model(
    name: str,
    num_outputs: int = 50,
    *,
    frontend: str | None = None,
    frontend_kwargs: dict[str, Any] | None = None,
    backend_kwargs: dict[str, Any] | None = None,
    input_samples: int | None = None,
    dropout: float | None = None,
    head_hidden: int | str | None = _UNSET,
    **options: Any,
) -> TaggingModel:
    """Build a registered model as a :class:`TaggingModel` returning logits.

    Parameters
    ----------
    name : str
        A name from :func:`list_models` (``fcn``, ``crnn``, ``musicnn``, ``samplecnn``,
        ``samplecnn_se``, ``shortchunk_cnn``, ``shortchunk_resnet``, ``attention``, ``hcnn``,
        ``modnet``, ``sincmodnet``).
    num_outputs : int
        Number of logits (50 tags).
    frontend : str, optional
        Swap in another front-end by registry name; the model's own front-end options are then
        dropped (only ``sample_rate`` and, where supported, ``batchnorm=True`` are kept).
    frontend_kwargs, backend_kwargs : dict, optional
        Options merged over the model's.
    input_samples : int, optional
        Chunk length the back-end is built for (default: the model's native length).
    dropout : float, optional
        Head dropout (default: the model's, 0.5).
    head_hidden : int, "embed_dim" or None, optional
        Head hidden size (default: the model's).
    **options
        Options of models built by their own factory (``ModelSpec.factory``), e.g.
        ``variant="e_c"`` for ``coala``; an error for the other models.

    Returns
    -------
    TaggingModel
        ``model.config`` rebuilds it: ``create_model(**model.config)``.

    Raises
    ------
    ConfigError
        Unknown model / front-end name or option, or a front-end the back-end cannot take.

    Examples
    --------
    >>> m = create_model("shortchunk_resnet", frontend="harmonic")
    >>> m.encoder.embed_dim, m.num_outputs
    (512, 50)
    """
    spec = model_spec(name)
    if spec.factory is not None:
        given = {
            "frontend": frontend,
            "frontend_kwargs": frontend_kwargs,
            "backend_kwargs": backend_kwargs,
            "input_samples": input_samples,
            "dropout": dropout,
        }
        kwargs = {k: v for k, v in given.items() if v is not None}
        if head_hidden is not _UNSET:
            kwargs["head_hidden"] = head_hidden
        kwargs.update(options)
        valid = [p for p in inspect.signature(spec.factory).parameters if p != "spec"]
        unknown = sorted(k for k in kwargs if k not in valid)
        if unknown:
            raise ConfigError(
                f"unknown option(s) {', '.join(unknown)} for model {name!r}",
                f"valid: {', '.join(valid)}",
            )
        return spec.factory(spec, num_outputs=num_outputs, **kwargs)
    if options:
        raise ConfigError(
            f"unknown option(s) {', '.join(sorted(options))} for model {name!r}",
            "valid: num_outputs, frontend, frontend_kwargs, backend_kwargs, input_samples, "
            "dropout, head_hidden",
        )
    if not isinstance(num_outputs, int) or num_outputs < 1:
        raise ConfigError(f"num_outputs must be a positive integer; got {num_outputs!r}")
    fe_name, fe_kwargs, be_kwargs = _resolve(spec, frontend, frontend_kwargs, backend_kwargs)
    n = int(input_samples) if input_samples is not None else spec.input_samples
    encoder = build_encoder(fe_name, spec.backend, n, fe_kwargs, be_kwargs)

    hidden = spec.head_hidden if head_hidden is _UNSET else head_hidden
    p = spec.dropout if dropout is None else float(dropout)
    if hidden == SAME_AS_EMBED:
        hidden_size: int | None = encoder.embed_dim
    elif hidden is None or (isinstance(hidden, int) and hidden > 0):
        hidden_size = hidden
    else:
        raise ConfigError(
            f"head_hidden must be a positive int, {SAME_AS_EMBED!r} or None; got {hidden!r}"
        )
    head = ClassifierHead(encoder.embed_dim, num_outputs, hidden_size, p)
    config = {
        "name": name,
        "num_outputs": num_outputs,
        "frontend": fe_name,
        "frontend_kwargs": fe_kwargs,
        "backend_kwargs": be_kwargs,
        "input_samples": n,
        "dropout": p,
        "head_hidden": hidden,
    }
    try:
        config = json.loads(json.dumps(config))
    except TypeError as exc:
        raise ConfigError(f"model options must be JSON-serialisable: {exc}") from None
    return TaggingModel(encoder, head, num_outputs, config)


__all__ = ["create_encoder", "create_model", "list_models", "model_spec"]
