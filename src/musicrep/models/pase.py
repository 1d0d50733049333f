"""PASE+ and PASE: self-supervised speech encoders (SincNet + 7 conv blocks), 10 ms frames.

The encoders of the multi-task self-supervised recipes (Wu et al. 2021 pre-train them on music
with PASE's workers): ``santi-pdp/pase`` ``cfg/frontend/PASE+.cfg`` and ``PASE.cfg``. The
SincNet layer is the ``sinc`` front-end (64 filters of 251 taps, mel-spaced from 30 Hz to
``fs / 2 - 100`` Hz, minimum low cut-off and band 50 Hz, reflect "same" padding, BatchNorm,
PReLU initialised at 0); the rest is the ``pase`` back-end (:mod:`musicrep.backends.pase`).
Output: one ``emb_dim`` vector per 160 samples (10 ms at 16 kHz); a 100,000-sample input
gives 625 frames. The native chunk is PASE+'s training chunk, 32,000 samples (2 s).
"""

from musicrep.models.spec import SAME_AS_EMBED, ModelSpec, register_model

_SINCNET = {
    "n_filters": 64,
    "kernel_size": 251,
    "stride": 1,
    "padding": "same",
    "padding_mode": "reflect",
    "compression": "none",
    "pool_size": 1,
    "norm": "batch",
    "activation": "prelu",
}
_CODE = "santi-pdp/pase (cfg/frontend/PASE+.cfg, pase/models/frontend.py WaveFe)"

PASE_PLUS = register_model(
    ModelSpec(
        name="pase_plus",
        title="PASE+: SincNet + 7 conv blocks + dense skips + QRNN, 256-d per 10 ms",
        reference="M. Ravanelli, J. Zhong, S. Pascual, P. Swietojanski, J. Monteiro, J. Trmal, "
        "Y. Bengio. Multi-task self-supervised learning for robust speech recognition. "
        "ICASSP 2020 (arXiv:2001.09239).",
        sample_rate=16000,
        input_samples=32000,
        frontend="sinc",
        backend="pase",
        frontend_kwargs=_SINCNET,
        backend_kwargs={"emb_dim": 256, "rnn": "qrnn", "rnn_dim": 512, "dense_skips": True},
        head_hidden=SAME_AS_EMBED,
        dropout=0.5,
        notes=f"{_CODE}. The QRNN is unidirectional with 512 units, as the reference code runs "
        "it (pytorch-qrnn ignores the bidirectional flag); backend_kwargs={'bidirectional': "
        "True} gives 256 per direction. Embedding = mean of the frames; head ours.",
    )
)

PASE = register_model(
    ModelSpec(
        name="pase",
        title="PASE: SincNet + 7 conv blocks, 100-d per 10 ms",
        reference="S. Pascual, M. Ravanelli, J. Serra, A. Bonafonte, Y. Bengio. Learning "
        "problem-agnostic speech representations from multiple self-supervised tasks. "
        "Interspeech 2019 (arXiv:1904.03416).",
        sample_rate=16000,
        input_samples=16000,
        frontend="sinc",
        backend="pase",
        frontend_kwargs=_SINCNET,
        backend_kwargs={"emb_dim": 100, "rnn": "none", "dense_skips": False},
        head_hidden=SAME_AS_EMBED,
        dropout=0.5,
        notes=f"{_CODE.replace('PASE+', 'PASE')}. Embedding = mean of the frames; head ours.",
    )
)
