"""musicrep benchmark: report folder, tables, failures, cache reuse, labels, COALA findings."""

from __future__ import annotations

import json
import re

import pytest
import torch

from musicrep.benchmark import ModelSpec, Score, compare, parse_models, parse_tasks, run_benchmark
from musicrep.benchmark.reproductions.coala import COALA_TABLE1, COALA_TABLE2, coala_findings
from musicrep.benchmark.tasks import prepare_corpus
from musicrep.errors import ConfigError

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
CELL = re.compile(r"^\*{0,2}(\d+\.\d\d) ± (\d+\.\d\d)\*{0,2}$")


# ------------------------------------------------------------------------------------ fixtures


@pytest.fixture(scope="module")
def one_thread():
    # tiny models on a busy machine: one thread avoids oversubscription stalls
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    from musicrep.data.corpus import build_corpus

    out = tmp_path_factory.mktemp("corpus")
    build_corpus(out, clips=36, seconds=2.0, progress=False, log=lambda m: None)
    return out


def _tiny_model():
    from musicrep.models import create_model

    torch.manual_seed(0)
    return create_model(
        "shortchunk_cnn",
        num_outputs=3,
        backend_kwargs={"channels": (8, 8, 16)},
        frontend_kwargs={"n_mels": 32},
        input_samples=16000,
    )


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    """An exported model folder (config.json + model.safetensors) of a 2k-parameter CNN."""
    from musicrep.io import save_model

    out = tmp_path_factory.mktemp("models") / "tiny"
    save_model(_tiny_model(), out, vocab=["a", "b", "c"], task="singlelabel")
    return out


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """A training run folder laid out as `musicrep train` writes it: the run's config.json
    (not an exported-model config) and checkpoints/best.ckpt holding a Lightning state dict."""
    model = _tiny_model()
    run = tmp_path_factory.mktemp("runs") / "tiny-run"
    (run / "checkpoints").mkdir(parents=True)
    (run / "config.json").write_text(
        json.dumps({"config": {"model": model.config}, "task": "singlelabel"}), encoding="utf-8"
    )
    torch.save(
        {
            "epoch": 0,
            "hyper_parameters": {
                "model_config": model.config,
                "vocab": ["a", "b", "c"],
                "task": "singlelabel",
                "sample_rate": 16000,
                "input_samples": 16000,
            },
            "state_dict": {f"model.{k}": v for k, v in model.state_dict().items()},
        },
        run / "checkpoints" / "best.ckpt",
    )
    return run


class _Counter:
    """Wraps Embedder.files to record which model embedded how many files."""

    def __init__(self):
        self.calls = []

    def install(self, mp):
        from musicrep.embed import Embedder

        original = Embedder.files
        counter = self

        def files(self, inputs, out_dir, **kw):
            counter.calls.append((self.name, len(inputs)))
            return original(self, inputs, out_dir, **kw)

        mp.setattr(Embedder, "files", files)


@pytest.fixture(scope="module")
def bench(tmp_path_factory, corpus, tiny_model, run_dir, one_thread):
    """One CLI run: 3 tasks (two built-in, one `name=path`), 4 models (one bad), COALA mode."""
    from musicrep.cli import main

    root = tmp_path_factory.mktemp("bench")
    out = root / "report"
    counter = _Counter()
    argv = [
        "benchmark",
        "--tasks",
        f"corpus-style,corpus-tags,instr={corpus / 'instrument.csv'}",
        "--models",
        f"mfcc,cnn={tiny_model},run={run_dir},bad={root / 'no-such-run'}",
        "--corpus-dir",
        str(corpus),
        "--repeats",
        "2",
        "--reference",
        "coala",
        "--out",
        str(out),
        "-q",
    ]
    with pytest.MonkeyPatch.context() as mp:
        counter.install(mp)
        rc = main(argv)
    doc = json.loads((out / "results.json").read_text(encoding="utf-8"))
    return {"rc": rc, "out": out, "doc": doc, "calls": counter.calls, "root": root}


def _results_table(md: str) -> tuple[list[str], list[list[str]]]:
    """Header and rows of the first table after '## Results'."""
    block = []
    for line in md.split("## Results", 1)[1].splitlines():
        if line.startswith("|"):
            block.append(line)
        elif block:
            break

    def cells(line):
        return [c.strip() for c in line.strip("|").split("|")]

    return cells(block[0]), [cells(line) for line in block[2:]]


