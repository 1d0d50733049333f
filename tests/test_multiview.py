"""The multi-view encoder: per-view branches, concatenation, rebuild from its config."""

import pytest
import torch

from musicrep.errors import ConfigError
from musicrep.models import create_encoder, create_model, rebuild_encoder

SMALL = [
    {"name": "mel", "frontend_kwargs": {"n_mels": 16}, "backend_kwargs": {"channels": [4, 8]}},
    {"name": "cqt", "frontend_kwargs": {"n_bins": 16}, "backend_kwargs": {"channels": [4, 6]}},
    {"name": "wave", "backend_kwargs": {"channels": [4, 4, 8], "last_channels": 8}},
]


def test_branches_concatenate_and_rebuild():
    torch.manual_seed(0)
    enc = create_encoder("multiview", backend_kwargs={"views": SMALL}, input_samples=8000)
    assert enc.branch_names == ["mel", "cqt", "wave"] and enc.branch_dims == [8, 6, 8]
    x = torch.randn(2, 8000)
    enc.eval()
    parts = enc.forward_branches(x)
    assert torch.allclose(enc(x), torch.cat([parts[k] for k in enc.branch_names], 1))
    assert enc.embed(x).shape == (2, 22) and not enc.supports_sequence
    again = rebuild_encoder(enc.config)
    again.load_state_dict(enc.state_dict())
    again.eval()
    assert torch.allclose(again(x), enc(x))


def test_create_model_views_and_errors():
    m = create_model("multiview", num_outputs=3, views=SMALL[:1], input_samples=8000)
    assert m(torch.randn(1, 8000)).shape == (1, 3)
    assert create_model(**m.config).encoder.branch_names == ["mel"]
    with pytest.raises(ConfigError, match="frontend and backend"):
        create_encoder("multiview", backend_kwargs={"views": [{"name": "mystery"}]})
    with pytest.raises(ConfigError, match="distinct"):
        create_encoder("multiview", backend_kwargs={"views": ["mel", "mel"]})
