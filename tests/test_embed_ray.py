"""The Ray engine of ``musicrep embed`` against the local engine (skipped without Ray)."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from musicrep.embed import Embedder
from test_embed import SR, TinyEncoder, _noise, _outputs

ray = pytest.importorskip("ray", reason="Ray is optional: pip install 'musicrep[ray]'")

pytestmark = pytest.mark.slow  # starting Ray takes ~10 s


@pytest.fixture(scope="module")
def local_ray():
    import os
    from pathlib import Path

    # the workers import the test's stand-in encoder (test_embed) by name
    here = str(Path(__file__).resolve().parent)
    path = os.pathsep.join([here, os.environ.get("PYTHONPATH", "")])
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        runtime_env={"env_vars": {"PYTHONPATH": path}},
    )
    yield
    ray.shutdown()


def test_ray_engine_writes_what_the_local_engine_writes(local_ray, tmp_path):
    root = tmp_path / "in"
    root.mkdir()
    for i, seconds in enumerate([0.05, 0.35, 1.3, 0.6, 2.2]):
        sr = 22050 if i == 1 else SR
        sf.write(root / f"f{i}.wav", _noise(seconds, sr=sr, seed=i), sr)
    (root / "broken.wav").write_text("not audio")
    reports = {}
    for engine in ("local", "ray"):
        for hop in (None, 0.04):
            out = tmp_path / f"{engine}{hop}"
            emb = Embedder(TinyEncoder(), batch_size=7, workers=0)
            reports[engine, hop] = emb.files(
                root, out, hop=hop, combine=out / "all.npz", engine=engine, progress=False
            )
    for hop in (None, 0.04):
        a, b = _outputs(tmp_path / f"local{hop}"), _outputs(tmp_path / f"ray{hop}")
        assert sorted(a) == sorted(b) and len(a) == 6
        for name in a:
            for key in a[name]:
                x, y = a[name][key], b[name][key]
                if x.dtype.kind == "f":
                    np.testing.assert_allclose(y, x, rtol=1e-5, atol=1e-6, err_msg=name)
                else:
                    assert (x == y).all()
        local, remote = reports["local", hop], reports["ray", hop]
        assert [(p.name, r) for p, r in local.failed] == [(p.name, r) for p, r in remote.failed]
        assert local.warnings == remote.warnings
    # resume: a second Ray run keeps every output
    again = Embedder(TinyEncoder(), workers=0).files(
        root, tmp_path / "rayNone", engine="ray", progress=False
    )
    assert len(again.skipped) == 5 and not again.written