# ------------------------------------------------------------------------------------ the run


def test_report_folder_contents(bench):
    out = bench["out"]
    for name in ("report.md", "report.html", "results.json"):
        assert (out / name).is_file()
    for task in ("corpus-style", "corpus-tags", "instr"):
        assert (out / f"{task}.png").read_bytes()[:8] == PNG_MAGIC
    html = (out / "report.html").read_text(encoding="utf-8")
    assert html.count("data:image/png;base64,") == 3  # self-contained
    assert not [p for p in out.iterdir() if ".part" in p.name]


def test_table_one_row_per_task_one_column_per_model(bench):
    md = (bench["out"] / "report.md").read_text(encoding="utf-8")
    header, rows = _results_table(md)
    assert header == ["task", "metric", "mfcc", "cnn", "run", "bad"]
    assert [r[0] for r in rows] == ["corpus-style", "corpus-tags", "instr"]
    assert [r[1] for r in rows] == ["accuracy (%)", "ROC-AUC (%)", "accuracy (%)"]
    doc = bench["doc"]
    for row in rows:
        task = row[0]
        metric = "roc_auc" if task == "corpus-tags" else "accuracy"
        for label, cell in zip(header[2:], row[2:]):
            if label == "bad":
                assert cell == "failed"
                continue
            m = CELL.match(cell)
            assert m, cell
            stats = doc["results"][task][label]["result"]["metrics"][metric]
            assert float(m.group(1)) == pytest.approx(100 * stats["mean"], abs=0.006)
            assert float(m.group(2)) == pytest.approx(100 * stats["std"], abs=0.006)
            assert len(stats["values"]) == 2  # --repeats 2


def test_failing_model_reported_others_written(bench):
    assert bench["rc"] == 1
    doc = bench["doc"]
    status = {m["label"]: m["status"] for m in doc["models"]}
    assert status == {"mfcc": "ok", "cnn": "ok", "run": "ok", "bad": "failed"}
    assert [f["what"] for f in doc["failures"]] == [f"model bad ({bench['root'] / 'no-such-run'})"]
    for task in doc["results"]:
        assert doc["results"][task]["bad"]["status"] == "failed"
        assert all(doc["results"][task][m]["status"] == "ok" for m in ("mfcc", "cnn", "run"))
    md = (bench["out"] / "report.md").read_text(encoding="utf-8")
    assert "## Failures" in md and "no-such-run" in md.split("## Failures")[1]


def test_each_model_embeds_the_union_once(bench):
    # 36 clips: style.csv and tags.csv list all of them, instrument.csv a subset
    names = [n for n, _ in bench["calls"]]
    assert len(names) == 3
    assert all(n == 36 for _, n in bench["calls"])
    assert names[0] == "mfcc" and names[2].endswith("tiny-run")
    entries = {m["label"]: m for m in bench["doc"]["models"]}
    for label in ("mfcc", "cnn", "run"):
        e = entries[label]
        assert e["files"] == 36 and e["embedded"] == 36 and e["cached"] is False
        assert e["embed_seconds"] > 0 and e["audio_seconds"] == pytest.approx(72.0, rel=0.01)


def test_label_spec_naming(bench, tiny_model, run_dir):
    models = {m["label"]: m["spec"] for m in bench["doc"]["models"]}
    assert models["mfcc"] == "mfcc"
    assert models["cnn"] == str(tiny_model)
    assert models["run"] == str(run_dir)
    specs = parse_models(["mfcc, ae_c=runs/x", "runs/y/", "hcnn"])
    assert specs == [
        ModelSpec("mfcc", "mfcc"),
        ModelSpec("ae_c", "runs/x"),
        ModelSpec("y", "runs/y/"),
        ModelSpec("hcnn", "hcnn"),
    ]
    with pytest.raises(ConfigError, match="share the name"):
        parse_models("mfcc,mfcc")


