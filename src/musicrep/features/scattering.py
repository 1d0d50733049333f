"""Wavelet scattering (first and second order) as a frame-level feature, via Kymatio.

``scattering`` is the 1-D time scattering transform of Andén and Mallat, computed by Kymatio's
torch backend (``kymatio.scattering1d``): order-0 (the low-pass of the signal), order-1
(``|x * psi_1| * phi``, ``Q`` wavelets per octave) and order-2 (``||x * psi_1| * psi_2| * phi``)
coefficients, averaged over ``2**J`` samples (``T``; ``2**J`` by default). This is the
"scattering" reference of the representation analyses (``seed_methods.md`` E).

Frame grid
----------
Kymatio's output has one frame per ``2**J`` samples (frame ``j`` centred on sample
``j * 2**J``). The registry's grid is ``1 + samples // hop_length`` frames centred on
``k * hop_length``; the coefficients are linearly interpolated in time onto that grid (a
choice: the hop of the registry, 160 samples, is not a power of two). With the defaults
(``J=6``, 4 ms at 16 kHz) the scattering frames are denser than the grid, so the
interpolation only resamples an already low-passed signal.

Options chosen here (documented, configurable)
----------------------------------------------
* ``J=6, Q=8``: averaging scale 64 samples (4 ms) and 8 first-order wavelets per octave,
  Kymatio's audio example. Larger ``J`` (e.g. 9-11) gives the longer-window scattering of the
  music papers; dims grow with ``J``.
* ``orders="12"``: order 1 and 2 kept (``"1"`` keeps order 1 only, ``"012"`` adds order 0).
* ``log=True``: ``log(S + eps)`` with ``eps=1e-6``, the usual log-scattering that makes the
  coefficients roughly Gaussian for linear analyses; ``log=False`` returns Kymatio's moduli.

Kymatio builds its filters for one input length; the transform is rebuilt (and cached, a few
lengths at a time) when the clip length changes. ``import kymatio.torch`` imports the 3-D
scattering as well, which fails with SciPy >= 1.15 (``sph_harm`` removed); this module imports
only the 1-D frontend.
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import torch
import torch.nn.functional as F

from musicrep.errors import ConfigError
from musicrep.features.base import DEFAULT_HOP, DEFAULT_SAMPLE_RATE, DELTA_WIDTH, FeatureExtractor

#: How many input lengths keep their Kymatio transform (filters) in memory.
CACHE_LENGTHS = 4
ORDERS = ("1", "12", "012")


def _scattering_class():
    try:
        from kymatio.scattering1d.frontend.torch_frontend import ScatteringTorch1D
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ConfigError(
            "the 'scattering' feature needs Kymatio: pip install 'musicrep[scattering]' "
            f"(or pip install kymatio); import failed: {exc}"
        ) from exc
    return ScatteringTorch1D


def scattering_orders(J: int, Q: int, shape: int = 2**14) -> np.ndarray:
    """Order (0, 1 or 2) of each Kymatio scattering coefficient for ``J``, ``Q``.

    The channel order does not depend on the input length (given it is long enough).
    """
    S = _scattering_class()(J=J, shape=max(int(shape), 2 ** (J + 1)), Q=Q)
    return np.asarray(S.meta()["order"])


class Scattering(FeatureExtractor):
    """1-D wavelet scattering (Kymatio): ``(batch, samples) -> (batch, dims, frames)``.

    Parameters
    ----------
    J : int
        Log2 of the averaging scale in samples (6: 64 samples).
    Q : int
        First-order wavelets per octave (8).
    T : int, optional
        Averaging scale in samples (Kymatio's ``T``; ``2**J`` by default).
    orders : {"1", "12", "012"}
        Scattering orders kept ("12": first and second order).
    log : bool
        Return ``log(S + eps)`` (True) or Kymatio's coefficients.
    eps : float
        Floor of the logarithm.
    sample_rate, hop_length, deltas, delta_width, delta_mode
        As every :class:`~musicrep.features.FeatureExtractor`.
    """

    name = "scattering"

    def __init__(
        self,
        sample_rate: int = DEFAULT_SAMPLE_RATE,
        hop_length: int = DEFAULT_HOP,
        J: int = 6,
        Q: int = 8,
        T: int | None = None,
        orders: str = "12",
        log: bool = True,
        eps: float = 1e-6,
        deltas: int = 0,
        delta_width: int = DELTA_WIDTH,
        delta_mode: str = "interp",
    ):
        super().__init__(sample_rate, hop_length, deltas, delta_width, delta_mode)
        if not isinstance(J, int) or not 1 <= J <= 16:
            raise ConfigError(f"scattering J must be an integer in 1..16; got {J!r}")
        if not isinstance(Q, int) or Q < 1:
            raise ConfigError(f"scattering Q must be a positive integer; got {Q!r}")
        if str(orders) not in ORDERS:
            raise ConfigError(
                f"scattering orders must be one of {', '.join(ORDERS)}; got {orders!r}"
            )
        if eps <= 0:
            raise ConfigError(f"scattering eps must be > 0; got {eps!r}")
        self.J, self.Q, self.T = int(J), int(Q), T
        self.orders, self.log, self.eps = str(orders), bool(log), float(eps)
        all_orders = scattering_orders(self.J, self.Q)
        keep = np.isin(all_orders, [int(c) for c in self.orders])
        self.register_buffer("_keep", torch.as_tensor(np.flatnonzero(keep)), persistent=False)
        #: order of each output channel (before deltas)
        self.channel_orders = all_orders[keep]
        self.base_dims = int(keep.sum())
        self._cache: OrderedDict[int, torch.nn.Module] = OrderedDict()

    def _transform(self, length: int, device: torch.device) -> torch.nn.Module:
        # Kymatio needs at least 2**J samples; shorter clips are zero-padded to that length
        key = max(length, 2**self.J)
        S = self._cache.pop(key, None)
        if S is None:
            kwargs = {"T": self.T} if self.T is not None else {}
            S = _scattering_class()(J=self.J, shape=key, Q=self.Q, **kwargs)
        S = S.to(device)
        self._cache[key] = S
        while len(self._cache) > CACHE_LENGTHS:
            self._cache.popitem(last=False)
        return S

    def compute(self, wave: torch.Tensor) -> torch.Tensor:
        n = wave.shape[-1]
        S = self._transform(n, wave.device)
        x = wave if n >= 2**self.J else F.pad(wave, (0, 2**self.J - n))
        coeffs = S(x.float())  # (batch, channels, n / 2**J)
        coeffs = coeffs.index_select(1, self._keep.to(coeffs.device))
        if self.log:
            coeffs = torch.log(coeffs.clamp_min(0) + self.eps)
        # onto the registry grid: frame k at sample k*hop, scattering frame j at j*step
        step = n / coeffs.shape[-1]
        t = torch.arange(self.num_frames(n), device=coeffs.device, dtype=torch.float64)
        pos = (t * self.hop_length / step).clamp(0, coeffs.shape[-1] - 1)
        lo = pos.floor().long()
        hi = (lo + 1).clamp(max=coeffs.shape[-1] - 1)
        w = (pos - lo).to(coeffs.dtype)
        out = coeffs[..., lo] * (1 - w) + coeffs[..., hi] * w
        return out.to(wave.dtype)

    def extra_repr(self) -> str:
        return super().extra_repr() + f", J={self.J}, Q={self.Q}, orders={self.orders}"


__all__ = ["Scattering", "scattering_orders"]
