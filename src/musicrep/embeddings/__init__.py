"""One home for embeddings: the file format, reading, joining with a manifest, the cache.

Every command that writes or reads embeddings goes through this package: ``musicrep embed``
writes with :func:`write_file_embeddings` / :func:`write_combined`; ``evaluate``, ``benchmark``
and ``analyze cca`` read with :func:`load` and join rows with :func:`join`; ``evaluate --model``
and ``benchmark`` keep embeddings in one :class:`EmbeddingCache` (one key scheme,
:func:`cache_key`).

Format
------
*Per-file output* (one ``.npz`` per audio file, ``musicrep embed --out DIR``):

============== ============ ================================================================
array          shape, dtype meaning
============== ============ ================================================================
``embedding``  (T, D) f32   timestamp embeddings, one per window
``timestamps`` (T,) f64     seconds: centre of the audio each window holds
``scene``      (D,) f32     the clip (scene) embedding
``path``       () str       the audio file (absolute)
``model``      () str       model identity (``Embedder.name``)
``duration``   () f64       seconds of audio
============== ============ ================================================================

*Combined file* (``musicrep embed --combine FILE.npz``): ``paths`` (N,) str (absolute audio
paths), ``embeddings`` (N, D) f32 (scene embeddings, in input order), ``model`` () str.

Both are written atomically (a temporary file moved into place). :func:`load` reads a combined
file, a single per-file output, or an ``--out`` folder of per-file outputs; anything else (a
CSV, an audio file, a ``.npy``, an empty file, pickled object arrays) is a
:class:`~musicrep.errors.ConfigError` that says what the file is and what to pass.

Examples
--------
>>> from musicrep import embeddings
>>> e = embeddings.load("emb/all.npz")                 # doctest: +SKIP
>>> e.paths.shape, e.X.shape                            # doctest: +SKIP
((400,), (400, 512))
>>> joined = e.join(Manifest.read("data/corpus/style.csv"))   # doctest: +SKIP
>>> joined.X.shape, joined.missing                      # doctest: +SKIP
"""

from musicrep.embeddings.cache import (
    CACHE_VERSION,
    CacheEntry,
    EmbeddingCache,
    cache_key,
    model_identity,
)
from musicrep.embeddings.format import (
    COMBINED_KEYS,
    PER_FILE_KEYS,
    Embeddings,
    FileEmbeddings,
    load,
    load_embeddings,
    read_file_embeddings,
    write_combined,
    write_file_embeddings,
)
from musicrep.embeddings.join import JoinResult, join, join_trials

__all__ = [
    "CACHE_VERSION",
    "COMBINED_KEYS",
    "PER_FILE_KEYS",
    "CacheEntry",
    "EmbeddingCache",
    "Embeddings",
    "FileEmbeddings",
    "JoinResult",
    "cache_key",
    "join",
    "join_trials",
    "load",
    "load_embeddings",
    "model_identity",
    "read_file_embeddings",
    "write_combined",
    "write_file_embeddings",
]
