"""Music generation: a style-conditioned biaxial LSTM over piano rolls
(:mod:`musicrep.generate.lstm`) whose output conditions a WaveNet rendering audio
(:mod:`musicrep.generate.wavenet`), after Manzelli et al. (ISMIR 2018)."""

from musicrep.generate.lstm import BiaxialLSTM, TimeLSTM, roll_statistics, statistics_distance
from musicrep.generate.wavenet import WaveNet, mu_law_decode, mu_law_encode, upsample_roll

__all__ = [
    "BiaxialLSTM",
    "TimeLSTM",
    "WaveNet",
    "mu_law_decode",
    "mu_law_encode",
    "roll_statistics",
    "statistics_distance",
    "upsample_roll",
]
