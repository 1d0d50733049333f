"""The default demo's settings (no heavy imports: the CLI reads them for ``--help``)."""

# Corpus size and training length of the default demo (see benchmarks/README.md "Demo model").
DEMO_CLIPS = 1000
DEMO_SECONDS = 4.0
DEMO_EPOCHS = 24
DEMO_LR = 3e-3
DEMO_PATIENCE = 8
DEMO_SCHEDULE = "plateau"
DEMO_VALID_CHUNKS = 2

# The demo's model: the short-chunk CNN of Won et al. (2020) at a size a 2-core CPU trains in a
# few minutes. Choices (not the paper's; measured in benchmarks/README.md "Demo model"):
# 64 mel bands with a 32-ms hop (n_fft 512 at 16 kHz) instead of 128 bands / 16 ms, six
# conv3x3 + max-pool layers of 32-128 channels instead of seven of 128-512 (0.3 M parameters
# instead of 3.7 M), 3-s input instead of 3.69 s. Any zoo name works with ``--model``; the zoo
# model then keeps its published size (``model_options`` empty) at its published input length.
DEMO_MODEL = "shortchunk_cnn"
DEMO_MODEL_OPTIONS: dict = {
    "input_samples": 48000,
    "frontend_kwargs": {"n_mels": 64, "hop_length": 512, "batchnorm": True},
    "backend_kwargs": {"channels": [32, 32, 64, 64, 128, 128]},
}
