"""COALA (Favory et al. 2020, arXiv:2006.08386): the paper's numbers, its claims, the check.

``musicrep benchmark --reference coala`` adds the paper's Table 1 (:data:`COALA_TABLE1`,
downstream accuracies of AE-C, E-C, MFCC and CNN on NSynth, US8K and GTZAN) beside the models
labelled ``ae_c``, ``e_c``, ``mfcc``, ``cnn`` (``--models ae_c=RUN1,e_c=RUN2,cnn=RUN3,mfcc=mfcc``),
the paper's Table 2 (:data:`COALA_TABLE2`) beside the correlation analysis when ``cca=True``,
and a "Findings" section: each claim of the paper is checked by a rule on the numbers
(:func:`coala_findings`), applied to our numbers and, as a check of the rule, to the paper's.

The numbers of COALA live here and nowhere else.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from musicrep.benchmark.reproductions.base import REPRODUCTIONS, Reproduction
from musicrep.benchmark.scores import Score, cell_score, compare, fmt_score

__all__ = [
    "COALA_CITATION",
    "COALA_DESCRIPTORS",
    "COALA_MODELS",
    "COALA_STATS",
    "COALA_TABLE1",
    "COALA_TABLE2",
    "COALA_TASKS",
    "CoalaReproduction",
    "Finding",
    "coala_findings",
    "coala_reference",
    "paper_model",
    "paper_task",
]

#: Paper model names, in the order of the paper's claim AE-C > E-C > MFCC > CNN.
COALA_MODELS: tuple[str, ...] = ("AE-C", "E-C", "MFCC", "CNN")
#: Downstream tasks of COALA's Table 1.
COALA_TASKS: tuple[str, ...] = ("NSynth", "US8K", "GTZAN")
#: COALA Table 1: accuracy (%) as (mean, std) over 10 runs of the MLP probe. Means and stds
#: computed from the public repository's ``results/performances.json`` (xavierfav/coala); the
#: paper prints the means rounded to one decimal (e.g. E-C on US8K: 72.5).
COALA_TABLE1: dict[str, dict[str, tuple[float, float]]] = {
    "AE-C": {"NSynth": (73.13, 1.22), "US8K": (72.68, 0.22), "GTZAN": (60.73, 1.06)},
    "E-C": {"NSynth": (69.53, 1.18), "US8K": (72.55, 0.21), "GTZAN": (58.93, 1.44)},
    "MFCC": {"NSynth": (62.56, 1.07), "US8K": (65.83, 0.31), "GTZAN": (49.79, 1.15)},
    "CNN": {"NSynth": (56.41, 0.66), "US8K": (48.39, 0.38), "GTZAN": (46.96, 0.79)},
}
#: What each Table 1 task is (instrument family, urban sound events, music genre).
COALA_TASK_KIND = {
    "NSynth": "instrument family",
    "US8K": "urban sound events",
    "GTZAN": "music genre",
}
#: COALA Table 2: mean canonical correlation between the audio embedding and the frame
#: statistics (mean, variance, skewness) of librosa descriptors, on validation clips of the
#: pre-training set. The paper has no MFCC-baseline row.
COALA_TABLE2: dict[str, dict[str, dict[str, float]]] = {
    "AE-C": {
        "mfcc": {"mean": 0.84, "var": 0.51, "skew": 0.42},
        "chroma": {"mean": 0.48, "var": 0.37, "skew": 0.40},
        "spectral_centroid": {"mean": 0.97, "var": 0.87, "skew": 0.80},
        "spectral_bandwidth": {"mean": 0.96, "var": 0.86, "skew": 0.84},
    },
    "E-C": {
        "mfcc": {"mean": 0.58, "var": 0.49, "skew": 0.39},
        "chroma": {"mean": 0.38, "var": 0.36, "skew": 0.32},
        "spectral_centroid": {"mean": 0.93, "var": 0.82, "skew": 0.76},
        "spectral_bandwidth": {"mean": 0.92, "var": 0.82, "skew": 0.81},
    },
    "CNN": {
        "mfcc": {"mean": 0.73, "var": 0.43, "skew": 0.32},
        "chroma": {"mean": 0.59, "var": 0.33, "skew": 0.48},
        "spectral_centroid": {"mean": 0.95, "var": 0.76, "skew": 0.74},
        "spectral_bandwidth": {"mean": 0.91, "var": 0.72, "skew": 0.80},
    },
}
COALA_DESCRIPTORS: tuple[str, ...] = ("mfcc", "chroma", "spectral_centroid", "spectral_bandwidth")
COALA_STATS: tuple[str, ...] = ("mean", "var", "skew")
COALA_CITATION = (
    "X. Favory, K. Drossos, T. Virtanen, X. Serra. COALA: Co-aligned autoencoders for learning "
    "semantically enriched audio representations. ICML 2020 Workshop on Self-supervision in "
    "Audio and Speech (arXiv:2006.08386)"
)

#: Our tasks that stand in for COALA's (by name; the corpus tasks by what they classify).
_PAPER_TASK_PATTERNS = (
    ("NSynth", re.compile(r"nsynth", re.I)),
    ("US8K", re.compile(r"us8k|urbansound|urban[-_ ]?sound", re.I)),
    ("GTZAN", re.compile(r"gtzan", re.I)),
)
_CORPUS_ANALOGUES = {"corpus-instrument": "NSynth", "corpus-style": "GTZAN"}


@dataclass
class Finding:
    """One claim of the paper checked on numbers.

    Attributes
    ----------
    key : str
        Identifier (``table1.coala_beats_mfcc``, ...).
    claim : str
        The claim, as the paper makes it.
    rule : str
        How the verdict is computed.
    verdict : str
        ``"holds"``, ``"partly holds"``, ``"does not hold"`` or ``"not testable"``.
    evidence : list of str
        The comparisons behind the verdict.
    """

    key: str
    claim: str
    rule: str
    verdict: str
    evidence: list[str] = field(default_factory=list)


_NOT_TESTABLE = "not testable"


def _verdict(outcomes: Sequence[str], accept: Sequence[str]) -> str:
    if not outcomes:
        return _NOT_TESTABLE
    good = sum(o in accept for o in outcomes)
    if good == len(outcomes):
        return "holds"
    return "partly holds" if good else "does not hold"


def _pairwise_finding(
    key: str,
    claim: str,
    table: Mapping[str, Mapping[str, Score]],
    pairs: Sequence[tuple[str, str]],
    strict: bool,
) -> Finding:
    accept = (">",) if strict else (">", ">=")
    rule = (
        "on every task, the first model's mean exceeds the second's by more than "
        "sqrt(std1^2 + std2^2)"
        if strict
        else "on every task, the first model's mean is at least the second's (a lower mean "
        "counts against the claim even within the spread)"
    )
    outcomes, evidence = [], []
    for a, b in pairs:
        if a not in table or b not in table:
            continue
        for task in table[a]:
            if task not in table[b]:
                continue
            sa, sb = table[a][task], table[b][task]
            o = compare(sa, sb)
            outcomes.append(o)
            evidence.append(f"{task}: {a} {fmt_score(sa)} {o} {b} {fmt_score(sb)}")
    return Finding(key, claim, rule, _verdict(outcomes, accept), evidence)


def _close_finding(table: Mapping[str, Mapping[str, Score]]) -> Finding:
    claim = (
        "E-C comes close to AE-C: the contrastive objective alone gives most of the gain; the "
        "reconstruction adds little (most on NSynth, least on US8K)"
    )
    rule = (
        "on every task, |AE-C - E-C| is within sqrt(std1^2 + std2^2), or at most half of "
        "|AE-C - MFCC| (E-C keeps at least half of AE-C's gain over MFCC)"
    )
    outcomes, evidence = [], []
    if "AE-C" in table and "E-C" in table:
        for task, sa in table["AE-C"].items():
            se = table["E-C"].get(task)
            if se is None:
                continue
            gap = abs(sa.mean - se.mean)
            noise = math.hypot(sa.std, se.std)
            sm = table.get("MFCC", {}).get(task)
            gain = abs(sa.mean - sm.mean) if sm is not None else None
            close = gap <= noise or (gain is not None and gap <= 0.5 * gain)
            outcomes.append("close" if close else "far")
            extra = f", |AE-C - MFCC| {gain:.2f}" if gain is not None else ""
            evidence.append(
                f"{task}: |AE-C - E-C| {gap:.2f} (spread {noise:.2f}{extra}): "
                + ("close" if close else "not close")
            )
    return Finding(
        "table1.e_c_close_to_ae_c", claim, rule, _verdict(outcomes, ("close",)), evidence
    )


def _order_finding(table: Mapping[str, Mapping[str, Score]]) -> Finding:
    claim = "The ranking AE-C > E-C > MFCC > CNN holds on every downstream task"
    rule = "on every task, the four means are in this order (all four models needed)"
    outcomes, evidence = [], []
    if all(m in table for m in COALA_MODELS):
        tasks = [t for t in table["AE-C"] if all(t in table[m] for m in COALA_MODELS)]
        for task in tasks:
            scores = [table[m][task] for m in COALA_MODELS]
            sign = 1.0 if scores[0].higher_is_better else -1.0
            ok = all(sign * (x.mean - y.mean) > 0 for x, y in zip(scores, scores[1:]))
            ranked = sorted(COALA_MODELS, key=lambda m: -sign * table[m][task].mean)
            outcomes.append("yes" if ok else "no")
            evidence.append(f"{task}: {' > '.join(ranked)}")
    return Finding("table1.ranking", claim, rule, _verdict(outcomes, ("yes",)), evidence)


def _cells(table2: Mapping[str, Mapping[str, Mapping[str, float | None]]], model: str):
    return {
        (d, s): v
        for d, stats in table2.get(model, {}).items()
        for s, v in stats.items()
        if s in COALA_STATS and v is not None
    }


def _table2_findings(
    table2: Mapping[str, Mapping[str, Mapping[str, float | None]]] | None,
) -> list[Finding]:
    t2 = table2 or {}
    ae = _cells(t2, "AE-C")
    out = []

    # 1. AE structure -> higher correlation with the descriptors
    claim = (
        "Embeddings of the model with the autoencoder structure (AE-C) correlate more with the "
        "acoustic descriptors than those without (E-C, CNN)"
    )
    rule = (
        "AE-C is higher in more than half of the descriptor x statistic cells than E-C, and "
        "than CNN (holds: against every model present; partly: against some)"
    )
    outcomes, evidence = [], []
    for other in ("E-C", "CNN"):
        oc = _cells(t2, other)
        common = [c for c in ae if c in oc]
        if not ae or not common:
            continue
        wins = sum(ae[c] > oc[c] for c in common)
        outcomes.append("yes" if wins * 2 > len(common) else "no")
        evidence.append(f"AE-C > {other} in {wins} of {len(common)} cells")
    out.append(
        Finding("table2.ae_correlates_more", claim, rule, _verdict(outcomes, ("yes",)), evidence)
    )

    # 2. largest gain on the MFCC means
    claim = (
        "The reconstruction objective increases the correlation most with the MFCC means (timbre)"
    )
    rule = "the largest AE-C - E-C difference over all cells is on (MFCCs, mean)"
    ec = _cells(t2, "E-C")
    common = [c for c in ae if c in ec]
    evidence, outcomes = [], []
    if common and ("mfcc", "mean") in common:
        gains = {c: ae[c] - ec[c] for c in common}
        best = max(gains, key=lambda c: gains[c])
        outcomes.append("yes" if best == ("mfcc", "mean") else "no")
        evidence.append(
            f"AE-C - E-C on (mfcc, mean): {gains[('mfcc', 'mean')]:+.2f}; largest: "
            f"{best[0]} {best[1]} {gains[best]:+.2f}"
        )
    out.append(
        Finding(
            "table2.largest_gain_mfcc_mean", claim, rule, _verdict(outcomes, ("yes",)), evidence
        )
    )

    # 3. variance / skewness gain little
    claim = (
        "Correlations with the variance and skewness of the descriptors (temporal cues) increase "
        "much less than with the means"
    )
    rule = (
        "the average AE-C - E-C difference over the var/skew cells is below half of that over "
        "the mean cells, and the latter is positive"
    )
    evidence, outcomes = [], []
    means = [ae[c] - ec[c] for c in common if c[1] == "mean"]
    others = [ae[c] - ec[c] for c in common if c[1] != "mean"]
    if means and others:
        gm, go = float(np.mean(means)), float(np.mean(others))
        outcomes.append("yes" if gm > 0 and go < 0.5 * gm else "no")
        evidence.append(f"average AE-C - E-C: means {gm:+.3f}, var/skew {go:+.3f}")
    out.append(
        Finding("table2.temporal_gain_small", claim, rule, _verdict(outcomes, ("yes",)), evidence)
    )
    return out


def coala_findings(
    table1: Mapping[str, Mapping[str, Score]],
    table2: Mapping[str, Mapping[str, Mapping[str, float | None]]] | None = None,
) -> list[Finding]:
    """Check COALA's claims on a table of numbers.

    Parameters
    ----------
    table1 : mapping
        ``{paper model ("AE-C", "E-C", "MFCC", "CNN"): {task: Score}}``: downstream scores in
        display units (any tasks; a claim about "every task" uses all tasks both models have).
    table2 : mapping, optional
        ``{paper model: {descriptor: {"mean"|"var"|"skew": similarity}}}``, descriptors as in
        :data:`COALA_TABLE2`.

    Returns
    -------
    list of Finding
        Table 1 claims (AE-C and E-C beat MFCC; CNN is the worst; AE-C >= E-C; E-C close to
        AE-C; the full ranking) then Table 2 claims (AE-C correlates more; the largest gain is on
        the MFCC means; var/skew gain less). A claim whose models are missing is
        ``"not testable"``.

    Examples
    --------
    >>> paper = {m: {t: Score(*v) for t, v in row.items()} for m, row in COALA_TABLE1.items()}
    >>> [f.verdict for f in coala_findings(paper, COALA_TABLE2)]
    ['holds', 'holds', 'holds', 'holds', 'holds', 'holds', 'holds', 'holds']
    """
    findings = [
        _pairwise_finding(
            "table1.coala_beats_mfcc",
            "AE-C and E-C embeddings beat the MFCC baseline on every task",
            table1,
            [("AE-C", "MFCC"), ("E-C", "MFCC")],
            strict=True,
        ),
        _pairwise_finding(
            "table1.cnn_worst",
            "The supervised tag-prediction CNN is the worst: it does not even reach the MFCCs",
            table1,
            [("MFCC", "CNN"), ("E-C", "CNN"), ("AE-C", "CNN")],
            strict=True,
        ),
        _pairwise_finding(
            "table1.ae_c_at_least_e_c",
            "AE-C (with reconstruction) consistently leads to better results than E-C",
            table1,
            [("AE-C", "E-C")],
            strict=False,
        ),
        _close_finding(table1),
        _order_finding(table1),
    ]
    return findings + _table2_findings(table2)


def paper_model(label: str) -> str | None:
    """The COALA model a label stands for (``ae_c``/``AE-C`` -> ``"AE-C"``...), or None."""
    key = re.sub(r"[^a-z0-9]", "", label.lower())
    return {"aec": "AE-C", "ec": "E-C", "cnn": "CNN", "mfcc": "MFCC", "mfccs": "MFCC"}.get(key)


def paper_task(name: str) -> str | None:
    """The COALA task (``NSynth``, ``US8K``, ``GTZAN``) a task name matches or stands in for."""
    if name in _CORPUS_ANALOGUES:
        return _CORPUS_ANALOGUES[name]
    for task, pattern in _PAPER_TASK_PATTERNS:
        if pattern.search(name):
            return task
    return None


def coala_reference(document: Mapping[str, Any]) -> dict[str, Any]:
    """The COALA comparison of a benchmark document: mapping, our tables, findings."""
    mapping = {e["label"]: paper_model(e["label"]) for e in document["models"]}
    mapping = {k: v for k, v in mapping.items() if v}
    ours: dict[str, dict[str, Score]] = {}
    for label, pm in mapping.items():
        for t in document["tasks"]:
            cell = document["results"][t["name"]].get(label, {})
            if cell.get("status") != "ok":
                continue
            prim = t["metrics"][0]
            m = cell["result"]["metrics"][prim]
            ours.setdefault(pm, {})[t["name"]] = cell_score(m, prim)
    ours_t2 = None
    cca_doc = document.get("cca") or {}
    if cca_doc.get("results"):
        ours_t2 = {
            pm: cca_doc["results"][label]
            for label, pm in mapping.items()
            if label in cca_doc["results"]
        }
    paper_t1 = {m: {t: Score(*v) for t, v in row.items()} for m, row in COALA_TABLE1.items()}
    paper_findings = {f.key: f for f in coala_findings(paper_t1, COALA_TABLE2)}
    findings = []
    for f in coala_findings(ours, ours_t2):
        p = paper_findings[f.key]
        findings.append(
            {
                "key": f.key,
                "claim": f.claim,
                "rule": f.rule,
                "verdict": f.verdict,
                "evidence": f.evidence,
                "paper_verdict": p.verdict,
                "paper_evidence": p.evidence,
            }
        )
    return {
        "name": "coala",
        "citation": COALA_CITATION,
        "model_map": mapping,
        "task_map": {t["name"]: paper_task(t["name"]) for t in document["tasks"]},
        "table1": {m: {t: list(v) for t, v in row.items()} for m, row in COALA_TABLE1.items()},
        "table2": COALA_TABLE2,
        "ours_table1": {
            pm: {t: [s.mean, s.std] for t, s in row.items()} for pm, row in ours.items()
        },
        "findings": findings,
    }


def _table1_section(r, document: Mapping[str, Any], ref: Mapping[str, Any]) -> None:
    r.add_heading("COALA reproduction")
    r.add_paragraph(f"Reference: {ref['citation']}.")
    mapping = ref["model_map"]
    inverse = {pm: label for label, pm in mapping.items()}
    if not mapping:
        r.add_paragraph(
            "**No model is mapped to the paper's models**: label them "
            "`--models ae_c=RUN1,e_c=RUN2,cnn=RUN3,mfcc=mfcc`."
        )
    task_map = ref["task_map"]
    our_tasks = [t["name"] for t in document["tasks"]]
    r.add_heading("Table 1: downstream scores", level=3)
    r.add_paragraph(
        "Paper: accuracy (%) on NSynth (instrument family), US8K (urban sounds, 10 folds) and "
        "GTZAN (genre, fault-filtered split), mean ± std over 10 runs of the same MLP probe "
        "(xavierfav/coala `results/performances.json`). Ours: the headline metric of each task "
        "(the column names say which paper task it matches or stands in for: "
        "corpus-instrument ~ NSynth, corpus-style ~ GTZAN)."
    )
    ours = ref["ours_table1"]
    header = ["paper model", "our model"]
    header += [f"{t} (paper)" for t in COALA_TASKS]
    header += [f"{t} (ours{', ~' + task_map[t] if task_map.get(t) else ''})" for t in our_tasks]
    rows = []
    for pm in COALA_MODELS:
        row = [pm, inverse.get(pm, "–")]
        row += [f"{COALA_TABLE1[pm][t][0]:.2f} ± {COALA_TABLE1[pm][t][1]:.2f}" for t in COALA_TASKS]
        for t in our_tasks:
            v = ours.get(pm, {}).get(t)
            row.append("–" if v is None else f"{v[0]:.2f} ± {v[1]:.2f}")
        rows.append(row)
    r.add_table(rows, header, align=["left", "left", *["right"] * (len(header) - 2)])


def _findings_section(r, ref: Mapping[str, Any]) -> None:
    r.add_heading("Findings", level=3)
    r.add_paragraph(
        "Each claim of the paper is checked by the rule given, on our numbers and, as a check of "
        "the rule, on the paper's own numbers. 'not testable': a model the claim needs is "
        "missing (or, for Table 2, no `--cca`)."
    )
    rows = []
    for f in ref["findings"]:
        rows.append(
            [
                f["claim"],
                f["rule"],
                f"**{f['verdict']}**",
                "; ".join(f["evidence"]) or "–",
                f["paper_verdict"],
            ]
        )
    r.add_table(rows, ["claim", "rule", "ours", "our evidence", "paper"])


@REPRODUCTIONS.register("coala")
class CoalaReproduction(Reproduction):
    """COALA's Tables 1 and 2 beside ours, and the paper's claims checked on both."""

    name = "coala"

    def reference(self, document: Mapping[str, Any]) -> dict[str, Any]:
        """:func:`coala_reference`."""
        return coala_reference(document)

    def render(self, report, document: Mapping[str, Any], ref: Mapping[str, Any], out: Path):
        """Table 1, the correlation analysis with Table 2 (with ``--cca``), the findings."""
        from musicrep.benchmark.report import cca_section

        _table1_section(report, document, ref)
        if document.get("cca"):
            cca_section(
                report,
                document,
                out,
                title="Correlation with descriptors (Table 2)",
                paper={m: COALA_TABLE2[m] for m in ("AE-C", "E-C", "CNN")},
                mapping=ref["model_map"],
                note=" The paper: mean canonical correlation on validation clips of its "
                "pre-training set; values are comparable in trend, not in level.",
            )
        _findings_section(report, ref)
