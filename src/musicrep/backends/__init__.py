"""Back-ends: ``nn.Module``s mapping a front-end's feature map to embeddings.

Each back-end is built from the front-end's output shape (``in_shape``, without the batch
dimension), so any front-end whose map fits composes with any back-end::

    >>> from musicrep.backends import create_backend
    >>> be = create_backend("shortchunk_resnet", in_shape=(1, 128, 231))
    >>> be.embed_dim
    512

``forward(features) -> (batch, embed_dim)``; sequence back-ends also have
``forward_sequence(features) -> (batch, steps, sequence_dim)``. A map that cannot fit raises
:class:`musicrep.ConfigError` naming the shape and the layer.

======================  ===========================================  ==========  =========
name                    architecture                                 input       sequence
======================  ===========================================  ==========  =========
``fcn``                 FCN (Choi et al. 2016)                       (C, F, T)   yes
``crnn``                CNN + GRU (Choi et al. 2017)                 (C, F, T)   yes
``musicnn``             musicnn front/mid-end + pooling (Pons 2018)  (C, F, T)   yes
``samplecnn``           sample-level CNN (Lee et al. 2017)           (C, T)      yes
``samplecnn_se``        sample-level + residual SE (Kim et al. 2018) (C, T)      yes
``shortchunk_cnn``      short-chunk CNN (Won et al. 2020)            (C, F, T)   yes
``shortchunk_resnet``   short-chunk ResNet (Won et al. 2020)         (C, F, T)   yes
``hcnn``                harmonic CNN back-end (Won et al. 2020)      (C, F, T)   yes
``attention``           CNN + Transformer, CNNSA (Won et al. 2019)   (C, F, T)   yes
``modnet``              modulation-map CNN (ModNet / SincModNet)     (C, F, T)   yes
``pase``                PASE+ conv + dense skips + QRNN (Ravanelli)  (C, T)      yes
======================  ===========================================  ==========  =========
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from musicrep.backends.attention import SelfAttentionBackend
from musicrep.backends.base import Backend, check_fits, trace_shapes
from musicrep.backends.conv2d import (
    Conv2dStackBackend,
    FCNBackend,
    HarmonicCNNBackend,
    ShortChunkCNNBackend,
    ShortChunkResNetBackend,
)
from musicrep.backends.crnn import CRNNBackend
from musicrep.backends.modnet import ModulationCNNBackend
from musicrep.backends.musicnn import MusicnnBackend
from musicrep.backends.pase import PASEBackend
from musicrep.backends.samplecnn import SampleCNNBackend, SampleCNNSEBackend
from musicrep.registry import Registry

BACKENDS: Registry[Backend] = Registry("back-end")

for _cls in (
    FCNBackend,
    CRNNBackend,
    MusicnnBackend,
    SampleCNNBackend,
    SampleCNNSEBackend,
    ShortChunkCNNBackend,
    ShortChunkResNetBackend,
    HarmonicCNNBackend,
    SelfAttentionBackend,
    ModulationCNNBackend,
    PASEBackend,
):
    BACKENDS.register(_cls.name)(_cls)


def create_backend(name: str, in_shape: Sequence[int], **kwargs: Any) -> Backend:
    """Build back-end ``name`` for features of shape ``in_shape`` (without the batch dim).

    Raises :class:`musicrep.ConfigError` for an unknown name (listing the valid ones), an
    unknown option, or features that do not fit.
    """
    return BACKENDS.create(name, in_shape=tuple(in_shape), **kwargs)


def list_backends() -> list[str]:
    """Names accepted by :func:`create_backend`."""
    return BACKENDS.names()


__all__ = [
    "BACKENDS",
    "Backend",
    "CRNNBackend",
    "Conv2dStackBackend",
    "FCNBackend",
    "HarmonicCNNBackend",
    "ModulationCNNBackend",
    "MusicnnBackend",
    "PASEBackend",
    "SampleCNNBackend",
    "SampleCNNSEBackend",
    "SelfAttentionBackend",
    "ShortChunkCNNBackend",
    "ShortChunkResNetBackend",
    "check_fits",
    "create_backend",
    "list_backends",
    "trace_shapes",
]
