"""Harmonic CNN (Won, Chun, Nieto & Serra, ICASSP 2020), ``hcnn``: 5 s, harmonic filterbank."""

from musicrep.models.spec import SAME_AS_EMBED, ModelSpec, register_model
from musicrep.models.zoo import ZOO_SAMPLE_RATE

HCNN = register_model(
    ModelSpec(
        name="hcnn",
        title="Learnable harmonic filterbank (6 harmonics x 128 pitches) + residual CNN",
        reference="M. Won, S. Chun, O. Nieto, X. Serra. Data-driven harmonic filters for audio "
        "representation learning. ICASSP 2020.",
        sample_rate=ZOO_SAMPLE_RATE,
        input_samples=5 * ZOO_SAMPLE_RATE,
        frontend="harmonic",
        frontend_kwargs={"n_harmonic": 6, "semitone_scale": 2, "learn_bw": "only_Q"},
        backend="hcnn",
        head_hidden=SAME_AS_EMBED,
        dropout=0.5,
        reference_params_m=3.63,
        notes="The sota-repo variant: Q learned (init 1.0), fundamentals fixed.",
    )
)