def test_commands_versions_timings_in_report(bench, corpus):
    md = (bench["out"] / "report.md").read_text(encoding="utf-8")
    assert "musicrep benchmark --tasks corpus-style,corpus-tags,instr=" in md
    assert f"musicrep data corpus --out {corpus} --clips 36 --seconds 2" in md
    assert f"musicrep evaluate --model mfcc --manifest {corpus / 'style.csv'}" in md
    assert "## Versions" in md and "| torch |" in md
    assert "audio s/s" in md
    doc = bench["doc"]
    assert doc["environment"]["torch"] == torch.__version__
    assert doc["settings"]["repeats"] == 2 and doc["settings"]["protocol"] == "coala"


def test_reference_coala_adds_paper_table_and_findings(bench):
    md = (bench["out"] / "report.md").read_text(encoding="utf-8")
    assert "## COALA reproduction" in md and "### Findings" in md
    assert "| AE-C | – | 73.13 ± 1.22 | 72.68 ± 0.22 | 60.73 ± 1.06 |" in md
    ref = bench["doc"]["reference"]
    assert ref["model_map"] == {"mfcc": "MFCC", "cnn": "CNN"}
    assert ref["task_map"] == {"corpus-style": "GTZAN", "corpus-tags": None, "instr": None}
    findings = {f["key"]: f for f in ref["findings"]}
    # without AE-C/E-C (and without --cca) only the CNN-vs-MFCC claim can be checked
    assert findings["table1.coala_beats_mfcc"]["verdict"] == "not testable"
    assert findings["table2.ae_correlates_more"]["verdict"] == "not testable"
    assert all(f["paper_verdict"] == "holds" for f in ref["findings"])
    # the verdict follows from our numbers by the stated rule
    res = bench["doc"]["results"]
    outcomes = []
    for task, metric in (
        ("corpus-style", "accuracy"),
        ("corpus-tags", "roc_auc"),
        ("instr", "accuracy"),
    ):
        mf = res[task]["mfcc"]["result"]["metrics"][metric]
        cn = res[task]["cnn"]["result"]["metrics"][metric]
        outcomes.append(
            compare(
                Score(100 * mf["mean"], 100 * mf["std"]), Score(100 * cn["mean"], 100 * cn["std"])
            )
        )
    expected = (
        "holds"
        if all(o == ">" for o in outcomes)
        else "partly holds"
        if ">" in outcomes
        else "does not hold"
    )
    assert findings["table1.cnn_worst"]["verdict"] == expected
    assert len(findings["table1.cnn_worst"]["evidence"]) == 3


def test_cache_reused_on_second_run(bench, corpus, tiny_model, one_thread):
    cache = bench["root"] / ".musicrep-cache"
    npzs = sorted(cache.glob("*.npz"))
    assert len(npzs) == 3
    mtimes = {p: p.stat().st_mtime_ns for p in npzs}
    counter = _Counter()
    with pytest.MonkeyPatch.context() as mp:
        counter.install(mp)
        # other labels, another task: the same models and files (style.csv lists every clip),
        # so the same cache entries
        result = run_benchmark(
            ["corpus-style"],
            ["a<b>&c=mfcc", f"again={tiny_model}"],
            bench["root"] / "second",
            corpus_dir=corpus,
            repeats=1,
            progress=False,
            log=lambda m: None,
        )
    assert counter.calls == []
    assert {p: p.stat().st_mtime_ns for p in sorted(cache.glob("*.npz"))} == mtimes
    assert result.ok
    assert all(m["cached"] for m in result.document["models"])
    html = result.paths["html"].read_text(encoding="utf-8")
    assert "a&lt;b&gt;&amp;c" in html and "a<b>&c" not in html


# ------------------------------------------------------------------------------------ units


def test_run_folder_resolves_to_its_checkpoint(run_dir, tiny_model, one_thread):
    """A run folder has a config.json of its own; the checkpoint's weights must be used."""
    from musicrep.embed import resolve_model

    x = torch.randn(2, 16000, generator=torch.Generator().manual_seed(1))
    expected = _tiny_model().eval().encoder(x)
    for spec in (run_dir, tiny_model):
        emb = resolve_model(str(spec))
        with torch.inference_mode():
            torch.testing.assert_close(emb(x), expected)
        assert emb.name == str(spec.resolve())


def _paper():
    return {m: {t: Score(*v) for t, v in row.items()} for m, row in COALA_TABLE1.items()}


