"""Verification: trials of two files scored by the cosine similarity of their embeddings.

No classifier. Each trial is scored by the cosine similarity of its two embeddings; the metrics
are the EER and the minimum normalised DCF (:func:`musicrep.metrics.eer`,
:func:`musicrep.metrics.min_dcf`; ``p_target`` 0.01, ``C_miss = C_fa = 1``), both as fractions.
Trials come from a trials file or, with ``task="verification"`` on a manifest, from every pair
of ``test`` rows (target = same label, e.g. the speaker or singer id).

Trials files
------------
A CSV with a header containing the columns ``enroll``, ``test`` and ``label`` (``1``/``0``, also
``target``/``nontarget`` or ``true``/``false``), or a VoxCeleb-style text file (``.txt``) with
one trial per line: ``LABEL ENROLL TEST`` separated by white space. Paths are relative to the
trials file's folder, or absolute.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from musicrep.data.manifest import Manifest
from musicrep.errors import ConfigError, ManifestError
from musicrep.metrics import DCF_C_FA, DCF_C_MISS, DCF_P_TARGET, eer, min_dcf
from musicrep.probes.base import PROBES, EvalResult, Probe, stats

__all__ = [
    "MAX_PAIR_ROWS",
    "Trials",
    "VerificationProbe",
    "cosine_scores",
    "evaluate_verification",
    "is_trials_file",
    "pair_trials",
    "read_trials",
]

#: Above this many rows, pairing every test row with every other is refused (use trials).
MAX_PAIR_ROWS = 20000

_TRUE = {"1", "target", "true", "yes", "tgt"}
_FALSE = {"0", "nontarget", "non-target", "false", "no", "imp", "impostor"}


@dataclass
class Trials:
    """A verification trial list: pairs of files and whether they share an identity.

    Attributes
    ----------
    enroll, test : list of Path
        The two files of each trial (absolute).
    labels : np.ndarray of int, shape (trials,)
        1 for target trials (same identity), 0 for non-target trials.
    root : Path
        Folder relative paths were resolved against.
    source : str
        The file the trials came from.
    """

    enroll: list[Path]
    test: list[Path]
    labels: np.ndarray
    root: Path
    source: str = "<trials>"

    def __len__(self) -> int:
        return len(self.labels)

    def files(self) -> list[Path]:
        """Every distinct file of the trials, in first-seen order."""
        return list(dict.fromkeys([*self.enroll, *self.test]))


def is_trials_file(path: str | Path) -> bool:
    """``True`` for a ``.txt`` file, or a CSV whose header has ``enroll`` and ``test``."""
    path = Path(path)
    if path.suffix.lower() == ".txt":
        return True
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            header = next(csv.reader(fh), [])
    except (OSError, UnicodeDecodeError, csv.Error):
        return False
    cols = {h.strip() for h in header}
    return {"enroll", "test"} <= cols


def _parse_label(value: str, source: str, line: int) -> int:
    v = value.strip().lower()
    if v in _TRUE:
        return 1
    if v in _FALSE:
        return 0
    raise ManifestError(
        source, line, f"trial label {value!r} is not 1/0", "write 1 for target, 0 for non-target"
    )


def read_trials(path: str | Path) -> Trials:
    """Read a trials file (CSV ``enroll,test,label`` or VoxCeleb ``LABEL ENROLL TEST`` text).

    Raises
    ------
    ManifestError
        Naming the file and line: missing columns, wrong field count, bad label, no trials.
    """
    path = Path(path)
    if not path.is_file():
        raise ManifestError(path, None, "trials file not found")
    root = Path(os.path.abspath(path.parent))
    enroll: list[Path] = []
    test: list[Path] = []
    labels: list[int] = []
    source = str(path)

    def absolute(p: str) -> Path:
        pp = Path(p.strip())
        return Path(os.path.abspath(pp if pp.is_absolute() else root / pp))

    with open(path, newline="", encoding="utf-8-sig") as fh:
        if path.suffix.lower() == ".txt":
            for line, text in enumerate(fh, start=1):
                fields = text.split()
                if not fields:
                    continue
                if len(fields) != 3:
                    raise ManifestError(
                        source, line, f"{len(fields)} fields; expected LABEL ENROLL TEST"
                    )
                labels.append(_parse_label(fields[0], source, line))
                enroll.append(absolute(fields[1]))
                test.append(absolute(fields[2]))
        else:
            reader = csv.reader(fh)
            header = [h.strip() for h in next(reader, [])]
            missing = [c for c in ("enroll", "test", "label") if c not in header]
            if missing:
                raise ManifestError(
                    source,
                    1,
                    f"missing column(s) {', '.join(missing)}",
                    "a trials CSV has the columns enroll,test,label",
                )
            col = {c: header.index(c) for c in ("enroll", "test", "label")}
            for cells in reader:
                line = reader.line_num
                if not cells or all(not c.strip() for c in cells):
                    continue
                if len(cells) != len(header):
                    raise ManifestError(
                        source, line, f"{len(cells)} fields but the header has {len(header)}"
                    )
                labels.append(_parse_label(cells[col["label"]], source, line))
                enroll.append(absolute(cells[col["enroll"]]))
                test.append(absolute(cells[col["test"]]))
    if not labels:
        raise ManifestError(source, None, "no trials")
    return Trials(enroll, test, np.asarray(labels, dtype=np.int64), root, source)


def cosine_scores(a: np.ndarray, b: np.ndarray, eps: float = 1e-12) -> np.ndarray:
    """Row-wise cosine similarity of ``a (n, D)`` and ``b (n, D)`` -> ``(n,)`` in [-1, 1]."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    na = np.maximum(np.linalg.norm(a, axis=1), eps)
    nb = np.maximum(np.linalg.norm(b, axis=1), eps)
    return np.einsum("nd,nd->n", a, b) / (na * nb)


