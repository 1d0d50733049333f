"""Multi-view encoder (Phan et al. 2021): one sub-network per input view, embeddings concatenated.

    >>> from musicrep.models import create_model, create_encoder
    >>> model = create_model("multiview", num_outputs=10)              # mel, gammatone, cqt, wave
    >>> enc = create_encoder("multiview", backend_kwargs={"views": ["mel", "wave"]})
    >>> enc.branch_names, enc.embed_dim
    (['mel', 'wave'], 192)

The views are the four low-level inputs of the paper's introduction: mel, gammatone and CQT
spectrograms on one time grid (same hop, same number of bands) each into the same 2-D CNN
design, and the raw waveform into a 1-D sample-level CNN. Any view can be any front-end x
back-end of the registries: a view is a name of :data:`DEFAULT_VIEWS` or a dict
``{"name", "frontend", "frontend_kwargs", "backend", "backend_kwargs"}`` (missing keys are taken
from the default view of that name when there is one).

[open] The paper's sub-network design and STFT/CQT/gammatone settings were not retrievable; the
defaults below (64 bands, hop 256 at 16 kHz, a 4-layer VGG-ish CNN; a 6-layer sample-level CNN)
are small choices for CPU training, all configurable.

The :class:`MultiViewEncoder` is an :class:`~musicrep.models.Encoder`: ``encoder(wave)`` is the
concatenated embedding (so embed/evaluate/benchmark work on it), and
:meth:`MultiViewEncoder.forward_branches` returns each view's embedding for per-view heads.
Its ``config`` (``{"name": "multiview", "backend_kwargs": {"views": [...]}, "input_samples"}``)
rebuilds it with ``create_encoder(**config)``.
"""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import nn

from musicrep.errors import ConfigError
from musicrep.models.encoder import Encoder, TaggingModel, _json_config, build_encoder
from musicrep.models.spec import ModelSpec, register_model

SAMPLE_RATE = 16000
INPUT_SAMPLES = 48000  # 3 s  [open] the paper's segment length is unknown

_TF_GRID = {"hop_length": 256, "batchnorm": True}
_CNN2D = {"backend": "shortchunk_cnn", "backend_kwargs": {"channels": [32, 64, 64, 128]}}

#: The four views of the paper, by name.
DEFAULT_VIEWS: dict[str, dict[str, Any]] = {
    "mel": {"frontend": "mel", "frontend_kwargs": {"n_mels": 64, **_TF_GRID}, **_CNN2D},
    "gammatone": {
        "frontend": "gammatone",
        "frontend_kwargs": {"n_bins": 64, **_TF_GRID},
        **_CNN2D,
    },
    "cqt": {"frontend": "cqt", "frontend_kwargs": {"n_bins": 64, **_TF_GRID}, **_CNN2D},
    "wave": {
        "frontend": "waveform",
        "frontend_kwargs": {},
        "backend": "samplecnn",
        "backend_kwargs": {"channels": [32, 32, 64, 64, 64, 128], "last_channels": 64},
    },
}


def resolve_views(views: list[Any] | None) -> list[dict[str, Any]]:
    """Full view dicts (``name``, ``frontend``, ``frontend_kwargs``, ``backend``,
    ``backend_kwargs``) from names and partial dicts; default: the four views."""
    views = list(DEFAULT_VIEWS) if views is None else list(views)
    if not views:
        raise ConfigError("multiview needs at least one view", f"e.g. {list(DEFAULT_VIEWS)}")
    out = []
    for v in views:
        if isinstance(v, str):
            v = {"name": v}
        if not isinstance(v, dict) or "name" not in v:
            raise ConfigError(f"a view is a name or a dict with a 'name'; got {v!r}")
        base = copy.deepcopy(DEFAULT_VIEWS.get(v["name"], {}))
        full = {**base, **copy.deepcopy(v)}
        for key in ("frontend_kwargs", "backend_kwargs"):
            full[key] = {**base.get(key, {}), **v.get(key, {})}
        missing = [k for k in ("frontend", "backend") if k not in full]
        if missing:
            raise ConfigError(
                f"view {v['name']!r} is not a default view and has no {', '.join(missing)}",
                f"default views: {', '.join(DEFAULT_VIEWS)}; or give frontend and backend",
            )
        full["frontend_kwargs"].setdefault("sample_rate", SAMPLE_RATE)
        out.append(full)
    names = [v["name"] for v in out]
    if len(set(names)) != len(names):
        raise ConfigError(f"view names must be distinct; got {names}")
    return out