def test_compare_uses_the_combined_spread():
    assert compare(Score(10, 1), Score(5, 1)) == ">"
    assert compare(Score(10, 3), Score(9, 3)) == ">="
    assert compare(Score(9, 3), Score(10, 3)) == "<="
    assert compare(Score(5, 1), Score(10, 1)) == "<"
    assert compare(Score(10, 0.3), Score(9.4, 0.4)) == ">"
    # lower is better (EER): the smaller value wins
    assert compare(Score(5, 0.1, False), Score(8, 0.1, False)) == ">"


def test_findings_on_the_papers_numbers_all_hold():
    found = coala_findings(_paper(), COALA_TABLE2)
    assert [f.verdict for f in found] == ["holds"] * 8
    e_c = next(f for f in found if f.key == "table1.e_c_close_to_ae_c")
    assert e_c.evidence[0].startswith("NSynth: |AE-C - E-C| 3.60")


def test_findings_rules_on_hand_made_numbers():
    t = {
        "AE-C": {"a": Score(80, 1), "b": Score(70, 1)},
        "E-C": {"a": Score(60, 1), "b": Score(69.5, 1)},
        "MFCC": {"a": Score(62, 1), "b": Score(60, 1)},
        "CNN": {"a": Score(65, 1), "b": Score(50, 1)},
    }
    v = {f.key: f.verdict for f in coala_findings(t)}
    # E-C < MFCC on task a: AE-C and E-C do not both beat MFCC everywhere
    assert v["table1.coala_beats_mfcc"] == "partly holds"
    # CNN > MFCC on task a
    assert v["table1.cnn_worst"] == "partly holds"
    # AE-C above E-C on both (b within the spread, still a higher mean)
    assert v["table1.ae_c_at_least_e_c"] == "holds"
    # a: |80 - 60| = 20 > spread and > half of |80 - 62| = 9; b: 0.5 within spread
    assert v["table1.e_c_close_to_ae_c"] == "partly holds"
    assert v["table1.ranking"] == "partly holds"  # b is ordered, a is not
    assert v["table2.ae_correlates_more"] == "not testable"

    # reversed everywhere
    rev = {
        "AE-C": {"a": Score(50, 1)},
        "E-C": {"a": Score(60, 1)},
        "MFCC": {"a": Score(70, 1)},
        "CNN": {"a": Score(80, 1)},
    }
    v = {f.key: f.verdict for f in coala_findings(rev)}
    assert v["table1.coala_beats_mfcc"] == "does not hold"
    assert v["table1.cnn_worst"] == "does not hold"
    assert v["table1.ae_c_at_least_e_c"] == "does not hold"
    assert v["table1.ranking"] == "does not hold"

    # missing models: not testable
    v = {f.key: f.verdict for f in coala_findings({"MFCC": t["MFCC"]})}
    assert set(v.values()) == {"not testable"}


def test_table2_rules_on_hand_made_numbers():
    def table(value):
        return {d: {s: value(d, s) for s in ("mean", "var", "skew")} for d in COALA_TABLE2["AE-C"]}

    # AE-C below E-C everywhere, above CNN everywhere -> partly
    t2 = {
        "AE-C": table(lambda d, s: 0.5),
        "E-C": table(lambda d, s: 0.6),
        "CNN": table(lambda d, s: 0.4),
    }
    v = {f.key: f for f in coala_findings({}, t2)}
    assert v["table2.ae_correlates_more"].verdict == "partly holds"
    assert v["table2.ae_correlates_more"].evidence == [
        "AE-C > E-C in 0 of 12 cells",
        "AE-C > CNN in 12 of 12 cells",
    ]
    assert v["table2.temporal_gain_small"].verdict == "does not hold"  # no gain on the means
    # the largest gain on the chroma variance, not on the MFCC mean
    t2["AE-C"] = table(lambda d, s: 0.9 if (d, s) == ("chroma", "var") else 0.7)
    v = {f.key: f for f in coala_findings({}, t2)}
    assert v["table2.largest_gain_mfcc_mean"].verdict == "does not hold"
    assert "chroma var" in v["table2.largest_gain_mfcc_mean"].evidence[0]


