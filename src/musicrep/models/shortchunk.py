"""Short-chunk CNN and ResNet (Won et al., SMC 2020): 3.69 s of 128-band log-mel."""

from musicrep.models.spec import SAME_AS_EMBED, ModelSpec, register_model
from musicrep.models.zoo import N_MELS_128, SHORT_CHUNK_SAMPLES, ZOO_SAMPLE_RATE

_REFERENCE = (
    "M. Won, A. Ferraro, D. Bogdanov, X. Serra. Evaluation of CNN-based automatic music "
    "tagging models. SMC 2020."
)

SHORTCHUNK_CNN = register_model(
    ModelSpec(
        name="shortchunk_cnn",
        title="Short-chunk CNN (7 conv3x3 + max-pool 2, 'VGG-ish')",
        reference=_REFERENCE,
        sample_rate=ZOO_SAMPLE_RATE,
        input_samples=SHORT_CHUNK_SAMPLES,
        frontend="mel",
        frontend_kwargs={"n_mels": N_MELS_128, "batchnorm": True},
        backend="shortchunk_cnn",
        head_hidden=SAME_AS_EMBED,
        dropout=0.5,
        reference_params_m=3.69,
    )
)

SHORTCHUNK_RESNET = register_model(
    ModelSpec(
        name="shortchunk_resnet",
        title="Short-chunk ResNet (7 stride-2 residual blocks)",
        reference=_REFERENCE,
        sample_rate=ZOO_SAMPLE_RATE,
        input_samples=SHORT_CHUNK_SAMPLES,
        frontend="mel",
        frontend_kwargs={"n_mels": N_MELS_128, "batchnorm": True},
        backend="shortchunk_resnet",
        head_hidden=SAME_AS_EMBED,
        dropout=0.5,
        reference_params_m=12.10,
        notes="Best model of the paper on MTAT (ROC-AUC .9129, PR-AUC .4614).",
    )
)
