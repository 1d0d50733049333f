"""The benchmark report: ``report.md``, ``report.html``, ``results.json`` and the charts.

Everything is rendered from the results document, so a report can be re-rendered from its
``results.json`` (``render_report(json.load(...), folder)``).
"""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from musicrep.benchmark.plot import plot_task
from musicrep.benchmark.scores import (
    FRACTION_METRICS,
    METRIC_LABELS,
    best,
    cell_score,
    fmt_score,
    metric_unit,
)

__all__ = ["cca_section", "command_lines", "format_results", "render_report"]


def _slug(text: str, n: int = 60) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._")[:n] or "x"


def _fmt_seconds(x: float | None) -> str:
    return "–" if x is None else f"{x:.1f}"


def _cell(document: Mapping[str, Any], task: str, label: str) -> Mapping[str, Any]:
    return document["results"][task].get(label, {})


def _cli_label(label: str) -> str:
    """A label ``musicrep analyze cca --embeddings LABEL=FILE`` accepts (no path separator)."""
    return re.sub(r"[/\\]", "_", label)


def command_lines(document: Mapping[str, Any]) -> list[str]:
    """Commands that redo each step on its own."""
    s = document["settings"]
    q = shlex.quote
    lines = []
    c = document.get("corpus")
    if c:
        lines += [
            "# the corpus dataset",
            f"musicrep data corpus --out {q(c['dir'])} --clips {c['clips']} "
            f"--seconds {c['seconds']:g}",
        ]
    probe = f"--protocol {s['protocol']} --repeats {s['repeats']} --seed {s['seed']}"
    if s["protocol"] == "hear":
        probe += f" --grid {s['grid']}"
    for e in document["models"]:
        lines.append(
            f"# {e['label']}: embed + evaluate each task (cached embeddings: {e['embeddings']})"
            if e["status"] != "failed"
            else f"# {e['label']}"
        )
        for t in document["tasks"]:
            lines.append(
                f"musicrep evaluate --model {q(e['spec'])} --manifest {q(t['manifest'])} {probe}"
                + ("" if s["device"] == "cpu" else f" --device {q(s['device'])}")
            )
    cd = document.get("cca")
    if cd and cd.get("manifest"):
        args = " ".join(
            f"--embeddings {q(_cli_label(e['label']) + '=' + e['embeddings'])}"
            for e in document["models"]
            if e["status"] != "failed"
        )
        lines += [
            "# correlation with descriptors",
            f"musicrep analyze cca {args} --manifest {q(cd['manifest'])} "
            + (f"--split {cd['split']} " if cd.get("split") else "")
            + f"--max-clips {s['cca_clips']} --method {s['cca_method']} --seed {s['seed']} "
            f"--out {q(str(Path(document['out']) / 'cca'))}",
        ]
    return lines


def format_results(document: Mapping[str, Any]) -> str:
    """The headline table as plain text (tasks x models, mean ± std), for a terminal."""
    labels = [m["label"] for m in document["models"]]
    rows = [["task", "metric", *labels]]
    for t in document["tasks"]:
        prim = t["metrics"][0]
        row = [t["name"], metric_unit(prim)]
        for label in labels:
            cell = _cell(document, t["name"], label)
            if cell.get("status") == "ok":
                row.append(fmt_score(cell_score(cell["result"]["metrics"][prim], prim)))
            else:
                row.append("failed")
        rows.append(row)
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))
        for r in rows
    )


def _score_rows(document: Mapping[str, Any], k: int) -> list[list[str]]:
    """One row per task: its ``k``-th metric for every model, the best ones in bold."""
    models, rows = document["models"], []
    for t in document["tasks"]:
        metric = t["metrics"][k]
        scores = {}
        for m in models:
            cell = _cell(document, t["name"], m["label"])
            if cell.get("status") == "ok":
                scores[m["label"]] = cell_score(cell["result"]["metrics"][metric], metric)
        top = best(scores) if len(scores) > 1 else set()
        cells = []
        for m in models:
            if m["label"] not in scores:
                cells.append("failed")
                continue
            sc = scores[m["label"]]
            prec = 3 if metric in FRACTION_METRICS else 2
            text = f"{sc.mean:.{prec}f} ± {sc.std:.{prec}f}"
            cells.append(f"**{text}**" if m["label"] in top else text)
        rows.append([t["name"], metric_unit(metric), *cells])
    return rows


