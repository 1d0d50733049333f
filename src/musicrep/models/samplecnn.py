"""Sample-level CNNs on raw 16 kHz waveforms (59,049 samples): ``samplecnn``, ``samplecnn_se``."""

from musicrep.models.spec import ModelSpec, register_model
from musicrep.models.zoo import SHORT_CHUNK_SAMPLES, ZOO_SAMPLE_RATE

SAMPLECNN = register_model(
    ModelSpec(
        name="samplecnn",
        title="Sample-level CNN (stride-3 conv + 9 conv/pool-3 + 1x1 conv)",
        reference="J. Lee, J. Park, K. L. Kim, J. Nam. Sample-level deep convolutional neural "
        "networks for music auto-tagging using raw waveforms. SMC 2017.",
        sample_rate=ZOO_SAMPLE_RATE,
        input_samples=SHORT_CHUNK_SAMPLES,
        frontend="waveform",
        backend="samplecnn",
        head_hidden=None,
        dropout=0.5,
        reference_params_m=1.87,
    )
)

SAMPLECNN_SE = register_model(
    ModelSpec(
        name="samplecnn_se",
        title="Sample-level CNN with residual squeeze-and-excitation blocks",
        reference="T. Kim, J. Lee, J. Nam. Sample-level CNN architectures for music "
        "auto-tagging using raw waveforms. ICASSP 2018.",
        sample_rate=ZOO_SAMPLE_RATE,
        input_samples=SHORT_CHUNK_SAMPLES,
        frontend="waveform",
        backend="samplecnn_se",
        head_hidden=512,
        dropout=0.5,
        reference_params_m=6.95,
        notes="SE without a reduction ratio (Linear C -> C), as in the zoo's implementation.",
    )
)
