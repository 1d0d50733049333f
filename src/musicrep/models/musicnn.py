"""musicnn (Pons et al., ISMIR 2018), ``musicnn``: 3 s of 96-band log-mel."""

from musicrep.models.spec import ModelSpec, register_model
from musicrep.models.zoo import N_MELS_96, ZOO_SAMPLE_RATE

MUSICNN = register_model(
    ModelSpec(
        name="musicnn",
        title="Musically motivated CNN: timbral/temporal front-end, dense mid-end, pooling",
        reference="J. Pons, O. Nieto, M. Prockup, E. M. Schmidt, A. F. Ehmann, X. Serra. "
        "End-to-end learning for music audio tagging at scale. ISMIR 2018.",
        sample_rate=ZOO_SAMPLE_RATE,
        input_samples=3 * ZOO_SAMPLE_RATE,
        frontend="mel",
        frontend_kwargs={"n_mels": N_MELS_96, "batchnorm": True},
        backend="musicnn",
        head_hidden=200,
        dropout=0.5,
        reference_params_m=0.78,
        notes="The zoo's PyTorch version (MTAT size: mid-end 64, head 200). The MSD-size model "
        "is backend_kwargs={'mid_channels': 512}, head_hidden=500 (7.97 M). Embedding = "
        "max and mean over time of the 753-d frame features (1506-d).",
    )
)
