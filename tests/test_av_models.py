"""AV speaker models: the shared classifier, angular margin, the AV table and cross-modal refusal."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from musicrep.errors import ConfigError
from musicrep.metrics import eer, min_dcf
from musicrep.models.av import (
    ConcatFusion,
    SharedClassifier,
    SharedClassifierAV,
    VisualEncoder,
    av_verification_table,
    margin_logits,
)


class Linear(nn.Module):
    """A stand-in encoder ``(batch, n) -> (batch, embed_dim)`` for fast tests."""

    def __init__(self, n: int, embed_dim: int):
        super().__init__()
        self.net, self.embed_dim = nn.Linear(n, embed_dim), embed_dim

    def forward(self, x, mask=None):
        return self.net(x.flatten(1))


def test_shared_classifier_is_one_layer_for_both_modalities():
    torch.manual_seed(0)
    clf = SharedClassifier(8, 5)
    e_a, e_v = torch.randn(6, 8), torch.randn(6, 8)
    y = torch.tensor([0, 1, 2, 3, 4, 0])
    out = clf.loss({"audio": e_a, "visual": e_v}, y, {"visual": 0.5})
    W, b = clf.linear.weight, clf.linear.bias
    la = F.cross_entropy(e_a @ W.T + b, y)
    lv = F.cross_entropy(e_v @ W.T + b, y)
    torch.testing.assert_close(out["loss_audio"], la)
    torch.testing.assert_close(out["loss"], la + 0.5 * lv)
    # both modalities' losses reach the one weight matrix
    ga = torch.autograd.grad(out["loss_audio"], W, retain_graph=True)[0]
    gv = torch.autograd.grad(out["loss_visual"], W)[0]
    assert ga.abs().sum() > 0 and gv.abs().sum() > 0
    model = SharedClassifierAV(Linear(4, 16), VisualEncoder(16, channels=4, blocks=1), 5, dim=8)
    heads = [n for n, p in model.named_parameters() if p.shape[0] == 5]
    assert heads == ["head.classifier.linear.weight", "head.classifier.linear.bias"]


def test_margin_logits_match_the_formula():
    torch.manual_seed(1)
    e, w = torch.randn(4, 6), torch.randn(3, 6)
    y = torch.tensor([0, 2, 1, 2])
    got = margin_logits(e, w, y, 0.2, 10.0)
    cos = F.normalize(e, dim=-1) @ F.normalize(w, dim=-1).T
    want = cos.clone()
    for i in range(4):
        want[i, y[i]] = torch.cos(torch.acos(cos[i, y[i]]) + 0.2)
    torch.testing.assert_close(got, 10.0 * want, atol=1e-5, rtol=1e-5)
    with pytest.raises(ConfigError):
        SharedClassifier(6, 3, margin=2.0)


def test_visual_encoder_pools_over_unmasked_frames():
    torch.manual_seed(0)
    enc = VisualEncoder(8, channels=4, blocks=2).eval()
    frames = torch.rand(2, 5, 3, 16, 16)
    mask = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]])
    out = enc(frames, mask)
    torch.testing.assert_close(out[0], enc(frames[:1, :3])[0], atol=1e-5, rtol=1e-5)
    assert out.shape == (2, 8)


def _table_inputs(rng, n=30, d=6):
    emb = {k: rng.normal(size=(n, d)) for k in ("audio", "visual", "fused")}
    enroll, test = rng.integers(0, n, 200), rng.integers(0, n, 200)
    labels = (rng.random(200) < 0.3).astype(int)
    return emb, enroll, test, labels


def test_table_matches_direct_eer_and_min_dcf():
    emb, enroll, test, labels = _table_inputs(np.random.default_rng(0))
    table = av_verification_table(emb, enroll, test, labels, cross_modal=True)
    for cond, (a, b) in {"audio": ("audio", "audio"), "audio->visual": ("audio", "visual")}.items():
        x = emb[a][enroll] / np.linalg.norm(emb[a][enroll], axis=1, keepdims=True)
        z = emb[b][test] / np.linalg.norm(emb[b][test], axis=1, keepdims=True)
        s = (x * z).sum(1)
        assert table[cond]["eer"] == pytest.approx(eer(labels, s))
        assert table[cond]["min_dcf"] == pytest.approx(min_dcf(labels, s))
    assert set(table) == {"audio", "visual", "fused", "audio->visual", "visual->audio"}


def test_cross_modal_refused_for_fusion_allowed_for_shared():
    emb, enroll, test, labels = _table_inputs(np.random.default_rng(1))
    fusion = ConcatFusion(Linear(4, 6), Linear(4, 6), 3, dim=6)
    shared = SharedClassifierAV(Linear(4, 6), Linear(4, 6), 3, dim=6)
    with pytest.raises(ConfigError, match="cross-modal"):
        av_verification_table(emb, enroll, test, labels, cross_modal=fusion.cross_modal)
    ok = av_verification_table(
        emb, enroll, test, labels, cross_modal=fusion.cross_modal, conditions=("fused",)
    )
    assert set(ok) == {"fused"}
    assert av_verification_table(emb, enroll, test, labels, cross_modal=shared.cross_modal)


@pytest.mark.slow
def test_sharing_the_classifier_aligns_the_modalities():
    """Trained on toy two-modality data, a shared classifier puts the audio and visual embeddings
    of one speaker together (low cross-modal EER); separate classifiers do not."""
    g = torch.Generator().manual_seed(0)
    k, n = 6, 40
    ca, cv = torch.randn(k, 10, generator=g), torch.randn(k, 12, generator=g)
    y = torch.arange(k).repeat_interleave(n)
    xa = ca[y] + 0.3 * torch.randn(len(y), 10, generator=g)
    xv = cv[y] + 0.3 * torch.randn(len(y), 12, generator=g)
    idx = np.random.default_rng(0).integers(0, len(y), (2, 600))
    labels = (y[idx[0]] == y[idx[1]]).numpy().astype(int)

    def cross_eer(shared: bool) -> float:
        torch.manual_seed(0)
        fa, fv = nn.Linear(10, 8), nn.Linear(12, 8)
        heads = [SharedClassifier(8, k)] * 2 if shared else [SharedClassifier(8, k) for _ in "av"]
        params = [*fa.parameters(), *fv.parameters(), *heads[0].parameters()]
        params += [] if shared else list(heads[1].parameters())
        opt = torch.optim.Adam(params, 5e-2)
        for _ in range(40):
            loss = heads[0].loss({"a": fa(xa)}, y)["loss"] + heads[1].loss({"v": fv(xv)}, y)["loss"]
            opt.zero_grad()
            loss.backward()
            opt.step()
        with torch.no_grad():
            emb = {"audio": fa(xa).numpy(), "visual": fv(xv).numpy()}
            emb["fused"] = emb["audio"]
        t = av_verification_table(
            emb, idx[0], idx[1], labels, cross_modal=True, conditions=("audio->visual",)
        )
        return t["audio->visual"]["eer"]

    shared, separate = cross_eer(True), cross_eer(False)
    assert shared < 0.1 < 0.3 < separate, (shared, separate)
