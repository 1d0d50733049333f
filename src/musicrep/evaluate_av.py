"""The audio-visual speaker verification table (Sarı et al. 2021): EER and minDCF per condition.

:func:`evaluate_av` embeds every utterance of a split with an AV model (the audio of
``chunks`` equally spaced windows and the face frames that show each window, embeddings
averaged over the windows), scores a trial list with the cosine of L2-normalised embeddings
and reports, per condition:

- ``audio``: audio enrolment, audio test;
- ``visual``: face enrolment, face test;
- ``fused``: the model's AV embedding on both sides (the fusion embedding of the
  concatenation baseline; the concatenated L2-normalised audio and face embeddings of the
  shared-classifier model);
- ``audio->visual`` and ``visual->audio``: cross-modal trials (enrolment with one modality,
  test with the other), computed only for a model whose modalities share one space
  (:attr:`~musicrep.models.av.AVModel.cross_modal`); for the fusion baseline they are
  refused (recorded as ``refused`` in the table, never a number).

:func:`write_av_report` writes the table of one or more models as Markdown, HTML
(:class:`musicrep.report.Report`), CSV and JSON; ``musicrep evaluate-av`` runs both.

Trials: a VoxCeleb-format text file (``1/0 enrol_path test_path``, relative paths resolved
against the file's folder; the Vox1-O list works as published once paths resolve) or a CSV
``enroll,test,label`` (:func:`musicrep.probes.verification.read_trials`); without one, every
pair of rows of the split (same label = target).
"""

from __future__ import annotations

import csv
import io as _io
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from musicrep.errors import ConfigError
from musicrep.models.av import AV_CONDITIONS, CROSS_MODAL, av_verification_table

__all__ = [
    "default_trials",
    "embed_av",
    "evaluate_av",
    "trial_rows",
    "write_av_report",
]

#: Name of the trial list the built-in AV dataset writes beside its manifest.
TRIALS_NAME = "trials_test.txt"


def default_trials(manifest_path: str | os.PathLike | None) -> Path | None:
    """``trials_test.txt`` beside the manifest, if there is one."""
    if not manifest_path or str(manifest_path).startswith("<"):
        return None
    p = Path(manifest_path).parent / TRIALS_NAME
    return p if p.is_file() else None


def embed_av(
    model: torch.nn.Module,
    manifest,
    split: str | None = "test",
    *,
    frames: dict | None = None,
    chunks: int = 2,
    batch_size: int = 8,
    device: str | torch.device = "cpu",
    num_workers: int = 0,
    show_progress: bool = False,
) -> tuple[list[Path], list[str], dict[str, np.ndarray]]:
    """Embeddings of every utterance of ``split``.

    Returns
    -------
    paths : list of Path
        The audio file of each row of the arrays (rows that failed to decode are left out).
    labels : list of str
        Each row's label ("" without one).
    embeddings : dict
        ``"audio"``, ``"visual"``, ``"fused"``: ``(utterances, D)`` float32 (means over the
        windows; scoring normalises them).
    """
    from torch.utils.data import DataLoader

    from musicrep.objectives.base import View
    from musicrep.training.data import ViewDataset
    from musicrep.utils import progress

    encoder = model.encoder
    if frames is None:
        frames = dict(getattr(model, "frames", None) or {})
    views = [
        View("wave", kind="track", chunks=int(chunks)),
        View("frames", kind="frames", source="wave", options=dict(frames or {})),
    ]
    ds = ViewDataset(
        manifest,
        split,
        views,
        [],
        int(encoder.sample_rate),
        int(encoder.input_samples),
        None,
        endpoint=True,
    )
    if len(ds) == 0:
        raise ConfigError(
            f"no usable rows in split {split!r} of {getattr(manifest, 'source', 'the manifest')}",
            "check the split column (the test speakers are in split 'test')",
        )
    loader = DataLoader(ds, batch_size=batch_size, shuffle=False, num_workers=num_workers)
    device = torch.device(device)
    model = model.to(device).eval()
    out: dict[str, list[np.ndarray]] = {k: [] for k in ("audio", "visual", "fused")}
    keep: list[int] = []
    with torch.no_grad():
        for batch in progress(loader, desc=f"embedding {split}", disable=not show_progress):
            wave = batch["wave"].to(device)
            b, c = wave.shape[:2]
            emb = model.embed(
                wave.flatten(0, 1),
                batch["frames"].to(device).flatten(0, 1),
                batch["frames_mask"].to(device).flatten(0, 1),
            )
            for k in out:
                out[k].append(emb[k].view(b, c, -1).mean(1).float().cpu().numpy())
            ok = batch["ok"].tolist()
            keep += [int(i) for i, good in zip(batch["index"].tolist(), ok) if good]
    arrays = {k: np.concatenate(v) for k, v in out.items()}
    arrays = {k: v[keep] for k, v in arrays.items()}  # rows are dataset indices (no shuffle)
    paths = [Path(os.path.abspath(ds.items[i].path)) for i in keep]
    lines = {os.path.abspath(r.path): ";".join(r.labels) for r in manifest}
    labels = [lines.get(str(p), "") for p in paths]
    return paths, labels, arrays


