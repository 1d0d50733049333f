"""The demo's pieces: the facet head, the majority baseline, and (slow) the whole demo."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from musicrep.data import Manifest
from musicrep.demo import (
    FacetHead,
    benchmark_margins,
    demo_model_options,
    majority_baseline,
    run_demo,
)
from musicrep.demo_settings import DEMO_MODEL, DEMO_MODEL_OPTIONS
from musicrep.errors import ConfigError


class _Fixed(torch.nn.Module):
    def __init__(self, logits):
        super().__init__()
        self.logits = torch.tensor(logits, dtype=torch.float32)

    def forward(self, wave):
        return self.logits.expand(wave.shape[0], -1)


def test_facet_head_selects_the_facet_logits_in_vocabulary_order():
    vocab = ["mode:major", "style:bach", "tempo:fast", "style:folk"]
    head = FacetHead(_Fixed([5.0, 1.0, 9.0, 2.0]), vocab, "style")
    assert head.classes == ["bach", "folk"]
    out = head(torch.zeros(3, 10))
    assert out.shape == (3, 2)
    assert torch.equal(out[0], torch.tensor([1.0, 2.0]))  # tempo:fast's 9.0 is not a style
    with pytest.raises(ConfigError, match="instrument"):
        FacetHead(_Fixed([0.0] * 4), vocab, "instrument")


def _manifest(tmp_path, rows):
    path = tmp_path / "m.csv"
    Manifest.from_rows(
        [{"path": f"a{i}.wav", "labels": lab, "split": sp} for i, (lab, sp) in enumerate(rows)],
        root=tmp_path,
    ).write(path)
    return path


def test_majority_baseline_single_label(tmp_path):
    rows = [("bach", "train")] * 3 + [("folk", "train")] + [("bach", "test"), ("folk", "test")]
    scores = majority_baseline(_manifest(tmp_path, rows), "style")
    assert scores["accuracy"] == pytest.approx(0.5)  # always "bach"


def test_majority_baseline_multi_label_is_chance_roc_and_prevalence_pr(tmp_path):
    rows = [("a;b", "train"), ("a", "train"), ("b", "train"), ("a;b", "train")]
    rows += [("a", "test"), ("b", "test"), ("a;b", "test"), ("b", "test")]
    scores = majority_baseline(_manifest(tmp_path, rows), "tags")
    assert scores["roc_auc"] == pytest.approx(0.5)
    prevalence = np.mean([2 / 4, 3 / 4])  # test positives of a and b
    assert scores["pr_auc"] == pytest.approx(prevalence)


@pytest.mark.slow
def test_demo_end_to_end_and_rerun_reuses_everything(tmp_path):
    out = tmp_path / "demo"
    result = run_demo(out, clips=40, seconds=3, epochs=1, benchmark_repeats=1)
    assert {r[0] for r in result.rows} == {"tags", "style"}
    saved = json.loads((out / "results.json").read_text())
    assert saved["runs"]["tags"].endswith(f"{DEMO_MODEL}-tags")
    assert len(saved["benchmark_margins"]) == 2  # one line per task, vs untrained and mfcc
    assert (out / "benchmark" / "report.html").is_file()
    ckpt = out / "runs" / f"{DEMO_MODEL}-tags" / "checkpoints" / "best.ckpt"
    mtime = ckpt.stat().st_mtime
    again = run_demo(out, clips=40, seconds=3, epochs=1, benchmark=False)
    assert ckpt.stat().st_mtime == mtime  # the finished run was reused, not retrained
    assert again.rows == result.rows


def test_benchmark_margins_are_trained_minus_each_other_model_in_points():
    def cell(mean, std):
        return {"status": "ok", "result": {"metrics": {"roc_auc": {"mean": mean, "std": std}}}}

    document = {
        "tasks": [{"name": "corpus-tags", "metrics": ["roc_auc", "pr_auc"]}],
        "results": {
            "corpus-tags": {
                "m-trained": cell(0.90, 0.01),
                "m-untrained": cell(0.80, 0.02),
                "mfcc": cell(0.93, 0.005),
                "broken": {"status": "failed", "error": "x"},
            }
        },
    }
    (line,) = benchmark_margins(document, "m-trained")
    assert line.startswith("corpus-tags roc_auc: trained 90.0; ")
    assert "+10.0 vs m-untrained (std 2.0)" in line
    assert "-3.0 vs mfcc (std 1.0)" in line
    assert "broken" not in line
    assert benchmark_margins(document, "absent") == []


def test_demo_model_options_small_default_published_size_otherwise():
    assert demo_model_options(DEMO_MODEL, None) == DEMO_MODEL_OPTIONS
    assert demo_model_options("musicnn", None) == {}
    assert demo_model_options(DEMO_MODEL, {"dropout": 0.1}) == {"dropout": 0.1}
