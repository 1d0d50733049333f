"""Generation objectives (Manzelli et al. 2018): ``gen_lstm`` trains the symbolic model on
corpus piano rolls, ``gen_wavenet`` the roll-conditioned WaveNet on corpus renders.

Both own their whole network (no ``model:`` section, :attr:`requires_encoder` False) and make
their own data (:attr:`provides_data`, :meth:`make_dataset`): the built-in corpus's note events
and their renders, split as the corpus splits its pieces (``data.manifest`` is not used). They
export their network (kinds ``"gen_lstm"`` and ``"wavenet"``, see :mod:`musicrep.io`), which
``musicrep generate`` loads.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from musicrep.errors import ConfigError
from musicrep.objectives.base import OBJECTIVES, Objective, View


def _network_options(network: dict | None, allowed: tuple[str, ...], what: str) -> dict:
    network = dict(network or {})
    unknown = sorted(set(network) - set(allowed))
    if unknown:
        raise ConfigError(
            f"unknown objective.network option(s) {', '.join(unknown)} for {what}",
            f"valid: {', '.join(allowed)}",
        )
    return network


@OBJECTIVES.register("gen_lstm")
class SymbolicLSTMObjective(Objective):
    """Next-frame NLL of corpus piano rolls under a style-conditioned biaxial LSTM
    (``arch: biaxial``) or the single-axis baseline (``arch: time``).

    Logged: ``loss`` = NLL in nats per frame (summed over pitches: play, and articulate where
    played), ``nll_note`` = nats per note onset. The final evaluation (test split) reports both
    and compares rolls sampled per style with real test segments (:func:`roll_statistics`).
    """

    requires_encoder = False
    provides_data = True
    views = (View("roll"),)

    def __init__(
        self,
        arch: str = "biaxial",
        network: dict | None = None,
        styles: list[str] | None = None,
        frames: int = 64,
        frames_per_quarter: int = 4,
        lowest: int = 21,
        highest: int = 108,
        transpose: int = 0,
        eval_samples_per_style: int = 2,
        temperature: float = 1.0,
    ):
        super().__init__()
        from musicrep.generate.data import style_names
        from musicrep.generate.lstm import BiaxialLSTM, TimeLSTM

        self.styles = style_names(styles)
        self.frames, self.frames_per_quarter, self.transpose = frames, frames_per_quarter, transpose
        self.lowest, self.highest = lowest, highest
        self.eval_samples_per_style, self.temperature = eval_samples_per_style, temperature
        common = dict(
            pitches=highest - lowest + 1,
            num_styles=len(self.styles),
            lowest=lowest,
            bar_frames=4 * frames_per_quarter,
        )
        if arch == "biaxial":
            allowed = (
                "time_hidden",
                "pitch_hidden",
                "time_layers",
                "pitch_layers",
                "window",
                "style_dim",
                "dropout",
            )
            self.model = BiaxialLSTM(**common, **_network_options(network, allowed, arch))
        elif arch == "time":
            allowed = ("hidden", "layers", "style_dim", "dropout")
            self.model = TimeLSTM(**common, **_network_options(network, allowed, arch))
        else:
            raise ConfigError(f"unknown objective.arch {arch!r}", "use 'biaxial' or 'time'")
        self.model.config["styles"] = list(self.styles)
        self.model.config["frames_per_quarter"] = frames_per_quarter

    def make_dataset(self, split: str, seed: int):
        from musicrep.generate.data import RollSegments

        return RollSegments(
            split,
            styles=self.styles,
            frames=self.frames,
            frames_per_quarter=self.frames_per_quarter,
            lowest=self.lowest,
            highest=self.highest,
            transpose=self.transpose,
            seed=seed,
        )

    def forward(self, encoder, batch):
        roll = batch["roll"]
        nll = self.model.nll(roll, batch["style"])  # (batch, frames-1)
        notes = roll[:, 1, :, 1:].sum().clamp_min(1)
        return {"loss": nll.mean(), "nll_note": nll.sum().detach() / notes}

    @torch.no_grad()
    def evaluate(self, encoder, data) -> dict:
        import numpy as np

        from musicrep.generate.lstm import roll_statistics, statistics_distance

        device = data.device
        self.model.to(device).eval()
        test = self.make_dataset("test", 0)
        total, frames, notes = 0.0, 0, 0.0
        loader = torch.utils.data.DataLoader(test, batch_size=data.batch_size)
        real: dict[int, list] = {}
        for batch in loader:
            roll, style = batch["roll"].to(device), batch["style"].to(device)
            nll = self.model.nll(roll, style)
            total += float(nll.sum())
            frames += nll.numel()
            notes += float(roll[:, 1, :, 1:].sum())
            for r, s in zip(roll.cpu().numpy(), style.tolist()):
                real.setdefault(s, []).append(roll_statistics(r, lowest=self.lowest))
        out: dict[str, Any] = {
            "test_nll_frame": total / max(frames, 1),
            "test_nll_note": total / max(notes, 1),
            "test_segments": len(test),
            "arch": self.model.config["kind"],
        }
        per_style = {}
        generated_all, real_all = [], []
        for s, name in enumerate(self.styles):
            if s not in real:
                continue
            rolls = self.model.sample(
                self.frames,
                s,
                batch=self.eval_samples_per_style,
                temperature=self.temperature,
                seed=s,
            )
            gen = [roll_statistics(r, lowest=self.lowest) for r in rolls.cpu().numpy()]
            per_style[name] = statistics_distance(gen, real[s])
            generated_all += gen
            real_all += real[s]
        out["generated_vs_real"] = statistics_distance(generated_all, real_all)
        out["generated_vs_real_per_style"] = per_style
        out["pitch_class_l1_mean_over_styles"] = float(
            np.mean([v["pitch_class_l1"] for v in per_style.values()])
        )
        return out

    def export_model(self, encoder):
        return self.model

    @classmethod
    def example_config(cls) -> dict:
        return {
            "model": None,
            "task": None,
            "objective": {
                "arch": "biaxial",
                "frames": 8,
                "lowest": 48,
                "highest": 83,
                "network": {"time_hidden": 8, "pitch_hidden": 8, "time_layers": 1},
            },
        }


@OBJECTIVES.register("gen_wavenet")
class WaveNetObjective(Objective):
    """Next-sample 256-way cross-entropy of mu-law corpus renders under a WaveNet conditioned
    on the aligned piano roll (``conditioned: false`` trains the unconditioned baseline;
    ``global_style: true`` adds the style as global conditioning).

    Logged: ``loss`` (nats per sample) and ``bits`` (bits per sample). The final evaluation
    reports the test loss, and for a conditioned model also the loss with the roll zeroed
    (how much the model relies on its conditioning).
    """

    requires_encoder = False
    provides_data = True
    views = (View("audio"),)

    def __init__(
        self,
        network: dict | None = None,
        conditioned: bool = True,
        global_style: bool = False,
        styles: list[str] | None = None,
        clips: int = 64,
        valid_clips: int = 16,
        seconds: float = 2.0,
        crop: int = 4000,
        instrument: str = "piano",
        sample_rate: int = 16000,
        hop: int = 160,
        reverb: float = 0.1,
        lowest: int = 21,
        highest: int = 108,
        musicnet: str | None = None,
    ):
        super().__init__()
        from musicrep.generate.data import style_names
        from musicrep.generate.wavenet import WaveNet

        self.styles = style_names(styles)
        self.data_options = dict(
            seconds=seconds,
            crop=crop,
            instrument=instrument,
            sample_rate=sample_rate,
            hop=hop,
            reverb=reverb,
            lowest=lowest,
            highest=highest,
        )
        self.clips, self.valid_clips, self.musicnet = clips, valid_clips, musicnet
        allowed = ("layers", "cycle", "channels", "skip_channels", "global_dim")
        options = _network_options(network, allowed, "gen_wavenet")
        pitches = highest - lowest + 1
        self.model = WaveNet(
            cond_channels=2 * pitches if conditioned else 0,
            hop=hop,
            num_styles=len(self.styles) if global_style else 0,
            **options,
        )
        self.model.config.update(
            styles=list(self.styles),
            lowest=lowest,
            highest=highest,
            sample_rate=sample_rate,
            instrument=instrument,
        )
        self.sample_rate = sample_rate

    def make_dataset(self, split: str, seed: int):
        if self.musicnet:
            from musicrep.generate.data import MusicNetCrops

            return MusicNetCrops(
                self.musicnet,
                split,
                crop=self.data_options["crop"],
                sample_rate=self.sample_rate,
                hop=self.data_options["hop"],
                lowest=self.data_options["lowest"],
                highest=self.data_options["highest"],
                seed=seed,
            )
        from musicrep.generate.data import RenderedClips

        clips = self.clips if split == "train" else self.valid_clips
        return RenderedClips(split, styles=self.styles, clips=clips, seed=seed, **self.data_options)

    def _loss(self, batch, zero_roll=False):
        from musicrep.generate.wavenet import mu_law_encode

        q = mu_law_encode(batch["audio"])
        roll = batch["roll"]
        if zero_roll:
            roll = torch.zeros_like(roll)
        style = batch["style"] if self.model.style is not None else None
        return self.model.loss(q, roll, style)

    def forward(self, encoder, batch):
        loss = self._loss(batch)
        return {"loss": loss, "bits": loss.detach() / math.log(2)}

    @torch.no_grad()
    def evaluate(self, encoder, data) -> dict:
        self.model.to(data.device).eval()
        test = self.make_dataset("test", 0)
        loader = torch.utils.data.DataLoader(test, batch_size=data.batch_size)
        total, zeroed, n = 0.0, 0.0, 0
        for batch in loader:
            batch = {k: v.to(data.device) for k, v in batch.items()}
            b = batch["audio"].shape[0]
            total += float(self._loss(batch)) * b
            if self.model.config["cond_channels"]:
                zeroed += float(self._loss(batch, zero_roll=True)) * b
            n += b
        out = {
            "test_loss": total / n,
            "test_bits_per_sample": total / n / math.log(2),
            "test_clips": n,
            "conditioned": bool(self.model.config["cond_channels"]),
            "receptive_field": self.model.receptive_field,
        }
        if self.model.config["cond_channels"]:
            out["test_loss_roll_zeroed"] = zeroed / n
        return out

    def export_model(self, encoder):
        return self.model

    @classmethod
    def example_config(cls) -> dict:
        return {
            "model": None,
            "task": None,
            "objective": {
                "clips": 8,
                "valid_clips": 2,
                "seconds": 0.5,
                "crop": 800,
                "styles": ["bach", "folk"],
                "network": {"layers": 3, "cycle": 3, "channels": 4, "skip_channels": 4},
            },
        }
