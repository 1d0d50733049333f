"""Exact, faster inference graphs for trained models (:func:`optimize_for_inference`).

What it changes (only in eval mode; the same outputs to float32 rounding, tested in
``tests/test_inference.py``):

**musicnn** (:class:`musicrep.models.musicnn_tf.MusicnnNet`: ``musicnn-mtt``, ``musicnn-msd``).
Its front-end computes ``amax_f(BN(ReLU(conv(x))))`` over the frequency axis for 204 + 204
timbral and 3 x 51 temporal filters: the convolution outputs (13.6 MB per 3 s window) are
written, rectified, normalised and only then reduced to one value per filter and frame.

1. *Reduce first.* ReLU followed by eval-mode batch norm is the per-channel map
   ``z -> s * relu(z + b) + h``, monotone increasing when ``s > 0`` and decreasing when
   ``s < 0``, so its maximum over frequency is the map of ``max_f z`` (``s > 0``) or of
   ``min_f z`` (``s < 0``). Filters with ``s < 0`` are negated beforehand (``min z = -max
   -z``, exact), so one ``amax`` serves all; the bias, ReLU and batch norm then run on the
   reduced ``(channels, frames)`` map (96x / 59x / 30x smaller).
2. *Timbral convolutions by a DFT along frequency* (CPU). A ``(7, k)`` filter on 96 bands is
   a correlation along frequency; with the 96-point real DFT of every input frame, the
   filter's response is ``Y(w) = sum_dt conj(W_dt(w)) X_{t+dt}(w)``: a batched matrix product
   over the 49 frequencies with an inner size of 14 (7 taps x real/imaginary), then the
   inverse real DFT restricted to the ``96 - k + 1`` valid outputs, a matrix product with an
   inner size of 98. The 96-point circular correlation never wraps for valid outputs (input
   width 96), so it is the convolution, up to rounding (max abs difference ~5e-6 on outputs
   of magnitude ~5). Multiply-adds per 3 s window: 0.27 G + 0.16 G instead of 0.60 G + 0.54 G.
   The DFT matrices are computed in float64 from the weights and cached (per device, dtype
   and weight version). The work runs in column chunks so its largest intermediate stays
   under :data:`CHUNK_BYTES`.

The temporal ``(k, 1)`` convolutions stay direct convolutions (a DFT along time does not
reduce them), with the reduction moved before the epilogue. Everything from the mid-end on
is the original module's code.

In training mode, and for ``--layer`` hooks on sub-modules, the original modules run:
:func:`optimize_for_inference` returns a shallow copy that shares the parameters, and the
module passed in is left as it was.
"""

from __future__ import annotations

import copy
import math

import torch
import torch.nn.functional as F
from torch import nn

#: Largest intermediate of the optimized musicnn front-end per chunk of frames (bytes): the
#: 49 x 408 x frames float32 spectra of the timbral filters. 16 MiB keeps it below glibc's
#: mmap threshold (no fresh pages per call; see ``musicrep.embed.pipeline.CPU_TENSOR_BYTES``).
CHUNK_BYTES = 4 * 2**20


def _bn_affine(bn: nn.modules.batchnorm._BatchNorm) -> tuple[torch.Tensor, torch.Tensor]:
    """``(scale, shift)`` of an eval-mode batch norm: ``bn(x) = scale * x + shift``."""
    var, mean = bn.running_var, bn.running_mean
    scale = torch.ones_like(var) if bn.weight is None else bn.weight
    shift = torch.zeros_like(mean) if bn.bias is None else bn.bias
    scale = scale / torch.sqrt(var + bn.eps)
    return scale, shift - mean * scale


def _idft_matrix(n: int, outputs: int) -> torch.Tensor:
    """``(outputs, 2 * (n // 2 + 1))`` float64: the first ``outputs`` samples of the inverse
    real DFT of length ``n``, columns ordered (frequency, real/imaginary)."""
    bins = n // 2 + 1
    w = torch.arange(bins, dtype=torch.float64)
    f = torch.arange(outputs, dtype=torch.float64)
    c = torch.full((bins,), 2.0, dtype=torch.float64)
    c[0] = 1.0
    if n % 2 == 0:
        c[-1] = 1.0
    ang = 2 * math.pi * f[:, None] * w[None, :] / n
    return torch.stack([c * torch.cos(ang) / n, -c * torch.sin(ang) / n], dim=2).reshape(
        outputs, 2 * bins
    )


