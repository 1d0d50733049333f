"""Pretrained models shipped with musicrep (no download at run time).

The four taggers of the ``musicnn`` package (J. Pons and X. Serra, ISC licence), converted
from its ``musicnn==0.1.0`` wheel by ``scripts/convert_musicnn.py`` (no TensorFlow needed):

============  =====================  ========  ======================================
name          architecture           trained   vocabulary
============  =====================  ========  ======================================
musicnn-mtt   musicnn (mid 64/200)   MTT       50 MagnaTagATune tags
musicnn-msd   musicnn (mid 64/200)   MSD       50 Million Song Dataset (last.fm) tags
vgg-mtt       VGG-like, 128 filters  MTT       50 MagnaTagATune tags
vgg-msd       VGG-like, 128 filters  MSD       50 Million Song Dataset tags
============  =====================  ========  ======================================

Load one with ``musicrep.load("musicnn-mtt")`` or pass the name to any ``--model`` option.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

#: Where the converted model folders ship inside the package.
MODELS_DIR = Path(__file__).parent / "models"
#: Pretrained name -> (musicnn checkpoint name, architecture, training data).
PRETRAINED = {
    "musicnn-mtt": ("MTT_musicnn", "musicnn", "MagnaTagATune (MTT)"),
    "musicnn-msd": ("MSD_musicnn", "musicnn", "Million Song Dataset (MSD, last.fm tags)"),
    "vgg-mtt": ("MTT_vgg", "vgg", "MagnaTagATune (MTT)"),
    "vgg-msd": ("MSD_vgg", "vgg", "Million Song Dataset (MSD, last.fm tags)"),
}
_BY_CHECKPOINT = {v[0]: k for k, v in PRETRAINED.items()}

MTT_LABELS = [
    "guitar",
    "classical",
    "slow",
    "techno",
    "strings",
    "drums",
    "electronic",
    "rock",
    "fast",
    "piano",
    "ambient",
    "beat",
    "violin",
    "vocal",
    "synth",
    "female",
    "indian",
    "opera",
    "male",
    "singing",
    "vocals",
    "no vocals",
    "harpsichord",
    "loud",
    "quiet",
    "flute",
    "woman",
    "male vocal",
    "no vocal",
    "pop",
    "soft",
    "sitar",
    "solo",
    "man",
    "classic",
    "choir",
    "voice",
    "new age",
    "dance",
    "male voice",
    "female vocal",
    "beats",
    "harp",
    "cello",
    "no voice",
    "weird",
    "country",
    "metal",
    "female voice",
    "choral",
]  # noqa: E501
MSD_LABELS = [
    "rock",
    "pop",
    "alternative",
    "indie",
    "electronic",
    "female vocalists",
    "dance",
    "00s",
    "alternative rock",
    "jazz",
    "beautiful",
    "metal",
    "chillout",
    "male vocalists",
    "classic rock",
    "soul",
    "indie rock",
    "Mellow",
    "electronica",
    "80s",
    "folk",
    "90s",
    "chill",
    "instrumental",
    "punk",
    "oldies",
    "blues",
    "hard rock",
    "ambient",
    "acoustic",
    "experimental",
    "female vocalist",
    "guitar",
    "Hip-Hop",
    "70s",
    "party",
    "country",
    "easy listening",
    "sexy",
    "catchy",
    "funk",
    "electro",
    "heavy metal",
    "Progressive rock",
    "60s",
    "rnb",
    "indie pop",
    "sad",
    "House",
    "happy",
]  # noqa: E501


def list_pretrained() -> list[str]:
    """Names of the shipped pretrained models."""
    return sorted(PRETRAINED)


def pretrained_folder(name: str) -> Path | None:
    """The shipped folder of pretrained model ``name`` (None if ``name`` is not one)."""
    if name not in PRETRAINED:
        return None
    return MODELS_DIR / name


def _tf_to_torch(arch: str, ck: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
    """Map TF variable names/layouts onto :mod:`musicrep.models.musicnn_tf` parameter names."""
    sd: dict[str, np.ndarray] = {}

    def bn(prefix: str, tf_name: str) -> None:
        sd[f"{prefix}.weight"] = ck[f"{tf_name}/gamma"]
        sd[f"{prefix}.bias"] = ck[f"{tf_name}/beta"]
        sd[f"{prefix}.running_mean"] = ck[f"{tf_name}/moving_mean"]
        sd[f"{prefix}.running_var"] = ck[f"{tf_name}/moving_variance"]

    def conv2d(prefix: str, tf_name: str) -> None:  # HWIO -> OIHW
        sd[f"{prefix}.weight"] = ck[f"{tf_name}/kernel"].transpose(3, 2, 0, 1)
        sd[f"{prefix}.bias"] = ck[f"{tf_name}/bias"]

    def conv1d(prefix: str, tf_name: str) -> None:  # (k, C_in, 1, O) -> (O, C_in, k)
        sd[f"{prefix}.weight"] = ck[f"{tf_name}/kernel"][:, :, 0, :].transpose(2, 1, 0)
        sd[f"{prefix}.bias"] = ck[f"{tf_name}/bias"]

    def dense(prefix: str, tf_name: str) -> None:
        sd[f"{prefix}.weight"] = ck[f"{tf_name}/kernel"].T
        sd[f"{prefix}.bias"] = ck[f"{tf_name}/bias"]

    n = "batch_normalization"
    p = "encoder.net"
    if arch == "musicnn":
        # creation order in musicnn/models.py: input BN; f74, f77, s1, s2, s3 (conv + BN);
        # mid-end conv1-3 (+ BN); backend BN, dense, BN, dense
        bn(f"{p}.bn_input", n)
        for i in range(2):
            conv2d(f"{p}.timbral.{i}", f"conv2d{'' if i == 0 else '_1'}")
            bn(f"{p}.timbral_bn.{i}", f"{n}_{i + 1}")
        for i in range(3):
            conv2d(f"{p}.temporal.{i}", f"conv2d_{i + 2}")
            bn(f"{p}.temporal_bn.{i}", f"{n}_{i + 3}")
        for i in range(3):
            conv1d(f"{p}.mid.{i}", f"conv2d_{i + 5}")
            bn(f"{p}.mid_bn.{i}", f"{n}_{i + 6}")
        bn(f"{p}.pool_bn", f"{n}_9")
        dense(f"{p}.dense", "dense")
        bn(f"{p}.dense_bn", f"{n}_10")
        dense(f"{p}.out", "dense_1")
    else:
        bn(f"{p}.bn_input", n)
        for i in range(5):
            conv2d(f"{p}.convs.{i}", f"{i + 1}CNN")
            bn(f"{p}.bns.{i}", f"{n}_{i + 1}")
        dense(f"{p}.out", "dense")
    return {k: torch.from_numpy(np.ascontiguousarray(v, dtype=np.float32)) for k, v in sd.items()}


def convert_checkpoint(
    ckpt_dir: Path, ckpt_name: str, out_root: Path, *, licence: str, wheel: str, wheel_sha256: str
) -> Path:
    """Convert one musicnn checkpoint folder (its prefix is ``ckpt_dir/``) to a model folder."""
    from musicrep.io import save_model
    from musicrep.models.musicnn_tf import MusicnnTF
    from musicrep.pretrained.tf_checkpoint import read_checkpoint
    from musicrep.utils import write_text_atomic

    name = _BY_CHECKPOINT[ckpt_name]
    _, arch, data = PRETRAINED[name]
    ck = read_checkpoint(str(ckpt_dir) + "/")
    model = MusicnnTF(arch=arch, num_outputs=50)
    state = _tf_to_torch(arch, ck)
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [k for k in missing if not k.endswith("num_batches_tracked")]
    if missing or unexpected:
        raise RuntimeError(f"{ckpt_name}: missing {missing}, unexpected {unexpected}")
    vocab = MTT_LABELS if ckpt_name.startswith("MTT") else MSD_LABELS
    source = {
        "name": name,
        "origin": f"musicnn 0.1.0 (https://github.com/jordipons/musicnn), checkpoint {ckpt_name}",
        "wheel": wheel,
        "wheel_sha256": wheel_sha256,
        "training_data": data,
        "licence": "ISC",
        "authors": "Jordi Pons, Xavier Serra",
        "converted_by": "scripts/convert_musicnn.py",
    }
    out = save_model(model, Path(out_root) / name, vocab=vocab, task="multilabel", source=source)
    write_text_atomic(out / "LICENSE", licence)
    return out


@torch.no_grad()
def extract(
    name: str, path: str | Path, *, overlap_frames: int | None = None, batch_size: int = 16
) -> tuple[np.ndarray, list[str], dict[str, np.ndarray]]:
    """musicnn's ``extractor()`` for a shipped model, with its faults fixed.

    Like the original: the whole file's log-mel spectrogram (16 kHz) cut into patches of 187
    frames (3 s) every ``overlap_frames`` frames (default 187: no overlap; a file shorter
    than one patch gives none, as in the original). Unlike it: every layer is computed for
    every patch (the original repeats the first patch's ``penultimate`` and ``cnn1``-``cnn3``
    for all patches), and the log compression never overflows (see
    :func:`musicrep.models.musicnn_tf.log_compress`).

    Returns
    -------
    taggram : np.ndarray, shape (patches, 50)
        Tag probabilities of each patch.
    tags : list of str
        The vocabulary.
    features : dict
        musicnn models: ``timbral``, ``temporal``, ``cnn1``-``cnn3`` (frames, channels; patches
        concatenated in time), ``mean_pool``, ``max_pool``, ``penultimate`` (patches, dims);
        VGG models: ``pool1``-``pool5`` (patches concatenated on the first axis).
    """
    from musicrep import audio
    from musicrep.io import load_model
    from musicrep.models.musicnn_tf import N_FRAMES, SAMPLE_RATE

    model, meta, _ = load_model(name, untrained_ok=False)
    if meta.get("kind") != "musicnn_tf":
        raise ValueError(f"{name} is not a musicnn/VGG tagger")
    step = int(overlap_frames or N_FRAMES)
    wave, _ = audio.load(path, sr=SAMPLE_RATE)
    mel = model.encoder.mel(torch.from_numpy(np.ascontiguousarray(wave))[None])[0]
    starts = range(0, mel.shape[0] - N_FRAMES + 1, step)
    patches = torch.stack([mel[s : s + N_FRAMES] for s in starts]) if len(starts) else None
    if patches is None:
        raise ValueError(f"{path} is shorter than one 3 s patch")
    outs: dict[str, list[torch.Tensor]] = {}
    for i in range(0, len(patches), batch_size):
        for k, v in model.encoder.net.layers(patches[i : i + batch_size]).items():
            outs.setdefault(k, []).append(v)
    cat = {k: torch.cat(v) for k, v in outs.items()}
    taggram = torch.sigmoid(cat.pop("logits")).numpy()
    features = {}
    for k, v in cat.items():
        if k in ("timbral", "temporal", "cnn1", "cnn2", "cnn3"):
            v = v.reshape(-1, v.shape[-1])  # (patches * frames, channels), as the original
        features[k] = v.numpy()
    return taggram, list(meta["vocab"]), features