def test_parse_tasks(tmp_path):
    csv = tmp_path / "genres.csv"
    csv.write_text("path,labels,split\n", encoding="utf-8")
    tasks = parse_tasks(f"corpus-style,{csv},g2={csv}")
    assert [t.name for t in tasks] == ["corpus-style", "genres", "g2"]
    assert tasks[0].corpus_file == "style.csv" and tasks[1].manifest == csv
    with pytest.raises(ConfigError, match="unknown built-in task 'corpus-mood'"):
        parse_tasks("corpus-mood")
    with pytest.raises(ConfigError, match="not found"):
        parse_tasks(str(tmp_path / "nope.csv"))
    with pytest.raises(ConfigError, match="share the name"):
        parse_tasks(f"{csv},genres={csv}")


def test_existing_corpus_of_another_size_is_not_rebuilt(corpus):
    info = prepare_corpus(corpus, None, None, False, lambda m: None)
    assert info["clips"] == 36 and info["built"] is False
    with pytest.raises(ConfigError, match="holds a corpus of 36 clips x 2.0 s, not 40"):
        prepare_corpus(corpus, 40, None, False, lambda m: None)


@pytest.mark.slow
def test_real_training_run_folder(tmp_path, corpus, one_thread):
    """A run folder written by `musicrep train` (1 epoch) is benchmarked like any model."""
    from musicrep.cli import main

    recipe = tmp_path / "tiny.yaml"
    recipe.write_text(
        "model:\n  name: shortchunk_cnn\n  backend_kwargs: {channels: [8, 8, 16]}\n"
        "  frontend_kwargs: {n_mels: 32}\n  input_samples: 16000\n",
        encoding="utf-8",
    )
    run = tmp_path / "run"
    assert (
        main(
            [
                "train",
                "--recipe",
                str(recipe),
                "--manifest",
                str(corpus / "style.csv"),
                "--max-epochs",
                "1",
                "--out",
                str(run),
            ]
        )
        == 0
    )
    result = run_benchmark(
        "corpus-style",
        f"trained={run}",
        tmp_path / "rep",
        corpus_dir=corpus,
        repeats=1,
        progress=False,
        log=lambda m: None,
    )
    assert result.ok
    assert result.document["models"][0]["model_name"] == str(run.resolve())


# ------------------------------------------------------------------------------ issue 14


def test_folder_named_like_another_column_is_named_apart():
    """Issue 14: `--models mfcc,musicnn,runs/musicnn` failed with "two models share the name"."""
    specs = parse_models("mfcc,musicnn,runs/musicnn")
    assert [m.label for m in specs] == ["mfcc", "musicnn", "musicnn (runs/musicnn)"]
    assert specs[2].spec == "runs/musicnn"
    # two folders of the same name: both named by their path; an explicit label stays
    specs = parse_models("runs/a/m/,other/m,m2=x/m")
    assert [m.label for m in specs] == ["m (runs/a/m)", "m (other/m)", "m2"]
    with pytest.raises(ConfigError, match="share the name"):
        parse_models("musicnn=runs/musicnn,musicnn")  # an explicit clash is the user's to fix


def test_cli_benchmark_of_a_zoo_name_and_a_folder_of_that_name(tmp_path, corpus, tiny_model):
    import shutil

    from musicrep.cli import main

    shutil.copytree(tiny_model, tmp_path / "runs" / "mfcc")
    out = tmp_path / "report"
    argv = ["benchmark", "--tasks", "corpus-style", "--models", f"mfcc,{tmp_path / 'runs/mfcc'}"]
    argv += ["--corpus-dir", str(corpus), "--repeats", "1", "--out", str(out), "-q"]
    assert main(argv) == 0
    doc = json.loads((out / "results.json").read_text(encoding="utf-8"))
    labels = [m["label"] for m in doc["models"]]
    assert labels == ["mfcc", f"mfcc ({tmp_path / 'runs/mfcc'})"]
    assert all(doc["results"]["corpus-style"][lab]["status"] == "ok" for lab in labels)


