"""ModNet and SincModNet (Vahidi, Saitis & Fazekas, 2021): modulation front-ends + CNN.

No public code; the front-ends are reconstructions (:mod:`musicrep.frontends.modulation`) and
the back-end is our choice (:mod:`musicrep.backends.modnet`: the short-chunk CNN stack with
axis-adaptive pooling). The input length is our choice too: the short-chunk 59,049 samples,
so the models compare directly with the short-chunk CNN/ResNet.
"""

from musicrep.models.spec import SAME_AS_EMBED, ModelSpec, register_model
from musicrep.models.zoo import SHORT_CHUNK_SAMPLES, ZOO_SAMPLE_RATE

_REFERENCE = (
    "C. Vahidi, C. Saitis, G. Fazekas. A modulation front-end for music audio tagging. "
    "IJCNN 2021 (arXiv:2105.11836)."
)
_NOTES = (
    "Back-end and input length are our choices (no public code): short-chunk CNN stack "
    "(128..512 channels) with 2x2 pools reduced to 1 on an exhausted axis; 59,049 samples. "
    "No reference parameter count."
)

MODNET = register_model(
    ModelSpec(
        name="modnet",
        title="Learned FIR acoustic + modulation filterbank, CNN back-end",
        reference=_REFERENCE,
        sample_rate=ZOO_SAMPLE_RATE,
        input_samples=SHORT_CHUNK_SAMPLES,
        frontend="modulation",
        backend="modnet",
        head_hidden=SAME_AS_EMBED,
        dropout=0.5,
        notes=_NOTES,
    )
)

SINCMODNET = register_model(
    ModelSpec(
        name="sincmodnet",
        title="SincNet acoustic + sinc modulation filterbank, CNN back-end",
        reference=_REFERENCE,
        sample_rate=ZOO_SAMPLE_RATE,
        input_samples=SHORT_CHUNK_SAMPLES,
        frontend="sinc_modulation",
        backend="modnet",
        head_hidden=SAME_AS_EMBED,
        dropout=0.5,
        notes=_NOTES,
    )
)