def _results_section(r, document: Mapping[str, Any], pngs: Mapping[str, Path]) -> None:
    s, models = document["settings"], document["models"]
    r.add_heading("Results")
    protocol_text = (
        "StandardScaler + sklearn MLPClassifier(256) with sklearn defaults, trained on the train "
        "split, tested on the test split (COALA)"
        if s["protocol"] == "coala"
        else f"hear-eval-kit's MLP probe, '{s['grid']}' grid searched on the validation split"
    )
    r.add_paragraph(
        f"Headline metric of each task (percent), mean ± std over {s['repeats']} probe "
        f"training(s) ({protocol_text}); for fold tasks the std is over repeats of the "
        "fold-averaged score. **Bold**: the best, and every model within sqrt(std1² + std2²) "
        "of it."
    )
    header = ["task", "metric", *[m["label"] for m in models]]
    for k in (0, 1):
        if k == 1:
            r.add_paragraph("Second metric of each task:")
        r.add_table(
            _score_rows(document, k), header, align=["left", "left", *["right"] * len(models)]
        )
    for t in document["tasks"]:
        r.add_figure(
            pngs[t["name"]],
            f"{t['name']}: {METRIC_LABELS[t['metrics'][0]]} per model (error bars: std)",
        )


def _tasks_section(r, document: Mapping[str, Any]) -> None:
    r.add_heading("Tasks")
    r.add_table(
        [
            [t["name"], f"`{t['manifest']}`", t["type"], t["rows"], t["files"]]
            for t in document["tasks"]
        ],
        ["task", "manifest", "type", "rows", "files"],
        align=["left", "left", "left", "right", "right"],
    )
    if document.get("corpus"):
        c = document["corpus"]
        r.add_paragraph(
            f"Built-in corpus: `{c['dir']}`, {c['clips']} clips x {c['seconds']:g} s"
            + (" (built by this run)." if c.get("built") else " (an existing build, reused).")
        )


def _model_row(e: Mapping[str, Any]) -> list[Any]:
    rate = None
    if e.get("embed_seconds"):
        rate = (e.get("audio_seconds") or 0.0) / e["embed_seconds"]
    return [
        e["label"],
        f"`{e['spec']}`",
        e.get("model_name") or "–",
        e.get("embed_dim") or "–",
        e["status"] + (" (cached)" if e.get("cached") else ""),
        f"{e.get('embedded', 0)}/{e.get('files', '–')}",
        _fmt_seconds(e.get("load_seconds")),
        _fmt_seconds(e.get("embed_seconds")),
        _fmt_seconds(e.get("audio_seconds")),
        "–" if rate is None else f"{rate:.1f}",
    ]


def _models_section(r, document: Mapping[str, Any]) -> None:
    tasks, models = document["tasks"], document["models"]
    r.add_heading("Models and timings")
    header = ["model", "spec", "identity", "dim", "status", "files"]
    header += ["load (s)", "embed (s)", "audio (s)", "audio s/s"]
    r.add_table([_model_row(e) for e in models], header, align=["left"] * 5 + ["right"] * 5)
    r.add_paragraph(
        "Embedding time covers decoding, resampling and the forward passes over the union of "
        "the tasks' files (each decoded once per model); a cached model shows the timing of the "
        f"run that computed it. Cache: `{document['settings']['cache_dir']}`."
    )
    eval_rows = [
        [
            t["name"],
            *[_fmt_seconds(_cell(document, t["name"], m["label"]).get("seconds")) for m in models],
        ]
        for t in tasks
    ]
    r.add_paragraph("Probe training and scoring time (s):")
    r.add_table(
        eval_rows, ["task", *[m["label"] for m in models]], align=["left", *["right"] * len(models)]
    )
    notes = []
    for t in tasks:
        for m in models:
            for n in _cell(document, t["name"], m["label"]).get("result", {}).get("notes", []):
                notes.append(f"{m['label']} on {t['name']}: {n}")
    if notes:
        r.add_paragraph("Notes from the evaluation:")
        r.add_list(sorted(set(notes))[:40])