class FastMusicnnNet(nn.Module):
    """:class:`~musicrep.models.musicnn_tf.MusicnnNet` with the front-end of the module
    docstring; ``layers`` returns the same dict. Shares the parameters of ``net``."""

    def __init__(self, net: nn.Module, dft: bool | None = None):
        super().__init__()
        self.net = net
        #: timbral convolutions by DFT: True, False, or None (on the CPU only)
        self.dft = dft
        self._cache: tuple | None = None
        self._idft: dict = {}

    # ------------------------------------------------------------------ derived weights
    def _key(self, device: torch.device, dtype: torch.dtype) -> tuple:
        versions = tuple(t._version for t in self.net.state_dict(keep_vars=True).values())
        return (device, dtype, versions)

    @torch.no_grad()
    def _derived(self, device: torch.device, dtype: torch.dtype) -> dict:
        key = self._key(device, dtype)
        if self._cache is not None and self._cache[0] == key:
            return self._cache[1]
        net = self.net
        d: dict = {"timbral": [], "temporal": []}
        for conv, bn in zip(net.timbral, net.timbral_bn):
            scale, shift = _bn_affine(bn)
            sign = torch.where(scale < 0, -1.0, 1.0).to(scale)
            w = conv.weight[:, 0].double() * sign.double()[:, None, None]  # (C, kt, kf)
            n_bins = 96 if w.shape[-1] <= 96 else w.shape[-1]
            entry = {
                "weight": (conv.weight * sign[:, None, None, None]).to(device, dtype),
                "sign": sign.to(device, dtype)[:, None],
                "bias": conv.bias.to(device, dtype)[:, None],
                "scale": scale.to(device, dtype)[:, None],
                "shift": shift.to(device, dtype)[:, None],
                "kt": int(w.shape[1]),
                "kf": int(w.shape[2]),
            }
            # Y(w) = sum_dt conj(W_dt(w)) X_{t+dt}(w) as real products: rows (real, imag) x C,
            # columns (real, imag) x kt of the input's DFT
            wf = torch.fft.rfft(w, n=n_bins, dim=-1).conj()  # (C, kt, bins)
            top = torch.cat([wf.real, -wf.imag], dim=1)
            bottom = torch.cat([wf.imag, wf.real], dim=1)
            entry["dft_bins"] = n_bins
            entry["mix"] = torch.cat([top, bottom], 0).permute(2, 0, 1).to(device, dtype)
            entry["mix"] = entry["mix"].contiguous()  # (bins, 2C, 2 kt)
            d["timbral"].append(entry)
        for conv, bn in zip(net.temporal, net.temporal_bn):
            scale, shift = _bn_affine(bn)
            sign = torch.where(scale < 0, -1.0, 1.0).to(scale)
            d["temporal"].append(
                {
                    "weight": (conv.weight * sign[:, None, None, None]).to(device, dtype),
                    "sign": sign.to(device, dtype)[:, None],
                    "bias": conv.bias.to(device, dtype)[:, None],
                    "scale": scale.to(device, dtype)[:, None],
                    "shift": shift.to(device, dtype)[:, None],
                    "k": int(conv.kernel_size[0]),
                }
            )
        self._cache = (key, d)
        return d

    def _idft_for(self, n: int, outputs: int, device, dtype) -> torch.Tensor:
        key = (n, outputs, device, dtype)
        if key not in self._idft:
            self._idft[key] = _idft_matrix(n, outputs).to(device, dtype).contiguous()
        return self._idft[key]

    # ------------------------------------------------------------------ front-end
    @staticmethod
    def _epilogue(ext: torch.Tensor, e: dict) -> torch.Tensor:
        """``(C, ...)`` extreme of the sign-flipped conv (no bias) -> ``BN(ReLU(max + bias))``."""
        shape = ext.shape
        ext = ext.reshape(shape[0], -1)
        y = e["scale"] * F.relu(e["sign"] * ext + e["bias"]) + e["shift"]
        return y.reshape(shape)

    def _timbral_dft(self, x: torch.Tensor, entries: list[dict]) -> list[torch.Tensor]:
        """``x (B, 1, T + 6, F)`` (normalised, padded) -> per filter bank ``(B, C, T)``."""
        b, _, tp, nf = x.shape
        kt = entries[0]["kt"]
        n = entries[0]["dft_bins"]
        t = tp - kt + 1
        bins = n // 2 + 1
        spec = torch.view_as_real(torch.fft.rfft(x[:, 0], n=n, dim=-1))  # (B, T+6, bins, 2)
        cols = spec.unfold(1, kt, 1)  # (B, T, bins, 2, kt)
        cols = cols.permute(2, 3, 4, 0, 1).reshape(bins, 2 * kt, b * t).to(x.dtype)
        total = b * t
        outs = []
        for e in entries:
            c = e["mix"].shape[1] // 2
            valid = nf - e["kf"] + 1
            idft = self._idft_for(n, valid, x.device, x.dtype)
            per_col = e["mix"].shape[0] * e["mix"].shape[1] * x.element_size()
            chunks = -(-total * per_col // CHUNK_BYTES)
            step = -(-total // chunks)  # equal chunks
            ext = x.new_empty(c, total)
            for a in range(0, total, step):
                part = cols[:, :, a : a + step]
                m = part.shape[2]
                spectra = torch.bmm(e["mix"], part)  # (bins, 2C, m)
                y = torch.mm(idft, spectra.view(2 * bins, c * m))  # (valid, C * m)
                torch.amax(y.view(valid, c, m), dim=0, out=ext[:, a : a + m])
            outs.append(self._epilogue(ext, e).view(c, b, t).transpose(0, 1))
        return outs

    def _timbral_direct(self, x: torch.Tensor, entries: list[dict]) -> list[torch.Tensor]:
        outs = []
        for e in entries:
            ext = F.conv2d(x, e["weight"]).amax(dim=3)  # (B, C, T)
            outs.append(self._epilogue(ext.transpose(0, 1), e).transpose(0, 1))
        return outs

    def _temporal(self, x: torch.Tensor, entries: list[dict]) -> list[torch.Tensor]:
        """``x (B, 1, T, F)`` -> per filter bank ``(B, C, T)``: each ``(k, 1)`` filter bank as
        one matrix product per window over a strided view of the frames (no im2col copy)."""
        b, _, t, nf = x.shape
        outs = []
        for e in entries:
            k = e["k"]
            c = e["weight"].shape[0]
            xpad = F.pad(x[:, 0], (0, 0, (k - 1) // 2, k - 1 - (k - 1) // 2))  # (B, T+k-1, F)
            if x.device.type != "cpu":
                y = F.conv2d(xpad.unsqueeze(1), e["weight"]).amax(dim=3)  # (B, C, T)
                outs.append(self._epilogue(y.transpose(0, 1), e).transpose(0, 1))
                continue
            w = e["weight"][:, 0, :, 0]  # (C, k)
            ext = x.new_empty(c, b, t)
            for i in range(b):
                view = xpad[i].unfold(0, k, 1).transpose(1, 2)  # (T, k, F), a view
                torch.amax(torch.matmul(w, view), dim=2, out=ext[:, i].T)  # (T, C)
            outs.append(self._epilogue(ext, e).transpose(0, 1))
        return outs

    def layers(self, mel: torch.Tensor) -> dict[str, torch.Tensor]:
        net = self.net
        if net.training:
            return net.layers(mel)
        x = net.bn_input(mel.unsqueeze(1))  # (B, 1, T, F)
        d = self._derived(x.device, x.dtype)
        xp = F.pad(x, (0, 0, 3, 3))
        use_dft = self.dft if self.dft is not None else x.device.type == "cpu"
        autocast = torch.is_autocast_enabled(x.device.type)
        if use_dft and not autocast and x.dtype in (torch.float32, torch.float64):
            front = self._timbral_dft(xp, d["timbral"])
        else:
            front = self._timbral_direct(xp, d["timbral"])
        front += self._temporal(x, d["temporal"])
        return net.layers_from_front(front)

    def forward(self, mel: torch.Tensor) -> torch.Tensor:  # pragma: no cover - not used
        return self.layers(mel)["logits"]


def _optimized_child(module: nn.Module) -> nn.Module | None:
    from musicrep.models.musicnn_tf import MusicnnNet

    if isinstance(module, MusicnnNet):
        return FastMusicnnNet(module)
    return None


def optimize_for_inference(model: nn.Module) -> nn.Module:
    """``model``, or a shallow copy of it sharing its parameters, in which the sub-modules
    with a faster exact inference graph (module docstring) are replaced.

    The module passed in is not modified; the copy follows its ``train``/``eval`` mode (the
    replaced parts run the original code in training mode). Returns ``model`` itself when
    nothing applies.
    """
    replaced = _optimized_child(model)
    if replaced is not None:
        return replaced
    changes = {}
    for name, child in model.named_children():
        new = optimize_for_inference(child)
        if new is not child:
            changes[name] = new
    if not changes:
        return model
    out = copy.copy(model)
    out._modules = dict(model._modules)
    for name, new in changes.items():
        out._modules[name] = new
    return out


def is_optimized(model: nn.Module) -> bool:
    """Whether ``model`` contains a part replaced by :func:`optimize_for_inference`."""
    return any(isinstance(m, FastMusicnnNet) for m in model.modules())
