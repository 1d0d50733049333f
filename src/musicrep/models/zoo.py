"""Numbers shared by the models of the tagging zoo (Won et al., SMC 2020), in one place."""

#: Sample rate of every zoo model (audio resampled to 16 kHz before training).
ZOO_SAMPLE_RATE = 16000

#: Reference repository of the layer configurations and parameter counts.
ZOO_CODE = "minzwon/sota-music-tagging-models"

#: The short-chunk input length: 3^10 samples (3.69 s at 16 kHz).
SHORT_CHUNK_SAMPLES = 59049

#: Mel bands of the long-input models (FCN, CRNN, musicnn) and of the short-chunk models.
N_MELS_96 = 96
N_MELS_128 = 128
