"""Wavelet scattering feature: shapes and values against Kymatio itself."""

import numpy as np
import pytest
import torch

pytest.importorskip("kymatio")

from kymatio.scattering1d.frontend.torch_frontend import ScatteringTorch1D  # noqa: E402

from musicrep.errors import ConfigError  # noqa: E402
from musicrep.features import create_feature, list_features, scattering_orders  # noqa: E402


def test_registered_and_dims_match_kymatio_meta():
    assert "scattering" in list_features()
    fx = create_feature("scattering", J=6, Q=8)
    orders = ScatteringTorch1D(J=6, shape=4096, Q=8).meta()["order"]
    assert fx.base_dims == int(np.sum((orders == 1) | (orders == 2)))
    assert set(fx.channel_orders.tolist()) == {1, 2}
    assert create_feature("scattering", J=6, Q=8, orders="012").dims == len(orders)
    assert create_feature("scattering", J=6, Q=8, orders="1").dims == int(np.sum(orders == 1))
    assert create_feature("scattering", deltas=1).dims == 2 * fx.base_dims


def test_shape_on_the_registry_grid_and_values_from_kymatio():
    torch.manual_seed(0)
    x = torch.randn(2, 8000)
    fx = create_feature("scattering", J=6, Q=8, log=False)
    y = fx(x)
    assert y.shape == (2, fx.dims, 1 + 8000 // 160)  # same grid as mfcc
    assert y.shape[-1] == create_feature("mfcc")(x).shape[-1]
    ref = ScatteringTorch1D(J=6, shape=8000, Q=8)(x)
    keep = np.flatnonzero(scattering_orders(6, 8) > 0)
    ref = ref[:, keep]
    # frame k of the grid is sample 160 k = scattering frame 2.5 k: frames at even k coincide
    for k in (0, 2, 10, 40):
        j = 160 * k // 64
        torch.testing.assert_close(y[..., k], ref[..., j], rtol=1e-5, atol=1e-7)
    # odd k: halfway between two scattering frames
    torch.testing.assert_close(y[..., 1], 0.5 * (ref[..., 2] + ref[..., 3]), rtol=1e-5, atol=1e-7)


def test_log_short_clips_and_errors():
    x = torch.randn(1, 50)  # shorter than 2**J
    y = create_feature("scattering", J=6)(x)
    assert y.shape == (1, create_feature("scattering", J=6).dims, 1)
    assert torch.isfinite(y).all()
    lin = create_feature("scattering", log=False)(torch.ones(1, 3200))
    lg = create_feature("scattering", log=True, eps=1e-6)(torch.ones(1, 3200))
    torch.testing.assert_close(lg, torch.log(lin + 1e-6))
    with pytest.raises(ConfigError, match="orders"):
        create_feature("scattering", orders="2")
    with pytest.raises(ConfigError, match="J"):
        create_feature("scattering", J=0)
