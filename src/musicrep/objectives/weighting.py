"""Loss-weighting schemes for objectives with several losses (multi-task workers, branches).

A scheme turns the per-task losses of a batch into one scalar to optimise. The interface is
small so that any objective (the multi-task workers of :mod:`musicrep.objectives.multitask`,
the gradient-blending branches of a multi-view objective...) can use or register one:

- ``scheme = create_weighting(name, tasks=[...], **options)`` (an ``nn.Module``: learned
  weights are parameters, running state is buffers, so ``state_dict`` carries everything a
  resumed run needs; make it a submodule of the objective);
- ``total = scheme.combine(losses, shared=params)`` every training step: ``losses`` a dict
  ``task -> scalar tensor``; ``shared`` the parameters the tasks share (only GradNorm reads
  them); the returned scalar is back-propagated (it may include the scheme's own loss, e.g.
  Kendall's log-variance penalty or GradNorm's gradient loss);
- ``scheme.weights()`` -> dict ``task -> float``: the current weights (logged every epoch as
  ``weight/<task>``);
- ``scheme.epoch_end(mean_losses, valid=None)`` after each training epoch with the epoch's
  mean per-task losses (DWA uses them) and, from objectives that measure them, the per-task
  losses on the held-out (valid) split (G-Blend needs them); ``scheme.step_end()`` after each
  optimiser step (GradNorm renormalises its weights);
- ``scheme.param_groups()``: optimiser groups for learned weights (with their own ``lr`` when
  the method prescribes one).

Registered here (``WEIGHTINGS``):

==============  ======================================================================
``equal``       ``w_i = 1`` (or fixed ``weights``): PASE+ sums its workers' losses
``inverse``     ``w_i = 1 / L_i(0)``: losses divided by their first-step value
``uncertainty`` Kendall, Gal & Cipolla (2018): ``sum_i 0.5 exp(-s_i) L_i + 0.5 s_i``,
                ``s_i = log sigma_i^2`` learned (the weight is ``0.5 exp(-s_i)``)
``dwa``         dynamic weight average (Liu, Johns & Davison, 2019):
                ``w_i(t) = K exp(r_i / T) / sum_j exp(r_j / T)``,
                ``r_i = L_i(t-1) / L_i(t-2)`` (epoch means), ``w = 1`` for the first 2 epochs
``gradnorm``    GradNorm (Chen et al., 2018): learned ``w_i`` whose gradient norms on the
                shared parameters are pulled to ``mean(G) * (L_i(t)/L_i(0) / mean)^alpha``;
                renormalised to ``sum w = K`` after every step
``gblend``      online gradient blending (Wang, Tran & Feiszli 2020; Phan et al. 2021):
                ``w_i ~ max(dG_i, 0) / dO_i^2`` from train and held-out losses at two
                checkpoints (:mod:`musicrep.objectives.gblend`), sum 1, smoothed, floored
==============  ======================================================================

A new scheme: subclass :class:`LossWeighting`, implement :meth:`LossWeighting.current`
(weights as a tensor, differentiable if learned) or override :meth:`combine`, and register it
with ``@WEIGHTINGS.register("name")``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import torch
from torch import nn

from musicrep.errors import ConfigError
from musicrep.registry import Registry

WEIGHTINGS: Registry[LossWeighting] = Registry("loss weighting")


class LossWeighting(nn.Module):
    """Base class: fixed weights ``w`` (the ``equal`` scheme; see the module docstring).

    Parameters
    ----------
    tasks : sequence of str
        Names of the losses, in a fixed order.
    weights : mapping or sequence of float, optional
        Fixed weights (default 1 each).
    """

    learned = False

    def __init__(self, tasks: Sequence[str], weights: Mapping[str, float] | Sequence | None = None):
        super().__init__()
        self.tasks = [str(t) for t in tasks]
        if not self.tasks or len(set(self.tasks)) != len(self.tasks):
            raise ConfigError(f"loss weighting needs distinct task names; got {self.tasks}")
        if weights is None:
            w = [1.0] * len(self.tasks)
        elif isinstance(weights, Mapping):
            unknown = sorted(set(weights) - set(self.tasks))
            if unknown:
                raise ConfigError(
                    f"weights for unknown task(s) {', '.join(unknown)}",
                    f"tasks: {', '.join(self.tasks)}",
                )
            w = [float(weights.get(t, 1.0)) for t in self.tasks]
        else:
            w = [float(v) for v in weights]
            if len(w) != len(self.tasks):
                raise ConfigError(f"{len(w)} weights for {len(self.tasks)} tasks")
        self.register_buffer("fixed", torch.tensor(w, dtype=torch.float32))

    def _stack(self, losses: Mapping[str, torch.Tensor]) -> torch.Tensor:
        missing = [t for t in self.tasks if t not in losses]
        if missing:
            raise ConfigError(f"loss weighting got no loss for task(s) {', '.join(missing)}")
        return torch.stack([losses[t].float().reshape(()) for t in self.tasks])

    def current(self, losses: torch.Tensor) -> torch.Tensor:
        """The weights ``(tasks,)`` for the stacked losses (differentiable when learned)."""
        return self.fixed.to(losses.device)

    def combine(
        self, losses: Mapping[str, torch.Tensor], shared: Iterable[nn.Parameter] | None = None
    ) -> torch.Tensor:
        """The scalar to back-propagate: ``sum_i w_i L_i`` (plus the scheme's own terms)."""
        values = self._stack(losses)
        return (self.current(values.detach()) * values).sum()

    @torch.no_grad()
    def weights(self) -> dict[str, float]:
        """The current weights by task (what is logged)."""
        dummy = torch.ones(len(self.tasks), device=self.fixed.device)
        w = self.current(dummy)
        return {t: float(v) for t, v in zip(self.tasks, w.tolist(), strict=True)}

    def epoch_end(
        self, mean_losses: Mapping[str, float], valid: Mapping[str, float] | None = None
    ) -> None:
        """Called after each training epoch with its mean per-task losses (and, when the
        objective measures them, the per-task losses on the valid split)."""

    def step_end(self) -> None:
        """Called after each optimiser step."""

    def param_groups(self) -> list[dict[str, Any]]:
        """Optimiser groups of learned weights (none by default)."""
        return []


WEIGHTINGS.register("equal")(LossWeighting)


@WEIGHTINGS.register("inverse")
class InverseInitialWeighting(LossWeighting):
    """``w_i = 1 / L_i(0)``, ``L_i(0)`` the task's loss at the first training step.

    ``normalize`` (default True) [open: the reference does not say]: scale the weights to sum to
    the number of tasks, so the total keeps the magnitude of an equal-weight sum at the start.
    """

    def __init__(self, tasks: Sequence[str], normalize: bool = True, eps: float = 1e-8):
        super().__init__(tasks)
        self.normalize, self.eps = bool(normalize), float(eps)
        self.register_buffer("initial", torch.zeros(len(self.tasks)))
        self.register_buffer("seen", torch.zeros((), dtype=torch.bool))

    def current(self, losses: torch.Tensor) -> torch.Tensor:
        if not bool(self.seen):
            return torch.ones_like(losses)
        w = 1.0 / (self.initial.to(losses.device) + self.eps)
        return w * len(self.tasks) / w.sum() if self.normalize else w

    def combine(self, losses, shared=None):
        values = self._stack(losses)
        if self.training and not bool(self.seen):
            self.initial.copy_(values.detach().abs())
            self.seen.fill_(True)
        return (self.current(values.detach()) * values).sum()


@WEIGHTINGS.register("uncertainty")
class UncertaintyWeighting(LossWeighting):
    """Kendall et al. (2018): ``sum_i 0.5 exp(-s_i) L_i + 0.5 s_i`` with learned ``s_i``.

    The regression form (eq. (7): ``L / (2 sigma^2) + log sigma``, ``s = log sigma^2``; every
    worker here regresses). ``init`` is ``s_i`` at the start (0: weight 0.5).
    """

    learned = True

    def __init__(self, tasks: Sequence[str], init: float = 0.0, lr: float | None = None):
        super().__init__(tasks)
        self.log_var = nn.Parameter(torch.full((len(self.tasks),), float(init)))
        self.lr = lr

    def current(self, losses: torch.Tensor) -> torch.Tensor:
        return 0.5 * torch.exp(-self.log_var)

    def combine(self, losses, shared=None):
        values = self._stack(losses)
        return (0.5 * torch.exp(-self.log_var) * values + 0.5 * self.log_var).sum()

    def param_groups(self):
        group: dict[str, Any] = {"params": [self.log_var], "weight_decay": 0.0}
        if self.lr is not None:
            group["lr"] = float(self.lr)
        return [group]


@WEIGHTINGS.register("dwa")
class DynamicWeightAverage(LossWeighting):
    """Liu et al. (2019): ``w_i = K softmax(r / T)_i``, ``r_i = L_i(t-1) / L_i(t-2)``.

    Epoch means of the losses (the paper's choice); ``w = 1`` until two epochs have ended.
    ``temperature`` T = 2 (the paper's).
    """

    def __init__(self, tasks: Sequence[str], temperature: float = 2.0):
        super().__init__(tasks)
        if not temperature > 0:
            raise ConfigError(f"dwa temperature must be > 0; got {temperature}")
        self.temperature = float(temperature)
        self.register_buffer("history", torch.zeros(2, len(self.tasks)))  # [t-2, t-1]
        self.register_buffer("epochs", torch.zeros((), dtype=torch.long))

    def current(self, losses: torch.Tensor) -> torch.Tensor:
        if int(self.epochs) < 2:
            return torch.ones(len(self.tasks), device=losses.device)
        r = self.history[1] / self.history[0].clamp_min(1e-12)
        return (len(self.tasks) * torch.softmax(r / self.temperature, dim=0)).to(losses.device)

    def epoch_end(self, mean_losses, valid=None):
        values = torch.tensor([float(mean_losses[t]) for t in self.tasks])
        self.history[0] = self.history[1].clone()
        self.history[1] = values.to(self.history.device)
        self.epochs += 1


@WEIGHTINGS.register("gradnorm")
class GradNorm(LossWeighting):
    """GradNorm (Chen et al., 2018) with asymmetry ``alpha`` (1.5, the paper's NYUv2 value).

    Each step: ``G_i = w_i ||d L_i / d W||`` on the shared parameters ``W`` (the encoder's last
    parameters; the paper uses the last shared layer), ``r_i = (L_i / L_i(0)) /
    mean_j(L_j / L_j(0))``, ``L_grad = sum_i |G_i - mean(G) r_i^alpha|`` with the target held
    constant. The returned total is ``sum_i w_i L_i`` (weights detached: the network sees the
    weighted sum) ``+ L_grad`` (which depends only on ``w``); after each optimiser step the
    weights are renormalised to sum to the number of tasks. ``lr`` of the weights: 0.025 (the
    paper's).
    """

    learned = True

    def __init__(self, tasks: Sequence[str], alpha: float = 1.5, lr: float | None = 0.025):
        super().__init__(tasks)
        self.alpha = float(alpha)
        self.lr = lr
        self.w = nn.Parameter(torch.ones(len(self.tasks)))
        self.register_buffer("initial", torch.zeros(len(self.tasks)))
        self.register_buffer("seen", torch.zeros((), dtype=torch.bool))

    def current(self, losses: torch.Tensor) -> torch.Tensor:
        return self.w

    def gradient_loss(self, values: torch.Tensor, norms: torch.Tensor) -> torch.Tensor:
        """``L_grad`` from the stacked losses and the unweighted gradient norms ``||dL_i/dW||``."""
        g = self.w * norms.detach()
        ratio = values.detach() / self.initial.to(values.device).clamp_min(1e-12)
        r = ratio / ratio.mean()
        target = (g.mean() * r.pow(self.alpha)).detach()
        return (g - target).abs().sum()

    def combine(self, losses, shared=None):
        values = self._stack(losses)
        total = (self.w.detach() * values).sum()
        if not self.training or not torch.is_grad_enabled():
            return total
        if not bool(self.seen):
            self.initial.copy_(values.detach().abs())
            self.seen.fill_(True)
        params = [p for p in (shared or []) if p.requires_grad]
        if not params:
            raise ConfigError("gradnorm needs the shared parameters (the encoder's last layer)")
        norms = []
        for i in range(len(self.tasks)):
            if not values[i].requires_grad:
                norms.append(values.new_zeros(()))
                continue
            grads = torch.autograd.grad(values[i], params, retain_graph=True, allow_unused=True)
            sq = sum(g.pow(2).sum() for g in grads if g is not None)
            norms.append(torch.as_tensor(sq, device=values.device, dtype=values.dtype).sqrt())
        return total + self.gradient_loss(values, torch.stack(norms))

    @torch.no_grad()
    def step_end(self):
        self.w.clamp_(min=1e-4)
        self.w.mul_(len(self.tasks) / self.w.sum())

    def param_groups(self):
        group: dict[str, Any] = {"params": [self.w], "weight_decay": 0.0}
        if self.lr is not None:
            group["lr"] = float(self.lr)
        return [group]


@WEIGHTINGS.register("gblend")
class GradientBlendingWeighting(LossWeighting):
    """Online G-Blend weights from train and held-out losses (the rule:
    :func:`musicrep.objectives.gblend.gblend_weights`).

    Every ``update_every`` epochs is a checkpoint: ``epoch_end(train, valid=...)`` records the
    epoch-mean train losses and the valid losses; from the second checkpoint on the weights
    are re-estimated from the losses at this checkpoint and the previous one, normalised to sum
    1, smoothed with the weights in use and floored. Until then they are ``initial`` (uniform
    1/K by default), floored. Needs an objective that measures per-task valid losses (the
    ``gradient_blending`` objective does); the test split is never involved.

    Parameters
    ----------
    tasks : sequence of str
        The branches (e.g. ``joint, mel, gammatone, cqt, wave``).
    update_every : int
        Epochs between checkpoints ([open] the paper's period was not retrievable; 1).
    smoothing : float
        ``beta`` of ``w = beta * w_prev + (1 - beta) * w_new`` ([open]; 0.5).
    floor : float
        Minimum weight, so that no branch stops learning entirely ([open]; 0.02; 0 lets a
        branch whose held-out loss stopped dropping get weight 0).
    eps : float
        Added to ``dO**2``.
    initial : mapping or sequence, optional
        Weights before the first re-estimation (normalised to sum 1).
    """

    def __init__(
        self,
        tasks: Sequence[str],
        update_every: int = 1,
        smoothing: float = 0.5,
        floor: float = 0.02,
        eps: float = 1e-8,
        initial: Mapping[str, float] | Sequence | None = None,
    ):
        from musicrep.objectives.gblend import floor_normalise

        super().__init__(tasks, initial)
        if int(update_every) < 1:
            raise ConfigError(f"gblend update_every must be >= 1; got {update_every}")
        if not 0.0 <= float(smoothing) < 1.0:
            raise ConfigError(f"gblend smoothing must be in [0, 1); got {smoothing}")
        if float(floor) < 0 or float(floor) * len(self.tasks) >= 1.0:
            raise ConfigError(f"gblend floor must be in [0, 1/{len(self.tasks)}); got {floor}")
        self.update_every, self.eps = int(update_every), float(eps)
        self.smoothing, self.floor = float(smoothing), float(floor)
        start = floor_normalise(dict(zip(self.tasks, self.fixed.tolist())), self.floor)
        self.fixed.copy_(torch.tensor([start[t] for t in self.tasks]))
        # losses at the last checkpoint ([train, valid]) and the number of epochs seen
        self.register_buffer("checkpoint", torch.zeros(2, len(self.tasks), dtype=torch.float64))
        self.register_buffer("has_checkpoint", torch.zeros((), dtype=torch.bool))
        self.register_buffer("epochs", torch.zeros((), dtype=torch.long))

    def epoch_end(self, mean_losses, valid=None):
        from musicrep.objectives.gblend import gblend_weights

        if valid is None:
            raise ConfigError(
                "weighting gblend needs each task's held-out (valid) loss at the end of an epoch",
                "use it with an objective that measures them (objective: gradient_blending)",
            )
        self.epochs += 1
        if (int(self.epochs) - 1) % self.update_every:
            return
        train_now = {t: float(mean_losses[t]) for t in self.tasks}
        valid_now = {t: float(valid[t]) for t in self.tasks}
        if bool(self.has_checkpoint):
            prev_t, prev_v = self.checkpoint.tolist()
            new = gblend_weights(
                dict(zip(self.tasks, prev_t)),
                dict(zip(self.tasks, prev_v)),
                train_now,
                valid_now,
                previous=dict(zip(self.tasks, self.fixed.tolist())),
                smoothing=self.smoothing,
                floor=self.floor,
                eps=self.eps,
            )
            self.fixed.copy_(torch.tensor([new[t] for t in self.tasks]))
        self.checkpoint.copy_(
            torch.tensor([[train_now[t] for t in self.tasks], [valid_now[t] for t in self.tasks]])
        )
        self.has_checkpoint.fill_(True)


def create_weighting(spec: str | Mapping[str, Any], tasks: Sequence[str]) -> LossWeighting:
    """Build a scheme from a recipe value: a name (``"dwa"``) or ``{"name": ..., **options}``."""
    if isinstance(spec, str):
        spec = {"name": spec}
    spec = dict(spec)
    name = spec.pop("name", None)
    if name is None:
        raise ConfigError("weighting needs a name", f"valid: {', '.join(WEIGHTINGS.names())}")
    try:
        return WEIGHTINGS.create(name, tasks=tasks, **spec)
    except TypeError as exc:
        raise ConfigError(f"bad option for weighting {name!r}: {exc}") from exc


__all__ = [
    "WEIGHTINGS",
    "DynamicWeightAverage",
    "GradNorm",
    "GradientBlendingWeighting",
    "InverseInitialWeighting",
    "LossWeighting",
    "UncertaintyWeighting",
    "create_weighting",
]
