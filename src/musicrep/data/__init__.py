"""Datasets: manifests, the built-in corpus dataset, audio datasets for training.

Heavy pieces (the corpus builder, torch datasets) are imported lazily.
"""

from musicrep.data.manifest import Manifest, ManifestRow

__all__ = ["CropDataset", "Manifest", "ManifestRow", "TrackDataset", "build_corpus", "load_pieces"]

_LAZY = {
    "build_corpus": "musicrep.data.corpus",
    "load_pieces": "musicrep.data.corpus",
    "CropDataset": "musicrep.data.dataset",
    "TrackDataset": "musicrep.data.dataset",
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'musicrep.data' has no attribute {name!r}")
