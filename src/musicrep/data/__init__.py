"""Datasets: manifests, the built-in corpus dataset, audio datasets for training."""

from musicrep.data.manifest import Manifest, ManifestRow

__all__ = ["Manifest", "ManifestRow"]