def _chart_document(metric: str, means: list[float], classes: int = 7) -> tuple[dict, dict]:
    labels = ["mfcc", "musicnn", "runs/x"][: len(means)]
    cells = {
        lab: {
            "status": "ok",
            "result": {
                "metrics": {metric: {"mean": m, "std": 0.03}},
                "classes": [f"c{i}" for i in range(classes)],
            },
        }
        for lab, m in zip(labels, means)
    }
    doc = {"models": [{"label": lab} for lab in labels], "results": {"t": cells}}
    return doc, {"name": "t", "metrics": [metric, "macro_f1"]}


@pytest.mark.parametrize(
    ("metric", "means"),
    [
        ("accuracy", [0.222, 0.156]),  # the bars of the issue: the label sat on the last bar
        ("roc_auc", [0.806, 0.752]),
        ("accuracy", [0.15, 0.14, 0.16]),
        ("roc_auc", [0.51, 0.49]),
    ],
)
def test_chance_label_overlaps_no_bar(metric, means):
    """Issue 14: the chance-line label overlapped a bar of the benchmark plot."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.transforms import TransformedBbox

    from musicrep.benchmark.plot import figure

    doc, task = _chart_document(metric, means)
    fig = figure(doc, task)
    FigureCanvasAgg(fig).draw()
    renderer = fig.canvas.get_renderer()
    ax = fig.axes[0]
    label = next(t for t in ax.texts if t.get_text().startswith("chance"))
    box = label.get_window_extent(renderer)
    assert fig.bbox.contains(box.x0, box.y0) and fig.bbox.contains(box.x1, box.y1)
    occupied = [p.get_window_extent(renderer) for p in ax.patches]
    occupied += [  # error bars: the vertical lines, and their caps
        TransformedBbox(c.get_datalim(ax.transData), ax.transData) for c in ax.collections
    ]
    occupied += [line.get_window_extent(renderer) for line in ax.lines if line.get_marker()]
    occupied += [t.get_window_extent(renderer) for t in ax.texts if t is not label]
    assert not any(box.overlaps(o) for o in occupied)


# ------------------------------------------------------------------------------ dataset tasks


def test_parse_dataset_tasks(tmp_path):
    from musicrep.benchmark import TASKS

    tasks = parse_tasks(f"gtzan:{tmp_path},u=us8k:{tmp_path / 'US8K'},corpus-tags")
    assert [(t.name, t.adapter, t.root) for t in tasks[:2]] == [
        ("gtzan", "gtzan", tmp_path),
        ("u", "urbansound8k", tmp_path / "US8K"),
    ]
    assert tasks[2] == TASKS.get("corpus-tags")("corpus-tags")
    with pytest.raises(ConfigError, match="not found"):
        parse_tasks("nosuchdataset:/data")  # not an adapter: read as a (missing) manifest path


def test_benchmark_of_a_dataset_by_adapter(tmp_path, one_thread):
    """`--tasks gtzan:ROOT`: the adapter prepares the manifest into the report folder."""
    import numpy as np
    import soundfile as sf

    genres = ("blues", "classical", "country")
    rng = np.random.default_rng(0)
    for g, genre in enumerate(genres):
        for n in range(10):
            t = np.arange(8000) / 16000
            wave = np.sin(2 * np.pi * 220 * (g + 1) * t) + 0.1 * rng.standard_normal(t.size)
            path = tmp_path / "gtzan" / "genres" / genre / f"{genre}.{n:05d}.wav"
            path.parent.mkdir(parents=True, exist_ok=True)
            sf.write(path, (0.3 * wave).astype(np.float32), 16000)
    out = tmp_path / "report"
    result = run_benchmark(
        f"gtzan:{tmp_path / 'gtzan'}",
        "mfcc",
        out,
        repeats=1,
        reference="coala",
        progress=False,
        log=lambda m: None,
    )
    assert result.ok
    task = result.document["tasks"][0]
    assert task["name"] == "gtzan" and task["manifest"] == str(out / "manifests" / "gtzan.csv")
    assert task["dataset"] == {"adapter": "gtzan", "root": str(tmp_path / "gtzan")}
    assert task["rows"] == 30 and task["type"] == "singlelabel"
    cell = result.document["results"]["gtzan"]["mfcc"]
    assert cell["status"] == "ok" and cell["result"]["metrics"]["accuracy"]["mean"] > 0.6
    assert result.document["reference"]["task_map"] == {"gtzan": "GTZAN"}