def evaluate_verification(
    enroll_X: np.ndarray,
    test_X: np.ndarray,
    labels: np.ndarray,
    *,
    p_target: float = DCF_P_TARGET,
    c_miss: float = DCF_C_MISS,
    c_fa: float = DCF_C_FA,
) -> EvalResult:
    """EER and minDCF of cosine-scored trials.

    Parameters
    ----------
    enroll_X, test_X : np.ndarray, shape (trials, D)
        Embeddings of the two sides of each trial.
    labels : np.ndarray, shape (trials,)
        1 target, 0 non-target.
    p_target, c_miss, c_fa : float
        Detection cost parameters (:func:`musicrep.metrics.min_dcf`).
    """
    labels = np.asarray(labels).astype(np.int64).reshape(-1)
    if enroll_X.shape != test_X.shape or enroll_X.shape[0] != labels.shape[0]:
        raise ConfigError(
            f"trial arrays disagree: {enroll_X.shape}, {test_X.shape}, {labels.shape[0]} labels"
        )
    n_target = int(labels.sum())
    if n_target == 0 or n_target == len(labels):
        raise ConfigError(
            f"the {len(labels)} trials are all {'targets' if n_target else 'non-targets'}",
            "verification needs both target (same identity) and non-target trials",
        )
    scores = cosine_scores(enroll_X, test_X)
    e, e_thr = eer(labels, scores, return_threshold=True)
    d, d_thr = min_dcf(
        labels, scores, p_target=p_target, c_miss=c_miss, c_fa=c_fa, return_threshold=True
    )
    metrics = {
        "eer": {**stats([e]), "over": "trials"},
        "min_dcf": {**stats([d]), "over": "trials"},
    }
    part = {
        "name": "trials",
        "fold": None,
        "n_train": 0,
        "n_valid": 0,
        "n_test": int(len(labels)),
        "n_target": n_target,
        "n_nontarget": int(len(labels) - n_target),
        "metrics": {k: stats([v]) for k, v in (("eer", e), ("min_dcf", d))},
        "eer_threshold": e_thr,
        "min_dcf_threshold": d_thr,
        "skipped_tags": {},
    }
    config = {
        "task": "verification",
        "scoring": "cosine similarity",
        "p_target": p_target,
        "c_miss": c_miss,
        "c_fa": c_fa,
    }
    return EvalResult(
        "verification", "cosine", metrics, [part], 0, int(len(labels)), {}, config, [], []
    )


def pair_trials(manifest: Manifest, X: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every pair of test rows (of all rows, without a test split) as a trial."""
    split = np.array([r.split for r in manifest])
    idx = np.flatnonzero(split == "test") if (split == "test").any() else np.arange(len(split))
    n = len(idx)
    if n < 2:
        raise ConfigError("verification needs at least 2 test rows")
    if n > MAX_PAIR_ROWS:
        raise ConfigError(
            f"{n} test rows make {n * (n - 1) // 2} pairs",
            "pass a trials file (enroll,test,label) listing the trials to score",
        )
    rows = Manifest([manifest[i] for i in idx], manifest.root, source=manifest.source)
    ids = rows.label_indices()
    a, b = np.triu_indices(n, k=1)
    return X[idx[a]], X[idx[b]], (ids[a] == ids[b]).astype(np.int64)


@PROBES.register("verification")
class VerificationProbe(Probe):
    """Cosine scoring of trials: EER and minDCF, nothing trained.

    Parameters
    ----------
    p_target, c_miss, c_fa : float
        Detection cost parameters (:func:`musicrep.metrics.min_dcf`).
    """

    name = "verification"
    options = ("p_target", "c_miss", "c_fa")
    kind = "trials"

    def __init__(
        self, p_target: float = DCF_P_TARGET, c_miss: float = DCF_C_MISS, c_fa: float = DCF_C_FA
    ):
        self.p_target, self.c_miss, self.c_fa = p_target, c_miss, c_fa

    def score_trials(
        self, enroll_X: np.ndarray, test_X: np.ndarray, labels: np.ndarray
    ) -> EvalResult:
        """:func:`evaluate_verification` with this probe's cost parameters."""
        return evaluate_verification(
            enroll_X, test_X, labels, p_target=self.p_target, c_miss=self.c_miss, c_fa=self.c_fa
        )

    def score_rows(self, X: np.ndarray, manifest: Manifest) -> EvalResult:
        """Every pair of ``test`` rows as a trial (:func:`pair_trials`), scored."""
        result = self.score_trials(*pair_trials(manifest, X))
        result.config["trials"] = "all pairs of test rows"
        return result
