"""musicrep: a PyTorch toolkit for music and audio representation learning.

Front-ends (``musicrep.frontends``) turn waveforms into feature maps, back-ends turn those into
embeddings, objectives train them, and the evaluation and analysis tools tell what a
representation captures. See the README for a tour.
"""

from musicrep.errors import AudioError, ConfigError, ManifestError, MusicrepError

__version__ = "0.1.0"

__all__ = ["AudioError", "ConfigError", "ManifestError", "MusicrepError", "__version__", "load"]


def __getattr__(name: str):
    # Lazy: ``import musicrep`` stays light; torch is imported on first use of ``musicrep.load``.
    if name == "load":
        from musicrep.io import load

        return load
    raise AttributeError(f"module 'musicrep' has no attribute {name!r}")
