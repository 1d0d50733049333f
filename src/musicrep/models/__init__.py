"""The model zoo: published tagging models as front-end + back-end + head.

    >>> import torch
    >>> from musicrep.models import create_model, list_models, model_spec
    >>> model = create_model("shortchunk_resnet", num_outputs=50)
    >>> spec = model_spec("shortchunk_resnet")
    >>> spec.sample_rate, spec.input_samples
    (16000, 59049)
    >>> logits = model(torch.randn(2, spec.input_samples))        # (2, 50), no sigmoid
    >>> emb = model.embed(torch.randn(2, spec.input_samples))     # (2, 512)
    >>> hcnn_res = create_model("shortchunk_resnet", frontend="harmonic")  # any front-end fits

Each published model has one small file here holding its :class:`ModelSpec` (input spec,
front-end, back-end, head, reference parameter count); the architectures themselves are in
:mod:`musicrep.backends`, the shared blocks in :mod:`musicrep.nn`.
"""

from __future__ import annotations

# Importing the spec modules registers the models.
from musicrep.models import (  # noqa: F401
    attention,
    coala,
    crnn,
    fcn,
    hcnn,
    modnet,
    multiview,
    musicnn,
    pase,
    samplecnn,
    shortchunk,
)
from musicrep.models.encoder import Encoder, TaggingModel, build_encoder, rebuild_encoder
from musicrep.models.factory import (
    create_encoder,
    create_head,
    create_model,
    list_models,
    model_spec,
    rebuild_model,
)
from musicrep.models.spec import MODEL_SPECS, ModelSpec

__all__ = [
    "MODEL_SPECS",
    "Encoder",
    "ModelSpec",
    "TaggingModel",
    "build_encoder",
    "create_encoder",
    "create_head",
    "create_model",
    "list_models",
    "model_spec",
    "rebuild_encoder",
    "rebuild_model",
]