class MultiViewEncoder(Encoder):
    """One :class:`Encoder` per view; ``forward`` concatenates their embeddings.

    Attributes
    ----------
    branches : nn.ModuleDict
        The per-view encoders, in view order.
    branch_names : list of str
    branch_dims : list of int
    """

    def __init__(self, views: list[Any] | None = None, input_samples: int = INPUT_SAMPLES) -> None:
        nn.Module.__init__(self)
        resolved = resolve_views(views)
        rates = {int(v["frontend_kwargs"]["sample_rate"]) for v in resolved}
        if len(rates) != 1:
            raise ConfigError(f"every view must use one sample rate; got {sorted(rates)}")
        self.branches = nn.ModuleDict(
            {
                v["name"]: build_encoder(
                    v["frontend"],
                    v["backend"],
                    int(input_samples),
                    v["frontend_kwargs"],
                    v["backend_kwargs"],
                )
                for v in resolved
            }
        )
        self.branch_names = list(self.branches)
        self.branch_dims = [int(b.embed_dim) for b in self.branches.values()]
        self.sample_rate = rates.pop()
        self.input_samples = int(input_samples)
        self.embed_dim = sum(self.branch_dims)
        self.sequence_dim = None
        self.config = _json_config(
            {
                "name": "multiview",
                "backend_kwargs": {"views": resolved},
                "input_samples": self.input_samples,
            }
        )

    @property
    def supports_sequence(self) -> bool:
        return False

    @property
    def supports_attention(self) -> bool:
        return False

    def forward_branches(self, wave: torch.Tensor) -> dict[str, torch.Tensor]:
        """``(batch, samples)`` -> ``{view: (batch, branch_dim)}``."""
        return {name: branch(wave) for name, branch in self.branches.items()}

    def forward(self, wave: torch.Tensor, return_attention: bool = False) -> torch.Tensor:
        if return_attention:
            raise ConfigError("the multiview encoder has no attention maps")
        return torch.cat(list(self.forward_branches(wave).values()), dim=1)

    def forward_sequence(self, wave: torch.Tensor) -> torch.Tensor:
        raise ConfigError("the multiview encoder has no sequence output", "use embed()")

    def sequence_length(self, num_samples: int) -> int:
        raise ConfigError("the multiview encoder has no sequence output", "use embed()")


def _encoder_options(backend_kwargs: dict | None, frontend: Any, frontend_kwargs: Any) -> list:
    if frontend is not None or frontend_kwargs:
        raise ConfigError(
            "multiview takes its front-ends per view",
            "give views=[{'name': ..., 'frontend': ..., 'frontend_kwargs': ...}] "
            "(model.backend_kwargs.views in a recipe)",
        )
    kwargs = dict(backend_kwargs or {})
    views = kwargs.pop("views", None)
    if kwargs:
        raise ConfigError(
            f"unknown multiview option(s) {sorted(kwargs)}", "backend_kwargs takes only 'views'"
        )
    return views


def create_multiview_encoder(
    spec: ModelSpec,
    frontend: str | None = None,
    frontend_kwargs: dict | None = None,
    backend_kwargs: dict | None = None,
    input_samples: int | None = None,
) -> MultiViewEncoder:
    """``create_encoder("multiview", backend_kwargs={"views": [...]})``."""
    views = _encoder_options(backend_kwargs, frontend, frontend_kwargs)
    return MultiViewEncoder(views, int(input_samples or spec.input_samples))


def create_multiview_model(
    spec: ModelSpec,
    num_outputs: int = 50,
    views: list[Any] | None = None,
    backend_kwargs: dict | None = None,
    input_samples: int | None = None,
    dropout: float | None = None,
    head_hidden: int | str | None = None,
) -> TaggingModel:
    """``create_model("multiview", views=[...])``: the encoder with one joint head (the
    concatenation network); the per-view heads belong to the gradient-blending objective."""
    from musicrep.models.factory import create_head, model_config

    if views is not None:
        backend_kwargs = {**(backend_kwargs or {}), "views": views}
    encoder = create_multiview_encoder(
        spec, backend_kwargs=backend_kwargs, input_samples=input_samples
    )
    head, head_config = create_head(
        None,
        encoder.embed_dim,
        num_outputs,
        dropout=spec.dropout if dropout is None else dropout,
        head_hidden=head_hidden,
    )
    return TaggingModel(encoder, head, num_outputs, model_config(encoder.config, head_config))


SPEC = register_model(
    ModelSpec(
        name="multiview",
        title="Multi-view network: mel, gammatone, CQT and waveform sub-networks, concatenated",
        reference=(
            "Phan, Le Nguyen, Chén, Koch, Mertins, De Vos. Multi-view audio and music "
            "classification. ICASSP 2021 (arXiv 2103.02420)"
        ),
        sample_rate=SAMPLE_RATE,
        input_samples=INPUT_SAMPLES,
        frontend="mel",
        backend="shortchunk_cnn",
        dropout=0.5,
        notes="[open] sub-network design and view settings not retrievable; see the module.",
        factory=create_multiview_model,
        encoder_factory=create_multiview_encoder,
    )
)
