"""The gradient-blending weighting rule (G-Blend, Wang, Tran & Feiszli, CVPR 2020), online form.

Phan et al. (2021, "multi-view audio and music classification") train one sub-network per
view, a joint head on the concatenated embeddings and one head per view, and re-weight the
branch losses during training from how each branch learns: a branch that generalises well is
encouraged, one that overfits is slowed down. The formulas follow G-Blend (Prop. 1), read with
the project's spec (``shared/reference/seed_methods.md`` section A):

For branch ``k``, with train loss ``LT`` and held-out (valid split, never test) loss ``LV`` at
two successive checkpoints ``N`` and ``N+n``:

- generalisation gain ``dG = LV_N - LV_{N+n}`` (positive when the held-out loss drops);
- overfitting increase ``dO = (LV - LT)_{N+n} - (LV - LT)_N``;
- raw weight ``max(dG, 0) / (dO**2 + eps)``: a branch whose held-out loss stopped dropping
  (``dG <= 0``) gets weight 0 before the floor;
- normalisation to sum 1 (uniform when every raw weight is 0, i.e. no branch generalises);
- optional smoothing ``w = beta * w_prev + (1 - beta) * w`` and a floor ``w >= floor``
  (renormalised after the floor).

[open] The paper's update period, smoothing, floor and treatment of ``dG <= 0`` were not
retrievable; they are the knobs of the ``gblend`` loss weighting and of the recipe.

This module is the rule as pure functions (:func:`gblend_weights`); the online scheme that
applies it during training is the ``gblend`` weighting of
:mod:`musicrep.objectives.weighting` (``create_weighting("gblend", tasks)``), the same
interface as the multi-task weightings (``equal``, ``dwa``, ``uncertainty``, ``gradnorm``).
"""

from __future__ import annotations

from collections.abc import Mapping

from musicrep.errors import ConfigError


def gblend_raw(
    train_prev: float, valid_prev: float, train_now: float, valid_now: float, eps: float = 1e-8
) -> float:
    """Un-normalised G-Blend weight of one branch between two checkpoints.

    ``max(dG, 0) / (dO**2 + eps)`` with ``dG = valid_prev - valid_now`` and
    ``dO = (valid_now - train_now) - (valid_prev - train_prev)``.
    """
    d_g = valid_prev - valid_now
    d_o = (valid_now - train_now) - (valid_prev - train_prev)
    return max(d_g, 0.0) / (d_o * d_o + eps)


def floor_normalise(weights: dict[str, float], floor: float) -> dict[str, float]:
    """Normalise to sum 1, then raise every weight to ``floor`` and renormalise the rest.

    The weights at the floor stay exactly at it; the others share ``1 - floor * n_floored``
    in proportion to their values (iterated until no weight falls below the floor).
    """
    total = sum(weights.values())
    if total <= 0:
        return {k: 1.0 / len(weights) for k in weights}
    w = {k: v / total for k, v in weights.items()}
    if floor <= 0:
        return w
    fixed: set[str] = set()
    while True:
        low = {k for k, v in w.items() if k not in fixed and v < floor}
        if not low:
            return w
        fixed |= low
        rest = [k for k in w if k not in fixed]
        budget = 1.0 - floor * len(fixed)
        mass = sum(w[k] for k in rest)
        w = {k: floor for k in fixed} | {
            k: (w[k] / mass * budget if mass > 0 else budget / len(rest)) for k in rest
        }


def gblend_weights(
    train_prev: Mapping[str, float],
    valid_prev: Mapping[str, float],
    train_now: Mapping[str, float],
    valid_now: Mapping[str, float],
    previous: Mapping[str, float] | None = None,
    smoothing: float = 0.0,
    floor: float = 0.0,
    eps: float = 1e-8,
) -> dict[str, float]:
    """Blending weights of every branch (a dict summing to 1) from two checkpoints' losses.

    Parameters
    ----------
    train_prev, valid_prev, train_now, valid_now : mapping of branch name to loss
        Train and held-out losses of each branch at the previous and the current checkpoint.
    previous : mapping, optional
        The weights in use, for smoothing.
    smoothing : float
        ``beta`` in ``beta * previous + (1 - beta) * new`` (0: no smoothing).
    floor : float
        Minimum weight of any branch (``floor * branches`` must be below 1).
    eps : float
        Added to ``dO**2``.
    """
    names = list(train_now)
    if not names:
        raise ConfigError("gradient blending needs at least one branch")
    for m in (train_prev, valid_prev, valid_now):
        if set(m) != set(names):
            raise ConfigError(f"branch losses disagree on the branches: {sorted(m)} vs {names}")
    if not 0.0 <= smoothing < 1.0:
        raise ConfigError(f"smoothing must be in [0, 1); got {smoothing}")
    if floor < 0 or floor * len(names) >= 1.0:
        raise ConfigError(f"floor must be in [0, 1/{len(names)}); got {floor}")
    raw = {
        k: gblend_raw(train_prev[k], valid_prev[k], train_now[k], valid_now[k], eps) for k in names
    }
    new = floor_normalise(raw, 0.0)
    if previous is not None and smoothing > 0:
        new = {k: smoothing * previous[k] + (1.0 - smoothing) * new[k] for k in names}
    return floor_normalise(new, floor)


__all__ = ["floor_normalise", "gblend_raw", "gblend_weights"]
