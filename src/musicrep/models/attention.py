"""Self-attention tagger CNNSA (Won, Chun & Serra, 2019), ``attention``: 15 s of 128-band mel."""

from musicrep.models.spec import ModelSpec, register_model
from musicrep.models.zoo import N_MELS_128, ZOO_SAMPLE_RATE

ATTENTION = register_model(
    ModelSpec(
        name="attention",
        title="Residual CNN + 2-layer Transformer encoder with [CLS] (returns attention maps)",
        reference="M. Won, S. Chun, X. Serra. Toward interpretable music tagging with "
        "self-attention. arXiv:1906.04972, 2019.",
        sample_rate=ZOO_SAMPLE_RATE,
        input_samples=15 * ZOO_SAMPLE_RATE,
        frontend="mel",
        frontend_kwargs={"n_mels": N_MELS_128, "batchnorm": True},
        backend="attention",
        head_hidden=None,
        dropout=0.5,
        reference_params_m=10.52,
        notes="[CLS] is a learned parameter (the reference used a fixed random vector); no "
        "positional encoding by default, as the reference (backend_kwargs="
        "{'positional_encoding': 'sinusoidal'} adds one).",
    )
)