def cca_section(
    r,
    document: Mapping[str, Any],
    out_dir: Path,
    *,
    title: str = "Correlation with descriptors",
    paper: Mapping[str, Mapping[str, Mapping[str, float]]] | None = None,
    mapping: Mapping[str, str] | None = None,
    note: str = "",
) -> None:
    """The correlation analysis table (and chart); ``paper`` adds a paper's columns
    (``{paper model: {descriptor: {stat: value}}}``), ``mapping`` names our columns after them."""
    from musicrep.analysis.descriptors import ALL_DESCRIPTORS, STATS

    c, paper, mapping = document["cca"], paper or {}, mapping or {}
    r.add_heading(title, level=3)
    if c.get("status") == "failed":
        r.add_paragraph(f"The correlation analysis failed: {c.get('error')}")
        return
    r.add_paragraph(
        f"{c['method_description']}, between each model's clip embeddings and the frame "
        f"statistics of librosa descriptors, on N = {c['n_clips']} "
        f"{c['split'] + ' ' if c.get('split') else ''}clips of "
        f"`{c['task']}` (full report: `{c['files']['md']}`). In parentheses: the permutation "
        "baseline (unrelated data)." + note
    )
    labels = list(c["results"])
    header = ["descriptor", "stat", *[f"{pm} (paper)" for pm in paper]]
    header += [f"{lab} ({mapping[lab]})" if lab in mapping else lab for lab in labels]
    rows = []
    for d in ALL_DESCRIPTORS:
        if not any(d in c["results"][lab] for lab in labels):
            continue
        for st in (*STATS, "all"):
            row = [d, st]
            for pm in paper:
                v = paper[pm][d].get(st) if d in paper[pm] else None
                row.append("–" if v is None else f"{v:.2f}")
            for lab in labels:
                v = c["results"][lab].get(d, {}).get(st)
                b = c["baselines"][lab].get(d, {}).get(st)
                row.append(
                    "n/a" if v is None else f"{v:.2f}" + ("" if b is None else f" ({b:.2f})")
                )
            rows.append(row)
    r.add_table(rows, header, align=["left", "left", *["right"] * (len(header) - 2)])
    png = c["files"].get("png")
    if png and (out_dir / png).is_file():
        r.add_figure(
            out_dir / png, "Similarity per descriptor statistic; black ticks: permutation baselines"
        )


def _charts(document: Mapping[str, Any], out_dir: Path) -> dict[str, Path]:
    pngs: dict[str, Path] = {}
    used: set[str] = set()
    for t in document["tasks"]:
        name = _slug(t["name"])
        while name in used or name in ("report", "results", "cca", "manifests"):
            name += "_"
        used.add(name)
        pngs[t["name"]] = out_dir / f"{name}.png"
        plot_task(document, t, pngs[t["name"]])
    return pngs


def _closing_sections(r, document: Mapping[str, Any]) -> None:
    if document["failures"]:
        r.add_heading("Failures")
        r.add_list([f"**{f['what']}**: {f['error']}" for f in document["failures"]])
    r.add_heading("Commands")
    if document.get("command"):
        r.add_paragraph(f"Run in `{document['cwd']}` as:")
        r.add_code(document["command"], "sh")
    r.add_paragraph("Each step on its own:")
    r.add_code("\n".join(command_lines(document)), "sh")
    r.add_heading("Versions")
    r.add_table([[k, v] for k, v in document["environment"].items()], ["package", "version"])


def render_report(document: Mapping[str, Any], out: str | os.PathLike) -> dict[str, Path]:
    """Write the charts, ``results.json``, ``report.md`` and ``report.html`` of a document.

    Every file is written atomically. Returns their paths: ``"md"``, ``"html"``, ``"json"``
    and one PNG per task (key: the task name).
    """
    from musicrep.benchmark.reproductions import REPRODUCTIONS
    from musicrep.report import Report
    from musicrep.utils import write_json_atomic

    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    pngs = _charts(document, out_dir)
    paths: dict[str, Path] = dict(pngs)
    write_json_atomic(out_dir / "results.json", document)
    paths["json"] = out_dir / "results.json"
    s, n_fail = document["settings"], len(document["failures"])
    r = Report(document["title"])
    r.add_paragraph(
        f"{len(document['tasks'])} task(s) x {len(document['models'])} model(s), "
        f"**{s['protocol']}** probe protocol, {s['repeats']} repeat(s) from seed {s['seed']}; "
        f"created {document['created']}, wall time {document['wall_seconds']:.1f} s."
        + (f" **{n_fail} failure(s)**: see the Failures section." if n_fail else "")
    )
    _results_section(r, document, pngs)
    ref = document.get("reference")
    if ref:
        REPRODUCTIONS.create(ref["name"]).render(r, document, ref, out_dir)
    elif document.get("cca"):
        cca_section(r, document, out_dir)
    _tasks_section(r, document)
    _models_section(r, document)
    _closing_sections(r, document)
    md, html_path = r.write(out_dir)
    paths["md"], paths["html"] = md, html_path
    return paths
