"""Every zoo model trains, exports, reloads and predicts through the public commands (slow).

One optimisation step per model at its native input length on a tiny tone dataset: this checks
the plumbing (recipe, crops, checkpoint, export, safetensors load, whole-file prediction), not
the quality. Run with ``python -m pytest -m slow tests/test_zoo_end_to_end.py``.
"""

from __future__ import annotations

import json

import pytest
import torch

from musicrep.cli import main
from musicrep.models import list_models, model_spec
from test_train import write_dataset

ZOO = [m for m in list_models() if m != "coala"]  # COALA trains under its own objective


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    # clips of 2 s; models with longer inputs get zero-padded crops
    return write_dataset(tmp_path_factory.mktemp("zoo"), multilabel=True, n_per=1, seconds=2.0)


@pytest.mark.slow
@pytest.mark.parametrize("name", ZOO)
def test_every_zoo_model_trains_exports_reloads_and_predicts(name, dataset, tmp_path, capsys):
    torch.set_num_threads(2)
    run, exported = tmp_path / "run", tmp_path / "model"
    code = main(
        [
            "train", "--model", name, "--manifest", str(dataset), "--out", str(run),
            "--max-epochs", "1", "--set", "training.batch_size=2", "training.max_steps=1",
            "training.limit_val_batches=1", "training.num_sanity_val_steps=0",
            "data.num_workers=0", "data.valid_chunks=1", "evaluation.chunks=1",
        ]
    )  # fmt: skip
    assert code == 0
    assert (run / "checkpoints" / "last.ckpt").is_file()
    results = json.loads((run / "results.json").read_text())
    assert results["task"] == "multilabel"
    assert main(["export", str(run), str(exported)]) == 0
    config = json.loads((exported / "config.json").read_text())
    assert config["input_samples"] == model_spec(name).input_samples
    wav = next(p for p in dataset.parent.glob("*.wav"))
    capsys.readouterr()
    assert main(["predict", str(wav), "--model", str(exported), "--top", "2", "--json"]) == 0
    out = capsys.readouterr().out
    assert wav.name in out
