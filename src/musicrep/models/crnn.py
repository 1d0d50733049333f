"""CRNN (Choi, Fazekas, Sandler & Cho, ICASSP 2017), ``crnn``: 29 s of 96-band log-mel."""

from musicrep.models.spec import ModelSpec, register_model
from musicrep.models.zoo import N_MELS_96, ZOO_SAMPLE_RATE

CRNN = register_model(
    ModelSpec(
        name="crnn",
        title="4 conv layers + 2-layer GRU (32)",
        reference="K. Choi, G. Fazekas, M. Sandler, K. Cho. Convolutional recurrent neural "
        "networks for music classification. ICASSP 2017.",
        sample_rate=ZOO_SAMPLE_RATE,
        input_samples=29 * ZOO_SAMPLE_RATE,
        frontend="mel",
        frontend_kwargs={"n_mels": N_MELS_96, "batchnorm": True},
        backend="crnn",
        head_hidden=None,
        dropout=0.5,
        reference_params_m=0.39,
        notes="Embedding = GRU output at the last of the 18 steps (as the reference code).",
    )
)
