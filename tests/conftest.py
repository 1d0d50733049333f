"""Shared test fixtures: short synthetic audio made on the fly (tests never download data)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

torch.set_num_threads(2)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


def tone(
    freq: float = 440.0, seconds: float = 1.0, sr: int = 16000, amp: float = 0.5
) -> np.ndarray:
    """A float32 sine wave."""
    t = np.arange(int(round(seconds * sr))) / sr
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)
