"""Front-ends: ``nn.Module``s mapping waveforms ``(batch, samples)`` to feature maps.

Use :func:`create_frontend` by name and :func:`list_frontends` to see the names::

    >>> from musicrep.frontends import create_frontend
    >>> fe = create_frontend("mel", sample_rate=16000, n_mels=96)
    >>> fe.output_shape(16000)
    (1, 96, 63)
"""

from __future__ import annotations

from typing import Any

from musicrep.frontends.base import STFT, Frontend, amplitude_to_db, stft_frames
from musicrep.registry import Registry

FRONTENDS: Registry[Frontend] = Registry("front-end")

# Importing the modules registers their front-ends.
from musicrep.frontends import (  # noqa: E402,F401
    harmonic,
    modulation,
    sinc,
    spectral,
    waveform,
)


def create_frontend(name: str, **kwargs: Any) -> Frontend:
    """Build the front-end registered as ``name`` with keyword options ``kwargs``.

    Raises :class:`musicrep.ConfigError` listing the valid names when ``name`` is unknown.
    """
    return FRONTENDS.create(name, **kwargs)


def list_frontends() -> list[str]:
    """Names accepted by :func:`create_frontend`."""
    return FRONTENDS.names()


__all__ = [
    "FRONTENDS",
    "STFT",
    "Frontend",
    "amplitude_to_db",
    "create_frontend",
    "list_frontends",
    "stft_frames",
]
