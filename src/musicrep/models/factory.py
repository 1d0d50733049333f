"""``create_model``: build a registered model, with any front-end swapped in."""

from __future__ import annotations

import inspect
from typing import Any

from musicrep.errors import ConfigError
from musicrep.frontends import FRONTENDS
from musicrep.models.encoder import Encoder, TaggingModel, _accepts, _json_config, build_encoder
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


#: Keys of a model config that describe the encoder (the rest describe heads).
ENCODER_KEYS = ("name", "frontend", "frontend_kwargs", "backend_kwargs", "input_samples")


def create_encoder(
    name: str,
    *,
    frontend: str | None = None,
    frontend_kwargs: dict[str, Any] | None = None,
    backend_kwargs: dict[str, Any] | None = None,
    input_samples: int | None = None,
) -> Encoder:
    """The encoder (front-end + back-end) of model ``name``, without a head.

    Same overrides as :func:`create_model`. The encoder's ``config`` rebuilds it:
    ``create_encoder(**encoder.config)``; it is the :data:`ENCODER_KEYS` part of the config of
    ``create_model`` with the same options, and the parameters are drawn in the same order, so
    with the same seed both give the same encoder weights.
    """
    spec = model_spec(name)
    if spec.encoder_factory is not None:
        given = {
            "frontend": frontend,
            "frontend_kwargs": frontend_kwargs,
            "backend_kwargs": backend_kwargs,
            "input_samples": input_samples,
        }
        return spec.encoder_factory(spec, **{k: v for k, v in given.items() if v is not None})
    fe_name, fe_kwargs, be_kwargs = _resolve(spec, frontend, frontend_kwargs, backend_kwargs)
    n = int(input_samples) if input_samples is not None else spec.input_samples
    encoder = build_encoder(fe_name, spec.backend, n, fe_kwargs, be_kwargs)
    encoder.config = _json_config(
        {
            "name": name,
            "frontend": fe_name,
            "frontend_kwargs": fe_kwargs,
            "backend_kwargs": be_kwargs,
            "input_samples": n,
        }
    )
    return encoder


def create_head(
    name: str | None,
    embed_dim: int,
    num_outputs: int,
    *,
    dropout: float | None = None,
    head_hidden: int | str | None = _UNSET,
) -> tuple[ClassifierHead, dict[str, Any]]:
    """The classifier head of zoo model ``name`` (its hidden size and dropout) for an encoder.

    Parameters
    ----------
    name : str or None
        Zoo model whose head options are the defaults; None: ``Dropout(0.5) -> Linear``.
    embed_dim : int
        The encoder's embedding size.
    num_outputs : int
        Number of logits.
    dropout, head_hidden
        Overrides, as for :func:`create_model`.

    Returns
    -------
    head : ClassifierHead
    config : dict
        ``num_outputs``, ``dropout``, ``head_hidden`` (resolved), the head part of a model config.
    """
    if isinstance(num_outputs, bool) or not isinstance(num_outputs, int) or num_outputs < 1:
        raise ConfigError(f"num_outputs must be a positive integer; got {num_outputs!r}")
    spec_hidden, spec_dropout = (None, 0.5)
    if name is not None:
        spec = model_spec(name)
        spec_hidden, spec_dropout = spec.head_hidden, spec.dropout
    hidden = spec_hidden if head_hidden is _UNSET else head_hidden
    p = spec_dropout if dropout is None else float(dropout)
    if hidden == SAME_AS_EMBED:
        hidden_size: int | None = int(embed_dim)
    elif hidden is None or (
        isinstance(hidden, int) and not isinstance(hidden, bool) and hidden > 0
    ):
        hidden_size = hidden
    else:
        raise ConfigError(
            f"head_hidden must be a positive int, {SAME_AS_EMBED!r} or None; got {hidden!r}"
        )
    head = ClassifierHead(int(embed_dim), num_outputs, hidden_size, p)
    return head, {"num_outputs": num_outputs, "dropout": p, "head_hidden": hidden}


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
    if isinstance(num_outputs, bool) or not isinstance(num_outputs, int) or num_outputs < 1:
        raise ConfigError(f"num_outputs must be a positive integer; got {num_outputs!r}")
    encoder = create_encoder(
        name,
        frontend=frontend,
        frontend_kwargs=frontend_kwargs,
        backend_kwargs=backend_kwargs,
        input_samples=input_samples,
    )
    head, head_config = create_head(
        name, encoder.embed_dim, num_outputs, dropout=dropout, head_hidden=head_hidden
    )
    return TaggingModel(encoder, head, num_outputs, model_config(encoder.config, head_config))


def model_config(encoder_config: dict[str, Any], head_config: dict[str, Any]) -> dict[str, Any]:
    """The config of a :class:`TaggingModel` (what :func:`rebuild_model` takes) from its
    encoder's config and its head's (:func:`create_head`).

    A zoo encoder (its config has a ``name``) gives a flat config, ``create_model(**config)``;
    any other encoder (a front-end/back-end pair, a pretrained tagger's encoder fine-tuned with
    ``musicrep train --init``) keeps its config under ``"encoder"``
    (:func:`~musicrep.models.rebuild_encoder`) beside the head's options.
    """
    enc = dict(encoder_config)
    head = {k: v for k, v in head_config.items() if k != "num_outputs"}
    if "name" not in enc:
        return _json_config({"encoder": enc, "num_outputs": head_config["num_outputs"], **head})
    config = {"name": enc.pop("name"), "num_outputs": head_config["num_outputs"]}
    config.update(enc)
    config.update(head)
    return _json_config(config)


def rebuild_model(config: dict[str, Any]) -> TaggingModel:
    """The :class:`TaggingModel` described by a :func:`model_config` (untrained weights).

    ``{"name": ...}`` configs go to :func:`create_model`; ``{"encoder": {...}, "num_outputs":
    ..., "dropout": ..., "head_hidden": ...}`` rebuild the encoder
    (:func:`~musicrep.models.rebuild_encoder`) and a head (:func:`create_head`).
    """
    config = dict(config)
    if "name" in config:
        return create_model(**config)
    if not isinstance(config.get("encoder"), dict):
        raise ConfigError(
            "not a tagging model config: it needs a zoo 'name' or an 'encoder' config",
            "export models with musicrep export / musicrep.io.save_model",
        )
    from musicrep.models.encoder import rebuild_encoder

    encoder = rebuild_encoder(config.pop("encoder"))
    num_outputs = config.pop("num_outputs", 50)
    unknown = sorted(k for k in config if k not in ("dropout", "head_hidden"))
    if unknown:
        raise ConfigError(
            f"unknown option(s) {', '.join(unknown)} in a tagging model config",
            "valid beside 'encoder': num_outputs, dropout, head_hidden",
        )
    head, head_config = create_head(None, int(encoder.embed_dim), num_outputs, **config)
    return TaggingModel(encoder, head, num_outputs, model_config(encoder.config, head_config))


__all__ = [
    "ENCODER_KEYS",
    "create_encoder",
    "create_head",
    "create_model",
    "list_models",
    "model_config",
    "model_spec",
    "rebuild_model",
]