def trial_rows(
    trials: str | os.PathLike | None, paths: Sequence[Path], labels: Sequence[str]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """``(enroll rows, test rows, target labels, trials left out)`` of a trial list against
    embedded utterances ``paths`` (trials naming a file that was not embedded are left out and
    counted); without ``trials`` every pair of utterances (same label = target).

    A trial path matches an utterance with the same absolute path (relative trial paths are
    resolved against the trials file's folder), else one whose trailing path components equal
    the trial's relative path (so the official Vox1-O list, ``id10270/x6uYqmx31kE/00001.wav``,
    works wherever the file lies); an ambiguous tail matches nothing."""
    if trials is None:
        n = len(paths)
        if n < 2:
            raise ConfigError("verification needs at least 2 utterances")
        a, b = np.triu_indices(n, k=1)
        lab = np.asarray(labels)
        return a, b, (lab[a] == lab[b]).astype(np.int64), 0
    from musicrep.probes.verification import read_trials

    t = read_trials(trials)
    index = {str(p): i for i, p in enumerate(paths)}
    by_tail: dict[int, dict[tuple, int | None]] = {}

    def find(p: Path) -> int | None:
        i = index.get(os.path.abspath(p))
        if i is not None:
            return i
        try:
            tail = Path(p).relative_to(t.root).parts
        except ValueError:
            return None
        k = len(tail)
        if k not in by_tail:  # trailing k components -> row (None when ambiguous)
            table: dict[tuple, int | None] = {}
            for row, q in enumerate(paths):
                key = q.parts[-k:]
                table[key] = None if key in table else row
            by_tail[k] = table
        return by_tail[k].get(tuple(tail))

    enroll, test, keep = [], [], []
    for j, (e, s) in enumerate(zip(t.enroll, t.test)):
        ie, it = find(e), find(s)
        if ie is not None and it is not None:
            enroll.append(ie)
            test.append(it)
            keep.append(j)
    if not keep:
        example = t.enroll[0]
        raise ConfigError(
            f"{trials}: none of the {len(t)} trials names an utterance of the evaluated split "
            f"(first enrolment file: {example})",
            "trial paths must match the manifest's audio paths (absolute, relative to the "
            "trials file's folder, or by their trailing components)",
        )
    return (
        np.asarray(enroll),
        np.asarray(test),
        t.labels[np.asarray(keep)],
        len(t) - len(keep),
    )


def evaluate_av(
    model: torch.nn.Module,
    manifest,
    *,
    trials: str | os.PathLike | None = None,
    split: str | None = "test",
    frames: dict | None = None,
    chunks: int = 2,
    batch_size: int = 8,
    device: str | torch.device = "cpu",
    num_workers: int = 0,
    show_progress: bool = False,
) -> dict[str, Any]:
    """The AV verification table of ``model`` (an :class:`~musicrep.models.av.AVModel`).

    Returns a dict with ``conditions`` (``condition -> {"eer", "min_dcf", "trials"}``; the
    cross-modal ones of a non-cross-modal model are ``{"refused": reason}``), ``metrics``
    (flat ``<condition>_eer`` / ``_min_dcf`` numbers), ``cross_modal``, ``n_utterances``,
    ``n_trials``, ``n_targets``, ``trials_left_out`` and ``trials``.
    """
    paths, labels, emb = embed_av(
        model,
        manifest,
        split,
        frames=frames,
        chunks=chunks,
        batch_size=batch_size,
        device=device,
        num_workers=num_workers,
        show_progress=show_progress,
    )
    enroll, test, target, left_out = trial_rows(trials, paths, labels)
    cross = bool(getattr(model, "cross_modal", False))
    conditions = [c for c in AV_CONDITIONS if cross or c not in CROSS_MODAL]
    table: dict[str, Any] = av_verification_table(
        emb, enroll, test, target, cross_modal=cross, conditions=conditions
    )
    if not cross:
        for c in CROSS_MODAL:
            table[c] = {"refused": "no shared audio-visual space (concatenation fusion)"}
    metrics = {}
    for c, row in table.items():
        for k in ("eer", "min_dcf"):
            if k in row:
                metrics[f"{c}_{k}"] = row[k]
    return {
        "task": "av_verification",
        "conditions": {c: table[c] for c in AV_CONDITIONS},
        "metrics": metrics,
        "cross_modal": cross,
        "split": split,
        "n_utterances": len(paths),
        "n_trials": int(len(target)),
        "n_targets": int(np.sum(target)),
        "trials_left_out": int(left_out),
        "trials": str(trials) if trials else "every pair of utterances",
        "scoring": "cosine similarity of L2-normalised embeddings (mean over windows)",
    }


def _cell(row: dict, key: str) -> str:
    if "refused" in row:
        return "refused"
    return f"{100 * row[key]:.1f}" if key == "eer" else f"{row[key]:.3f}"


def write_av_report(
    results: dict[str, dict[str, Any]],
    out: str | os.PathLike,
    *,
    command: str | None = None,
    title: str = "Audio-visual speaker verification",
) -> dict[str, Path]:
    """Write ``results`` (``model name -> evaluate_av(...)``) to ``out``: ``av_table.md`` /
    ``.html`` (EER % and minDCF per condition), ``av_table.csv`` and ``av_results.json``."""
    from musicrep.report import Report
    from musicrep.utils import write_json_atomic, write_text_atomic

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    header = ["model", *[f"{c} EER %" for c in AV_CONDITIONS]]
    header_dcf = ["model", *[f"{c} minDCF" for c in AV_CONDITIONS]]
    eer_rows = [
        [name, *[_cell(r["conditions"][c], "eer") for c in AV_CONDITIONS]]
        for name, r in results.items()
    ]
    dcf_rows = [
        [name, *[_cell(r["conditions"][c], "min_dcf") for c in AV_CONDITIONS]]
        for name, r in results.items()
    ]
    report = Report(title)
    first = next(iter(results.values()))
    report.add_paragraph(
        f"{first['n_trials']} trials ({first['n_targets']} target) over "
        f"{first['n_utterances']} utterances of split `{first['split']}`; trials: "
        f"`{first['trials']}`. Scores: {first['scoring']}. Cross-modal conditions "
        "(`audio->visual`: audio enrolment, face test; `visual->audio`: the reverse) are "
        "refused for models without a shared audio-visual space."
    )
    report.add_heading("EER (%)")
    report.add_table(eer_rows, header=header)
    report.add_heading("minDCF (p_target 0.01)")
    report.add_table(dcf_rows, header=header_dcf)
    if command:
        report.add_heading("Command")
        report.add_code(command, "sh")
    md, html = report.write(out, "av_table")
    buf = _io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["model", "condition", "eer", "min_dcf", "trials", "refused"])
    for name, r in results.items():
        for c in AV_CONDITIONS:
            row = r["conditions"][c]
            if "refused" in row:
                w.writerow([name, c, "", "", "", row["refused"]])
            else:
                w.writerow(
                    [name, c, f"{row['eer']:.6f}", f"{row['min_dcf']:.6f}", row["trials"], ""]
                )
    write_text_atomic(out / "av_table.csv", buf.getvalue())
    write_json_atomic(out / "av_results.json", {"command": command, "models": results})
    return {"md": md, "html": html, "csv": out / "av_table.csv", "json": out / "av_results.json"}
