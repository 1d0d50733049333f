"""FCN (Choi, Fazekas & Sandler, ISMIR 2016), ``fcn``: 29 s of 96-band log-mel."""

from musicrep.models.spec import ModelSpec, register_model
from musicrep.models.zoo import N_MELS_96, ZOO_SAMPLE_RATE

FCN = register_model(
    ModelSpec(
        name="fcn",
        title="Fully convolutional network (5 conv layers)",
        reference="K. Choi, G. Fazekas, M. Sandler. Automatic tagging using deep "
        "convolutional neural networks. ISMIR 2016.",
        sample_rate=ZOO_SAMPLE_RATE,
        input_samples=29 * ZOO_SAMPLE_RATE,
        frontend="mel",
        frontend_kwargs={"n_mels": N_MELS_96, "batchnorm": True},
        backend="fcn",
        head_hidden=None,
        dropout=0.5,
        reference_params_m=0.45,
        notes="Native input 96 x 1813 pools to 64 x 1 x 1; longer inputs are max-pooled "
        "globally over what remains.",
    )
)
