"""The built-in corpus dataset: real compositions from the music21 corpus, rendered to audio.

musicrep's demo, tests and examples need labelled music that is there without a download. The
``music21`` package (a dependency) ships a corpus of scores: Bach chorales, Palestrina masses,
Monteverdi madrigals, Trecento polyphony, fiddle tunes, Essen folk songs, string quartets and
more. This module turns them into a small labelled audio dataset in two steps:

1. **Extraction** (done once, shipped): :func:`extract_corpus` parses a balanced selection of
   scores with music21 and keeps compact note events of an excerpt of each (the first
   ``max_quarters`` quarter notes, rounded up to a whole measure): per part the MIDI pitch,
   onset and duration in quarter lengths (chords become several notes, tied notes are merged,
   grace notes dropped), plus time signature, key, tempo marks and measure positions. The result
   is the package asset ``musicrep/data/assets/corpus_events.npz`` (about 0.25 MB for 678
   pieces), read by :func:`load_pieces` in a fraction of a second. Regenerate it with
   ``python scripts/extract_corpus_events.py`` (a few minutes; it is deterministic for a given
   music21 version and ``seed``).
2. **Rendering** (each user, seconds to minutes): :func:`build_corpus` (or
   ``musicrep data corpus``) plans clips of ``seconds`` seconds, renders them with
   :mod:`musicrep.data.synth` to 16 kHz mono WAVs and writes task manifests.

Style classes
-------------
A piece's style is its corpus collection, with small related collections merged
(:data:`STYLE_SOURCES`):

==================== ===================================== ===================================
style                music21 collections                    what it is
==================== ===================================== ===================================
``bach``             ``bach``                               4-part chorale harmonisations
``palestrina``       ``palestrina``                         Renaissance mass movements
``monteverdi``       ``monteverdi``                         5-part madrigals (books 3-5)
``trecento``         ``trecento``                           14th-century Italian polyphony
``fiddle``           ``ryansMammoth``, ``oneills1850``      Irish/Scottish/American fiddle tunes
``folk``             ``essenFolksong``                      Essen folk songs (mostly German)
``classical_quartet`` ``haydn``, ``mozart``, ``beethoven``  string-quartet movements
==================== ===================================== ===================================

The Roman-numeral analyses (``.rntxt``) are skipped, and a movement present both as ``.krn`` and
``.mxl`` is used once. Collections with a handful of files (josquin, schumann, demos,
leadSheet, ...) are not used: too few pieces to make a class.

Labels
------
Every clip gets, as ``facet:value`` tags (the ``tags.csv`` task; the prefix keeps facets apart,
so ``instrument:harp`` and a hypothetical ``style:harp`` never collide, and one facet is a prefix
filter away):

* ``style:<style>`` -- the table above.
* ``instrument:<name>`` -- every synthesizer timbre heard in the clip
  (:func:`musicrep.data.synth.list_instruments`).
* ``mode:major`` / ``mode:minor`` -- the mode of the key music21 finds in the excerpt
  (``Stream.analyze("key")``: the Krumhansl-Schmuckler algorithm with Aarden-Essen key profiles,
  on duration-weighted pitch classes). Modal music (Renaissance, Trecento, some folk songs) gets
  the closer of the two; the encoded key (if any) is kept in ``clips.csv`` as ``encoded_key``.
* ``tempo:slow|medium|fast`` -- from the *rendered* tempo in beats per minute, where the beat is
  music21's ``TimeSignature.beatDuration`` (a quarter in 4/4, a half in 2/2 and 4/2, a dotted
  quarter in 6/8, a dotted quarter, i.e. one per bar, in 3/8): slow below 80, medium from 80 to
  below 116, fast from 116 (:data:`TEMPO_THRESHOLDS`).
* ``meter:duple`` / ``meter:triple`` -- from the time-signature numerator: 2 and 4 are duple,
  3 triple; compound meters follow their beat count, 6 and 12 duple (compound duple and
  quadruple), 9 triple (compound triple). Other numerators (5, 7, 1, ...) give no meter tag
  (``meter`` is ``other`` in ``clips.csv``).
* ``texture:monophonic`` / ``texture:polyphonic`` -- from the notes actually rendered:
  polyphonic when two or more different pitch classes sound together for at least
  :data:`POLYPHONY_MIN_SECONDS` in total (so a tune doubled in octaves or unison by several
  instruments is monophonic, and a solo violin playing a chorale's top line is monophonic).

Free-form tags (``freetags.csv``, for tag-based representation learning such as COALA,
:mod:`musicrep.data.tags`): each clip also gets the words a listener might type when uploading
it -- instrument names and families (``violin``, ``strings``, ``bowed``), style words
(``baroque``, ``chorale``, ``renaissance``, ``madrigal``, ``medieval``, ``fiddle``, ``folk``,
``reel``/``jig``/``hornpipe`` when the tune's title says so, the quartet's composer), tempo
words (``slow``, ``fast``, ``upbeat``, the score's tempo word such as ``allegro``), the mode
(``minor``/``major``), texture (``solo``, ``ensemble``, ``melody``, ``polyphonic``) and generic
words (``music``, ``instrumental``). Only facts about the clip are used; each word is written
with its own probability (:data:`FREE_TAG_PROBABILITIES` and the tables beside it), sometimes
capitalised, in the plural or as two words, as users do, from a seeded random stream per clip
(:func:`free_tags`). ``music`` is on about 85 % of the clips, so COALA's 70 % filter removes it.

Tasks written by :func:`build_corpus`: ``style.csv`` (single label, all clips),
``instrument.csv`` (single label, solo clips only), ``tags.csv`` (multi-label, all clips),
``freetags.csv`` (free-form multi-label, all clips), plus ``clips.csv`` (every clip's metadata),
``metadata.json`` and ``summary.txt``.

Clips
-----
* Tempo: the score's metronome mark if it has one with a number; else a tempo word in the score
  ("Allegro", "Adagio", ...) read through music21's table (``MetronomeMark(text=...)``) as beats
  per minute; else a beat tempo drawn uniformly from the style's range
  (:data:`STYLE_TEMPO_RANGES`) with the seed. The BPM and its source are recorded.
* Start: a measure start drawn with the seed among those that leave a full clip inside the
  excerpt, avoiding windows where the music rests more than 10% of the time (20% for the line
  of a melodic solo) where possible (:data:`ENSEMBLE_COVERAGE`); an excerpt
  shorter than the clip is repeated from its beginning (as a strophic song or a repeated dance
  tune would be).
* Ensemble clips: every part gets an instrument from one of the style's ensembles
  (:data:`STYLE_ENSEMBLES`, voices from top to bottom; a single-line piece is played in unison
  or octaves by every instrument of the ensemble).
* Solo clips (``solo_fraction`` of all clips; the instrument task): one instrument, cycled
  through all synthesizer timbres in a seeded order per split so the classes are balanced.
  Instruments that can play chords (:data:`CHORDAL_FAMILIES`: keyboards, plucked strings,
  organ, mallets) play the whole texture; the others play the top line (the highest part that
  sounds for most of the clip, its chords reduced to their top note). Wind instruments
  (:data:`WIND_FAMILIES`) also reduce chords (a quartet's double stops) in ensembles.
* Each part is moved by whole octaves into the instrument's range (the octave that fits most
  of its notes; stray notes are folded in). Velocities follow the meter (downbeats 1.0, other
  beats 0.85, off-beats 0.72, times a seeded per-part level of 0.55-0.8, +0.1 for an
  ensemble's top voice); the synthesizer adds its own timing and velocity humanisation. Light
  reverb (:data:`REVERB`).

Splits are made by piece *group* (never the same piece in two splits): pieces whose top line
opens with the same melodic intervals (:func:`melodic_fingerprint`; e.g. one chorale tune in two
harmonisations, or a tune in two fiddle collections, or mass movements sharing a head motif)
form a group. Groups are shuffled with the seed and split about 70/15/15 within each style.

Examples
--------
>>> from musicrep.data.corpus import build_corpus, load_pieces
>>> pieces = load_pieces()                                  # doctest: +SKIP
>>> summary = build_corpus("data/corpus", clips=400, seconds=6.0, seed=0)  # doctest: +SKIP
>>> print(summary.table())                                  # doctest: +SKIP
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import os
import re
import time
import warnings
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from musicrep.errors import ConfigError, MusicrepError

# --------------------------------------------------------------------------------- constants

#: The shipped note-event asset.
ASSET_PATH = Path(__file__).resolve().parent / "assets" / "corpus_events.npz"
#: Version of the asset layout written by :func:`save_pieces`.
ASSET_FORMAT = 1
#: Bump when a change to planning or rendering changes the audio of a clip: resumed builds then
#: re-render instead of reusing WAVs made by older code.
RENDER_VERSION = 1

#: style -> music21 corpus collections it is made of.
STYLE_SOURCES: dict[str, tuple[str, ...]] = {
    "bach": ("bach",),
    "palestrina": ("palestrina",),
    "monteverdi": ("monteverdi",),
    "trecento": ("trecento",),
    "fiddle": ("ryansMammoth", "oneills1850"),
    "folk": ("essenFolksong",),
    "classical_quartet": ("haydn", "mozart", "beethoven"),
}
STYLES: tuple[str, ...] = tuple(STYLE_SOURCES)

#: Beat tempo range (beats per minute, beat = ``TimeSignature.beatDuration``) drawn from when a
#: score has no tempo mark. Chosen from common performance practice, wide enough that each
#: style has clips in more than one tempo class.
STYLE_TEMPO_RANGES: dict[str, tuple[float, float]] = {
    "bach": (56.0, 100.0),  # chorales, quarter beat
    "palestrina": (48.0, 96.0),  # half-note tactus in 4/2
    "monteverdi": (56.0, 112.0),
    "trecento": (56.0, 120.0),
    "fiddle": (80.0, 140.0),  # airs to reels (half-note beat in 2/2, dotted quarter in 6/8)
    "folk": (60.0, 130.0),
    "classical_quartet": (50.0, 150.0),
}
#: Beat-tempo class boundaries in BPM: slow < 80 <= medium < 116 <= fast.
TEMPO_THRESHOLDS: tuple[float, float] = (80.0, 116.0)
#: Time-signature numerator -> meter class (compound meters by their beat count).
METER_CLASSES: dict[int, str] = {
    2: "duple",
    4: "duple",
    6: "duple",
    12: "duple",
    3: "triple",
    9: "triple",
}
#: A clip is polyphonic when >= 2 distinct pitch classes sound together this long in total (s).
POLYPHONY_MIN_SECONDS = 0.25
#: Clip windows are chosen (among up to 8 drawn measure starts) so that the music sounds at
#: least this share of the time: any part for ensembles and chordal solos, the chosen line for
#: melodic solos (parts of polyphonic pieces rest, often for bars at a time).
ENSEMBLE_COVERAGE = 0.9
SOLO_COVERAGE = 0.8
#: Reverb amount passed to the renderers ("light").
REVERB = 0.2
#: Split fractions (train, valid, test) over piece groups, per style.
SPLIT_FRACTIONS: tuple[float, float, float] = (0.70, 0.15, 0.15)
SPLITS: tuple[str, ...] = ("train", "valid", "test")
#: Label facets of ``tags.csv``, in order.
FACETS: tuple[str, ...] = ("style", "instrument", "mode", "tempo", "meter", "texture")

#: Ensembles per style (names from :func:`musicrep.data.synth.list_instruments`): instruments
#: for the voices from top to bottom. With more voices than instruments the top voice takes the
#: first, the bass the last and the inner voices cycle through the middle ones; a single-line
#: piece is played by every instrument of the ensemble (unison or octaves).
STYLE_ENSEMBLES: dict[str, tuple[tuple[str, ...], ...]] = {
    "bach": (
        ("choir_aahs",),
        ("organ",),
        ("violin", "violin", "cello"),
        ("oboe", "clarinet", "bassoon"),
        ("trumpet", "french_horn", "trombone"),
    ),
    "palestrina": (
        ("choir_aahs",),
        ("voice_oohs",),
        ("organ",),
        ("violin", "cello"),  # viol consort
        ("recorder", "flute", "bassoon"),  # recorders with dulcian
        ("trumpet", "trombone"),  # cornett and sackbuts
    ),
    "monteverdi": (
        ("choir_aahs",),
        ("voice_oohs", "choir_aahs"),
        ("violin", "cello"),
        ("choir_aahs", "harpsichord"),  # voices with continuo on the bass
        ("recorder", "violin", "cello"),
    ),
    "trecento": (
        ("voice_oohs",),
        ("recorder", "harp"),
        ("violin", "acoustic_guitar"),  # vielle and lute
        ("organ",),  # portative
        ("flute", "violin", "harp"),
    ),
    "fiddle": (
        ("violin",),
        ("violin", "flute"),
        ("violin", "acoustic_guitar"),
        ("flute", "harp"),
        ("violin", "piano"),
    ),
    "folk": (
        ("choir_aahs",),
        ("voice_oohs",),
        ("flute", "acoustic_guitar"),
        ("clarinet", "violin"),
        ("recorder", "harp"),
    ),
    "classical_quartet": (
        ("violin", "violin", "cello"),
        ("flute", "oboe", "clarinet", "bassoon"),
        ("pizzicato_strings",),
        ("violin", "clarinet", "cello"),
    ),
}
#: Synthesizer families whose instruments play the whole texture in solo clips (the others, the
#: top line).
CHORDAL_FAMILIES: tuple[str, ...] = ("keyboard", "plucked", "organ", "mallet")
#: Families that cannot play chords: a part's chords (e.g. a quartet's double stops) are reduced
#: to their top note when a wind instrument plays it. Solo clips of every family outside
#: :data:`CHORDAL_FAMILIES` are reduced the same way, so they are single lines.
WIND_FAMILIES: tuple[str, ...] = ("flute", "reed", "brass")

#: Free-form tags (``freetags.csv``): words a user might write for each synthesizer timbre, with
#: the probability that a clip with that instrument gets the word. ``|`` separates alternative
#: spellings drawn with equal probability (a plural, two words, another name).
FREE_TAG_INSTRUMENT_WORDS: dict[str, tuple[tuple[str, float], ...]] = {
    "acoustic_guitar": (("guitar|guitars|acoustic guitar", 0.85),),
    "bassoon": (("bassoon", 0.85),),
    "cello": (("cello|cellos", 0.85),),
    "choir_aahs": (("choir", 0.85), ("voices|vocal", 0.4)),
    "clarinet": (("clarinet", 0.85),),
    "flute": (("flute|flutes", 0.85),),
    "french_horn": (("horn|french horn|horns", 0.85),),
    "harp": (("harp", 0.85),),
    "harpsichord": (("harpsichord", 0.85),),
    "marimba": (("marimba", 0.85),),
    "oboe": (("oboe", 0.85),),
    "organ": (("organ|church organ", 0.85),),
    "piano": (("piano", 0.85),),
    "pizzicato_strings": (("pizzicato", 0.7), ("strings|string", 0.6)),
    "recorder": (("recorder", 0.85),),
    "trombone": (("trombone", 0.85),),
    "trumpet": (("trumpet|trumpets", 0.85),),
    "vibraphone": (("vibraphone|vibes", 0.85),),
    "violin": (("violin|violins", 0.85),),
    "voice_oohs": (("voice|vocal", 0.7), ("humming", 0.2)),
}
#: Words for each synthesizer family (:func:`musicrep.data.synth.instrument_family`).
FREE_TAG_FAMILY_WORDS: dict[str, tuple[tuple[str, float], ...]] = {
    "bowed": (("strings", 0.4), ("bowed", 0.25)),
    "plucked": (("plucked", 0.25),),
    "keyboard": (("keyboard|keys", 0.25),),
    "organ": (("keyboard", 0.15),),
    "flute": (("woodwind|woodwinds", 0.3),),
    "reed": (("woodwind|woodwinds", 0.3), ("reed", 0.1)),
    "brass": (("brass", 0.45),),
    "vocal": (("vocal|vocals", 0.3),),
    "mallet": (("percussion", 0.3), ("mallets|mallet", 0.2)),
}
#: Words for each style.
FREE_TAG_STYLE_WORDS: dict[str, tuple[tuple[str, float], ...]] = {
    "bach": (("baroque", 0.7), ("chorale|chorales", 0.6), ("bach|J.S. Bach", 0.5), ("hymn", 0.2)),
    "palestrina": (("renaissance", 0.7), ("palestrina", 0.4), ("polyphony", 0.3)),
    "monteverdi": (("madrigal|madrigals", 0.6), ("renaissance", 0.5), ("monteverdi", 0.4)),
    "trecento": (("medieval", 0.7), ("trecento", 0.3)),
    "fiddle": (("fiddle", 0.6), ("folk", 0.5), ("irish|celtic", 0.4), ("traditional", 0.3)),
    "folk": (("folk", 0.7), ("traditional", 0.4), ("folksong|folk song", 0.3), ("song", 0.3)),
    "classical_quartet": (("classical", 0.7), ("chamber music|chamber", 0.4)),
}
#: Other words and their probabilities (generic words, tempo, mode, texture, facts of the score).
FREE_TAG_PROBABILITIES: dict[str, float] = {
    "music": 0.85,  # on most clips: removed by COALA's max_df = 0.7
    "instrumental": 0.3,  # clips without voices
    "early music": 0.35,  # palestrina, monteverdi, trecento
    "sacred": 0.35,  # mass movements (Kyrie, Gloria, ...) and chorales
    "dance": 0.5,  # a dance tune type in a fiddle tune's title (reel, jig, ...)
    "composer": 0.4,  # the quartet's composer (haydn, mozart, beethoven)
    "string quartet": 0.5,  # classical quartet played by strings only
    "tempo": 0.55,  # slow / fast (medium: "moderate" at a third of this)
    "upbeat": 0.3,  # fast clips
    "tempo word": 0.5,  # the score's Italian tempo word
    "minor": 0.35,
    "major": 0.2,
    "solo": 0.6,
    "ensemble": 0.3,
    "melody": 0.3,  # monophonic clips
    "polyphonic": 0.2,  # polyphonic clips: "polyphonic" or "harmony"
    "time signature": 0.08,  # "3/4": not alphabetic, dropped by the tag processing
    "capitalise": 0.15,  # a word written with a capital letter
}
#: Tune types recognised in fiddle-tune titles.
DANCE_WORDS: tuple[str, ...] = (
    "reel", "jig", "hornpipe", "clog", "polka", "waltz", "march", "strathspey", "slide",
)  # fmt: skip
#: Words of mass-movement titles (Palestrina, Trecento) that make a clip "sacred".
SACRED_TITLE_WORDS: tuple[str, ...] = (
    "kyrie", "gloria", "credo", "sanctus", "benedictus", "agnus", "hosanna", "pleni", "crucifixus",
    "spiritum", "patrem", "resurrexit", "domine", "christe", "alleluia", "ave", "magnificat",
)  # fmt: skip
#: Tempo words of the scores that users might repeat as tags.
TEMPO_WORDS: tuple[str, ...] = (
    "adagio", "andante", "andantino", "allegro", "allegretto", "presto", "vivace", "largo",
    "moderato", "lento",
)  # fmt: skip
#: Seed stream of the free tags (independent of the plans and the audio).
FREE_TAG_STREAM = 0xF7EE


# --------------------------------------------------------------------------------- pieces


class PartNotes(NamedTuple):
    """Notes of one part, sorted by onset.

    Attributes
    ----------
    pitch : np.ndarray, (notes,) int16
        MIDI note numbers.
    onset : np.ndarray, (notes,) float64
        Onsets in quarter lengths from the start of the excerpt.
    duration : np.ndarray, (notes,) float64
        Durations in quarter lengths (> 0).
    """

    pitch: np.ndarray
    onset: np.ndarray
    duration: np.ndarray


@dataclass(frozen=True, eq=False)
class Piece:
    """The note events of one excerpt of a corpus score.

    Attributes
    ----------
    id : str
        Unique id: the corpus path without extension, plus ``#<number>`` for one tune of a
        multi-tune ABC file (e.g. ``"bach/bwv66.6"``, ``"oneills1850/0001-0050#12"``).
    collection, style : str
        music21 collection and the style class it belongs to (:data:`STYLE_SOURCES`).
    title : str
        The score's title (or movement name, or the file name).
    source : str
        Corpus path of the file (``music21.corpus.parse(source, number=number)`` re-parses it).
    number : int or None
        Tune number inside a multi-tune ABC file.
    group : str
        Split group (:func:`melodic_fingerprint`); pieces of one group share a split.
    time_signature : str
        First time signature, e.g. ``"4/4"``; ``beat_ql``/``bar_ql`` are its beat and bar
        lengths in quarter lengths.
    key : str
        Key found by ``analyze("key")`` on the excerpt (e.g. ``"d minor"``); ``mode`` is
        ``"major"`` or ``"minor"``; ``key_correlation`` its correlation coefficient.
    encoded_key : str or None
        A key encoded in the score (ABC ``K:`` field, MusicXML mode), if any.
    quarter_bpm : float or None
        Tempo from a metronome mark with a number (quarter notes per minute).
    tempo_text : str or None
        A tempo word found in the score ("Allegro", ...).
    text_bpm : float or None
        The beats per minute music21 associates with ``tempo_text`` (``MetronomeMark(text=)``).
    part_names : tuple of str
        Part names in the score (may be empty strings).
    parts : tuple of PartNotes
        Note events per part, in score order.
    measure_starts : np.ndarray, (measures,) float64
        Offsets of the excerpt's measures (a pickup measure starts where its full bar would).
    length_ql : float
        Length of the excerpt in quarter lengths.

    Pieces compare by identity (they hold arrays); compare ``id`` or :meth:`metadata`.
    """

    id: str
    collection: str
    style: str
    title: str
    source: str
    number: int | None
    group: str
    time_signature: str
    beat_ql: float
    bar_ql: float
    key: str
    mode: str
    key_correlation: float
    encoded_key: str | None
    quarter_bpm: float | None
    tempo_text: str | None
    text_bpm: float | None
    part_names: tuple[str, ...]
    parts: tuple[PartNotes, ...] = field(repr=False)
    measure_starts: np.ndarray = field(repr=False)
    length_ql: float = 0.0

    @property
    def num_parts(self) -> int:
        return len(self.parts)

    @property
    def num_notes(self) -> int:
        return int(sum(len(p.pitch) for p in self.parts))

    @property
    def meter(self) -> str:
        """``"duple"``, ``"triple"`` or ``"other"`` (:data:`METER_CLASSES`)."""
        return meter_class(self.time_signature)

    def metadata(self) -> dict[str, Any]:
        """The piece's scalar fields as a JSON-ready dict (no note arrays)."""
        d = {k: v for k, v in asdict(self).items() if k not in ("parts", "measure_starts")}
        d["part_names"] = list(self.part_names)
        d["num_parts"] = self.num_parts
        d["num_notes"] = self.num_notes
        return d


def meter_class(time_signature: str) -> str:
    """Meter class of a time signature string (``"6/8"`` -> ``"duple"``; see :data:`METER_CLASSES`)."""
    try:
        numerator = int(str(time_signature).split("/")[0])
    except ValueError:
        return "other"
    return METER_CLASSES.get(numerator, "other")


def tempo_class(beat_bpm: float) -> str:
    """``"slow"``, ``"medium"`` or ``"fast"`` for a beat tempo in BPM (:data:`TEMPO_THRESHOLDS`)."""
    slow, fast = TEMPO_THRESHOLDS
    return "slow" if beat_bpm < slow else ("medium" if beat_bpm < fast else "fast")


def melodic_fingerprint(pitch: np.ndarray, num_intervals: int = 12) -> str | None:
    """Transposition-invariant fingerprint of a melody's opening.

    The first ``num_intervals`` intervals (semitones) between successive *different* pitches of
    the line; ``None`` when the line has fewer. Two pieces with the same fingerprint open with
    the same tune (in any key and rhythm).
    """
    pitch = np.asarray(pitch, dtype=np.int64)
    if len(pitch) == 0:
        return None
    changes = pitch[np.concatenate([[True], np.diff(pitch) != 0])]
    steps = np.diff(changes)[:num_intervals]
    if len(steps) < num_intervals:
        return None
    return hashlib.sha1(",".join(map(str, steps.tolist())).encode()).hexdigest()[:12]


# --------------------------------------------------------------------------------- extraction


def _collection_of(path: Path) -> tuple[str, str]:
    """(collection, corpus-relative path) of a music21 core-corpus file."""
    parts = path.parts
    i = len(parts) - 1 - parts[::-1].index("corpus")
    return parts[i + 1], "/".join(parts[i + 1 :])


def _abc_numbers(path: Path) -> list[int]:
    """Tune numbers (``X:`` fields) in an ABC file."""
    text = path.read_text(encoding="utf-8", errors="replace")
    return [int(x) for x in re.findall(r"^X:\s*(\d+)", text, flags=re.MULTILINE)]


_FORMAT_PREFERENCE = {".mxl": 0, ".xml": 1, ".musicxml": 1, ".krn": 2, ".abc": 3}


def candidate_sources(collections: Iterable[str] | None = None) -> dict[str, list[str]]:
    """Usable corpus files per collection (corpus-relative paths, sorted).

    Skips Roman-numeral analyses (``.rntxt``) and keeps one file per movement when the corpus
    has it in two formats (MusicXML preferred over Humdrum over ABC).
    """
    from music21 import corpus

    wanted = set(collections) if collections is not None else None
    best: dict[tuple[str, str], tuple[int, str]] = {}
    for path in corpus.getCorePaths():
        path = Path(path)
        if path.suffix not in _FORMAT_PREFERENCE:
            continue
        coll, rel = _collection_of(path)
        if wanted is not None and coll not in wanted:
            continue
        stem = rel[: -len(path.suffix)]
        rank = _FORMAT_PREFERENCE[path.suffix]
        if (coll, stem) not in best or rank < best[(coll, stem)][0]:
            best[(coll, stem)] = (rank, rel)
    out: dict[str, list[str]] = defaultdict(list)
    for (coll, _), (_, rel) in best.items():
        out[coll].append(rel)
    return {c: sorted(v) for c, v in out.items()}


def _core_path(rel: str) -> Path:
    from music21 import common

    return Path(common.getCorpusFilePath()) / rel


def select_sources(
    per_style: int = 120, *, seed: int = 0, styles: Sequence[str] | None = None
) -> dict[str, list[tuple[str, int | None]]]:
    """Choose which scores to extract: per style a shuffled list of ``(source, number)``.

    Collections of one style are interleaved so each contributes about equally; multi-tune ABC
    files (Essen, O'Neill's) contribute tunes drawn across all their files. The lists are longer
    than ``per_style`` (about twice) so that scores that fail to parse can be replaced.
    """
    rng = np.random.default_rng(seed)
    styles = list(styles) if styles is not None else list(STYLES)
    unknown = [s for s in styles if s not in STYLE_SOURCES]
    if unknown:
        raise ConfigError(f"unknown style(s) {unknown}", f"choose from {', '.join(STYLES)}")
    sources = candidate_sources({c for s in styles for c in STYLE_SOURCES[s]})
    chosen: dict[str, list[tuple[str, int | None]]] = {}
    for style in styles:
        per_coll: list[list[tuple[str, int | None]]] = []
        for coll in STYLE_SOURCES[style]:
            items: list[tuple[str, int | None]] = []
            for rel in sources.get(coll, []):
                if rel.endswith(".abc"):
                    numbers = _abc_numbers(_core_path(rel))
                    if len(numbers) > 1:
                        items.extend((rel, n) for n in numbers)
                        continue
                items.append((rel, None))
            order = rng.permutation(len(items))
            per_coll.append([items[i] for i in order[: 2 * per_style]])
        # round-robin over the style's collections
        merged: list[tuple[str, int | None]] = []
        for i in range(max((len(c) for c in per_coll), default=0)):
            merged.extend(c[i] for c in per_coll if i < len(c))
        chosen[style] = merged
    return chosen


def _tie_type(element: Any) -> str | None:
    tie = getattr(element, "tie", None)
    return tie.type if tie is not None else None


def _part_notes(part: Any, end_ql: float) -> PartNotes:
    """Note events of a music21 part up to ``end_ql``, with tied notes merged."""
    from music21 import chord, harmony, note

    pitches: list[int] = []
    onsets: list[float] = []
    durations: list[float] = []
    open_ties: dict[int, int] = {}  # midi -> index of the note a tie continues
    for el in part.flatten().notes:
        if isinstance(el, harmony.Harmony):
            continue
        dur = float(el.quarterLength)
        onset = float(el.offset)
        if dur <= 0 or onset >= end_ql:
            continue  # grace notes; beyond the excerpt
        if isinstance(el, chord.Chord):
            members = [(int(n.pitch.midi), _tie_type(n) or _tie_type(el)) for n in el.notes]
        elif isinstance(el, note.Note):
            members = [(int(el.pitch.midi), _tie_type(el))]
        else:  # unpitched
            continue
        for midi, tie in members:
            j = open_ties.get(midi)
            if tie in ("stop", "continue") and j is not None:
                durations[j] = max(durations[j], onset + dur - onsets[j])
                if tie == "stop":
                    del open_ties[midi]
                continue
            pitches.append(midi)
            onsets.append(onset)
            durations.append(dur)
            if tie in ("start", "continue"):
                open_ties[midi] = len(pitches) - 1
            else:
                open_ties.pop(midi, None)
    onset_arr = np.asarray(onsets, dtype=np.float64)
    dur_arr = np.minimum(np.asarray(durations, dtype=np.float64), end_ql - onset_arr)
    order = np.lexsort((np.asarray(pitches), onset_arr)) if pitches else np.zeros(0, int)
    return PartNotes(np.asarray(pitches, dtype=np.int16)[order], onset_arr[order], dur_arr[order])


def _tempo_marks(score: Any, end_ql: float) -> tuple[float | None, str | None]:
    """(quarter BPM of the first numbered metronome mark, first tempo word) before ``end_ql``."""
    from music21 import expressions, tempo

    flat = score.flatten()
    bpm: float | None = None
    text: str | None = None
    for mm in flat.getElementsByClass(tempo.MetronomeMark):
        if float(mm.offset) >= end_ql:
            break
        if text is None and mm.text:
            text = str(mm.text)
        if bpm is None and mm.number is not None and not mm.numberImplicit:
            bpm = float(mm.getQuarterBPM())
    if text is None:
        for el in flat.getElementsByClass([tempo.TempoText, expressions.TextExpression]):
            if float(el.offset) > 0:
                break
            content = str(getattr(el, "text", None) or getattr(el, "content", "") or "").strip()
            if content and _tempo_word_bpm(content) is not None:
                text = content
                break
    return bpm, text


@functools.lru_cache(maxsize=512)
def _tempo_word_bpm(text: str) -> float | None:
    """Beats per minute music21 associates with a tempo word ("Allegro" -> 132), or None."""
    from music21 import tempo

    for candidate in (text, text.split()[0] if text.split() else text):
        try:
            mm = tempo.MetronomeMark(text=candidate.strip(" .,:;"))
        except Exception:  # noqa: BLE001 - music21 raises various errors on odd text
            continue
        if mm.number is not None:
            return float(mm.number)
    return None


def extract_piece(
    score: Any,
    *,
    collection: str,
    source: str,
    number: int | None = None,
    style: str | None = None,
    max_quarters: float = 64.0,
) -> Piece:
    """Note events and descriptors of the opening of a music21 score.

    Parameters
    ----------
    score : music21.stream.Score (or Opus: its first score)
        The parsed score.
    collection : str
        Its corpus collection; ``style`` defaults to the style containing it.
    source : str
        Corpus-relative path, recorded for re-parsing.
    number : int, optional
        Tune number in a multi-tune file.
    max_quarters : float
        Excerpt length: notes up to the first measure boundary at or after this many quarter
        lengths are kept (the whole piece if shorter).

    Raises
    ------
    MusicrepError
        The score has no pitched notes.
    """
    from music21 import key as m21key
    from music21 import meter, stream

    if isinstance(score, stream.Opus):
        score = score.scores[0]
    if style is None:
        style = next((s for s, cs in STYLE_SOURCES.items() if collection in cs), collection)
    parts = list(score.parts) or [score]
    ref = parts[0]
    measures = list(ref.getElementsByClass(stream.Measure))

    ts = next(iter(score.recurse().getElementsByClass(meter.TimeSignature)), None)
    if ts is None:
        ts = meter.TimeSignature("4/4")
    bar_ql = float(ts.barDuration.quarterLength)
    beat_ql = float(ts.beatDuration.quarterLength)

    piece_end = float(score.highestTime)
    if measures:
        starts = np.asarray([float(m.offset) for m in measures])
        later = starts[starts >= max_quarters]
        end_ql = float(later[0]) if len(later) else piece_end
        starts = starts[starts < end_ql]
        first = measures[0]
        pad = float(getattr(first, "paddingLeft", 0.0) or 0.0)
        if pad == 0.0 and len(measures) > 1:
            # pickup measure without paddingLeft: infer from its length
            length = float(first.duration.quarterLength)
            pad = bar_ql - length if 0 < length < bar_ql else 0.0
        starts = starts.copy()
        starts[0] -= pad
    else:
        end_ql = min(piece_end, math.ceil(max_quarters / bar_ql) * bar_ql)
        starts = np.arange(0.0, end_ql, bar_ql)
    end_ql = min(end_ql, piece_end) if piece_end > 0 else end_ql

    notes = [_part_notes(p, end_ql) for p in parts]
    keep = [i for i, n in enumerate(notes) if len(n.pitch)]
    if not keep:
        raise MusicrepError(f"{source}: no pitched notes in the first {end_ql:g} quarter lengths")
    notes = [notes[i] for i in keep]
    names = tuple(str(parts[i].partName or "") for i in keep)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            last = measures[len(starts) - 1].number if measures else None
            k = score.measures(measures[0].number, last).analyze("key")
        except Exception:  # noqa: BLE001 - odd measure numbering: analyse the whole score
            k = score.analyze("key")
    encoded = next(iter(score.recurse().getElementsByClass(m21key.Key)), None)
    quarter_bpm, tempo_text = _tempo_marks(score, end_ql)

    md = score.metadata
    title = ""
    if md is not None:
        title = str(md.title or md.movementName or "").strip()
    if not title or title == Path(source).name:  # no title: the path inside the collection
        title = source.split("/", 1)[-1].rsplit(".", 1)[0]

    top = max(range(len(notes)), key=lambda i: float(np.mean(notes[i].pitch)))
    pid = source.rsplit(".", 1)[0] + (f"#{number}" if number is not None else "")
    group = melodic_fingerprint(notes[top].pitch) or pid
    return Piece(
        id=pid,
        collection=collection,
        style=style,
        title=title,
        source=source,
        number=number,
        group=group,
        time_signature=str(ts.ratioString),
        beat_ql=beat_ql,
        bar_ql=bar_ql,
        key=f"{k.tonic.name} {k.mode}",
        mode=str(k.mode),
        key_correlation=round(float(k.correlationCoefficient), 4),
        encoded_key=str(encoded) if encoded is not None else None,
        quarter_bpm=quarter_bpm,
        tempo_text=tempo_text,
        text_bpm=_tempo_word_bpm(tempo_text) if tempo_text else None,
        part_names=names,
        parts=tuple(notes),
        measure_starts=np.asarray(starts, dtype=np.float64),
        length_ql=float(end_ql),
    )


@dataclass
class ExtractionReport:
    """What :func:`extract_corpus` did."""

    path: Path
    pieces_per_style: dict[str, int]
    failures: list[tuple[str, str]]
    seconds: float
    size_bytes: int

    def __str__(self) -> str:
        counts = ", ".join(f"{s} {n}" for s, n in self.pieces_per_style.items())
        return (
            f"wrote {self.path} ({self.size_bytes / 1e6:.2f} MB): {sum(self.pieces_per_style.values())}"
            f" pieces ({counts}) in {self.seconds:.0f} s; {len(self.failures)} scores skipped"
        )


def extract_corpus(
    path: str | Path = ASSET_PATH,
    *,
    per_style: int = 120,
    max_quarters: float = 96.0,
    seed: int = 0,
    styles: Sequence[str] | None = None,
    progress: bool = True,
) -> ExtractionReport:
    """Parse a balanced selection of music21 corpus scores and save their note events.

    This regenerates the shipped asset (the default ``path``); it takes a few minutes, most of it
    in music21's parsers. Scores that fail to parse or have no notes are skipped and replaced by
    the next candidate (:func:`select_sources`).

    Parameters
    ----------
    path : str or Path
        Output ``.npz`` (written atomically).
    per_style : int
        Pieces per style (fewer when the style's collections have fewer).
    max_quarters : float
        Excerpt length in quarter lengths (rounded up to a measure).
    seed : int
        Seed of the selection.
    styles : sequence of str, optional
        Styles to extract (default all of :data:`STYLES`).
    progress : bool
        Show a progress bar (on a terminal).
    """
    from music21 import corpus

    from musicrep.utils import progress as progress_bar

    t0 = time.perf_counter()
    chosen = select_sources(per_style, seed=seed, styles=styles)
    pieces: list[Piece] = []
    failures: list[tuple[str, str]] = []
    counts: dict[str, int] = {}
    total = sum(min(per_style, len(v)) for v in chosen.values())
    bar = progress_bar(
        total=total, desc="extracting scores", unit="score", disable=not progress or None
    )
    seen_ids: set[str] = set()
    for style, items in chosen.items():
        n = 0
        for source, number in items:
            if n >= per_style:
                break
            label = source + (f"#{number}" if number is not None else "")
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    score = (
                        corpus.parse(source, number=number)
                        if number is not None
                        else corpus.parse(source)
                    )
                    piece = extract_piece(
                        score,
                        collection=source.split("/")[0],
                        source=source,
                        number=number,
                        style=style,
                        max_quarters=max_quarters,
                    )
            except Exception as err:  # noqa: BLE001 - a bad score is skipped, not fatal
                failures.append((label, f"{type(err).__name__}: {err}"[:200]))
                continue
            if piece.id in seen_ids:
                continue
            seen_ids.add(piece.id)
            pieces.append(piece)
            n += 1
            bar.update(1)
        counts[style] = n
    bar.close()
    info = {
        "seed": seed,
        "per_style": per_style,
        "max_quarters": max_quarters,
        "failures": failures,
    }
    save_pieces(pieces, path, info=info)
    return ExtractionReport(
        Path(path), counts, failures, time.perf_counter() - t0, Path(path).stat().st_size
    )


# --------------------------------------------------------------------------------- asset IO


def save_pieces(pieces: Sequence[Piece], path: str | Path, *, info: dict | None = None) -> None:
    """Save pieces as one compressed ``.npz`` (atomically).

    Layout: concatenated note arrays ``pitch`` (int8), ``onset``/``duration`` (float32, quarter
    lengths), ``part_ptr`` (parts + 1 offsets into the notes), ``piece_part_ptr`` (pieces + 1
    offsets into the parts), ``measure_starts`` + ``piece_measure_ptr``, and ``meta``: a JSON
    string with the format version, the music21 version and each piece's scalar fields.
    """
    import music21

    from musicrep.utils import atomic_path

    parts = [p for piece in pieces for p in piece.parts]
    part_ptr = np.cumsum([0] + [len(p.pitch) for p in parts]).astype(np.int64)
    piece_part_ptr = np.cumsum([0] + [len(piece.parts) for piece in pieces]).astype(np.int64)
    piece_measure_ptr = np.cumsum([0] + [len(piece.measure_starts) for piece in pieces]).astype(
        np.int64
    )
    cat = lambda xs, dt: np.concatenate(xs).astype(dt) if xs else np.zeros(0, dt)  # noqa: E731
    meta = {
        "format": ASSET_FORMAT,
        "music21": music21.__version__,
        "style_sources": {k: list(v) for k, v in STYLE_SOURCES.items()},
        **(info or {}),
        "pieces": [piece.metadata() for piece in pieces],
    }
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            np.savez_compressed(
                fh,
                pitch=cat([p.pitch for p in parts], np.int8),
                onset=cat([p.onset for p in parts], np.float32),
                duration=cat([p.duration for p in parts], np.float32),
                part_ptr=part_ptr,
                piece_part_ptr=piece_part_ptr,
                measure_starts=cat([piece.measure_starts for piece in pieces], np.float32),
                piece_measure_ptr=piece_measure_ptr,
                meta=np.array(json.dumps(meta)),
            )
        os.chmod(tmp, 0o644)  # a package asset: readable by everyone (mkstemp makes it 0600)


@functools.lru_cache(maxsize=4)
def _load_cached(path: str, mtime: float) -> tuple[tuple[Piece, ...], dict]:
    try:
        data = np.load(path, allow_pickle=False)
        meta = json.loads(str(data["meta"]))
    except (OSError, ValueError, KeyError) as err:
        raise MusicrepError(
            f"{path}: not a corpus event file ({err})",
            "regenerate it with `python scripts/extract_corpus_events.py`",
        ) from None
    if meta.get("format") != ASSET_FORMAT:
        raise MusicrepError(
            f"{path}: corpus event format {meta.get('format')!r}, expected {ASSET_FORMAT}",
            "regenerate it with `python scripts/extract_corpus_events.py`",
        )
    pitch = data["pitch"].astype(np.int16)
    onset = data["onset"].astype(np.float64)
    duration = data["duration"].astype(np.float64)
    part_ptr, piece_part_ptr = data["part_ptr"], data["piece_part_ptr"]
    ms, ms_ptr = data["measure_starts"].astype(np.float64), data["piece_measure_ptr"]
    fields = {f for f in Piece.__dataclass_fields__} - {"parts", "measure_starts"}
    pieces = []
    for i, m in enumerate(meta["pieces"]):
        parts = []
        for j in range(piece_part_ptr[i], piece_part_ptr[i + 1]):
            a, b = part_ptr[j], part_ptr[j + 1]
            parts.append(PartNotes(pitch[a:b], onset[a:b], duration[a:b]))
        kw = {k: v for k, v in m.items() if k in fields}
        kw["part_names"] = tuple(kw["part_names"])
        pieces.append(Piece(**kw, parts=tuple(parts), measure_starts=ms[ms_ptr[i] : ms_ptr[i + 1]]))
    info = {k: v for k, v in meta.items() if k != "pieces"}
    return tuple(pieces), info


def load_pieces(
    path: str | Path | None = None, *, styles: Sequence[str] | None = None
) -> list[Piece]:
    """The corpus pieces (note events of score excerpts), from the shipped asset by default.

    Parameters
    ----------
    path : str or Path, optional
        An asset written by :func:`extract_corpus` / :func:`save_pieces`.
    styles : sequence of str, optional
        Keep only these styles.

    Returns
    -------
    list of Piece
        In asset order (grouped by style). Loading is cached per file.
    """
    path = Path(path) if path is not None else ASSET_PATH
    if not path.is_file():
        raise MusicrepError(
            f"corpus event file not found: {path}",
            "reinstall musicrep, or regenerate it with `python scripts/extract_corpus_events.py`",
        )
    pieces, _ = _load_cached(str(path), path.stat().st_mtime)
    if styles is not None:
        unknown = sorted(set(styles) - {p.style for p in pieces})
        if unknown:
            raise ConfigError(
                f"no pieces of style(s) {unknown} in {path}",
                f"styles present: {', '.join(sorted({p.style for p in pieces}))}",
            )
        return [p for p in pieces if p.style in set(styles)]
    return list(pieces)


def asset_info(path: str | Path | None = None) -> dict:
    """Extraction settings stored in an asset (seed, per_style, music21 version, failures, ...)."""
    path = Path(path) if path is not None else ASSET_PATH
    load_pieces(path)
    return dict(_load_cached(str(path), path.stat().st_mtime)[1])


# --------------------------------------------------------------------------------- splits


def assign_splits(
    pieces: Sequence[Piece],
    seed: int = 0,
    fractions: tuple[float, float, float] = SPLIT_FRACTIONS,
) -> dict[str, str]:
    """Split pieces into train/valid/test by group, stratified by style.

    Within each style the groups (:attr:`Piece.group`) are shuffled with ``seed`` and taken in
    that order into train, valid and test until each holds its fraction of the style's pieces;
    with at least three groups every split gets one. A group whose pieces span styles goes with
    the style of most of them.

    Returns
    -------
    dict
        ``piece id -> split``.
    """
    rng = np.random.default_rng([seed, 0x5EED])
    members: dict[str, list[Piece]] = defaultdict(list)
    for p in pieces:
        members[p.group].append(p)
    by_style: dict[str, list[str]] = defaultdict(list)
    for group, ps in members.items():
        style = Counter(p.style for p in ps).most_common(1)[0][0]
        by_style[style].append(group)
    out: dict[str, str] = {}
    for style in sorted(by_style):
        groups = sorted(by_style[style])
        groups = [groups[i] for i in rng.permutation(len(groups))]
        sizes = np.asarray([len(members[g]) for g in groups])
        total = sizes.sum()
        targets = np.asarray(fractions) / sum(fractions) * total
        bounds = np.cumsum(targets)[:-1]  # piece counts where train and valid end
        cum = np.cumsum(sizes) - sizes / 2  # a group's centre
        split_of = np.searchsorted(bounds, cum, side="right")
        if len(groups) >= 3:  # every split gets at least one group
            for k in (1, 2):
                if not np.any(split_of == k):
                    donor = np.flatnonzero(split_of == 0)[-1 if k == 1 else -2]
                    split_of[donor] = k
            split_of = np.sort(split_of)  # keep train, valid, test contiguous in shuffled order
        for g, k in zip(groups, split_of):
            for p in members[g]:
                out[p.id] = SPLITS[int(k)]
    return out


def _largest_remainder(total: int, weights: Sequence[float]) -> list[int]:
    """Split integer ``total`` proportionally to ``weights`` (ties go to earlier entries)."""
    w = np.asarray(weights, dtype=np.float64)
    exact = total * w / w.sum()
    counts = np.floor(exact).astype(int)
    order = sorted(range(len(w)), key=lambda i: (-(exact[i] - counts[i]), i))
    for i in order[: total - counts.sum()]:
        counts[i] += 1
    return counts.tolist()


# --------------------------------------------------------------------------------- clip plans


@dataclass(frozen=True)
class ClipPlan:
    """Everything that determines one clip's audio (a pure function of this and the piece).

    Attributes
    ----------
    index : int
        Position of the clip in the build.
    piece_id, style, split : str
        The piece, its style, and the split it (and so the clip) belongs to.
    kind : {"ensemble", "solo"}
        Ensemble clips give each part an instrument; solo clips use one instrument.
    instruments : tuple of str
        One instrument per rendered voice.
    voices : tuple of tuple of int
        Piece part indices each instrument plays (same length as ``instruments``).
    quarter_bpm, beat_bpm : float
        Rendered tempo in quarter notes and in beats (``Piece.beat_ql``) per minute.
    tempo_source : {"score", "text", "style"}
        Where the tempo comes from: a metronome mark, a tempo word, or the style's range.
    start_ql : float
        Excerpt position (quarter lengths) where the clip starts.
    seconds : float
        Clip length.
    seed : int
        Seed of the clip's randomness (velocities, synthesizer humanisation, room).
    """

    index: int
    piece_id: str
    style: str
    split: str
    kind: str
    instruments: tuple[str, ...]
    voices: tuple[tuple[int, ...], ...]
    quarter_bpm: float
    beat_bpm: float
    tempo_source: str
    start_ql: float
    seconds: float
    seed: int

    def digest(self, **render_options: Any) -> str:
        """A short hash of the plan, the render options and :data:`RENDER_VERSION`."""
        d = asdict(self)
        d.update(render_options, render_version=RENDER_VERSION)
        return hashlib.sha1(json.dumps(d, sort_keys=True).encode()).hexdigest()[:10]


def _voice_order(piece: Piece) -> list[int]:
    """Part indices from the highest to the lowest (by mean pitch)."""
    means = [float(np.mean(p.pitch)) for p in piece.parts]
    return sorted(range(len(means)), key=lambda i: -means[i])


def _assign_ensemble(template: Sequence[str], n: int) -> list[str]:
    """Instruments for ``n`` voices top to bottom from an ensemble template."""
    if len(template) == 1 or n == 1:
        return [template[0]] * n
    middle = list(template[1:-1]) or [template[0]]
    inner = [middle[i % len(middle)] for i in range(n - 2)]
    return [template[0], *inner, template[-1]]


def _check_instruments(names: Iterable[str]) -> None:
    from musicrep.data import synth

    known = set(synth.list_instruments())
    bad = sorted(set(names) - known)
    if bad:
        raise ConfigError(
            f"unknown instrument(s) {bad}",
            f"valid instruments: {', '.join(synth.list_instruments())}",
        )


def _tempo(piece: Piece, rng: np.random.Generator) -> tuple[float, float, str]:
    """(quarter BPM, beat BPM, source) of a clip of ``piece``."""
    if piece.quarter_bpm:
        quarter = float(piece.quarter_bpm)
        beat, source = quarter / piece.beat_ql, "score"
    elif piece.text_bpm:
        beat, source = float(piece.text_bpm), "text"
    else:
        lo, hi = STYLE_TEMPO_RANGES.get(piece.style, (60.0, 120.0))
        beat, source = float(round(rng.uniform(lo, hi))), "style"
    beat = float(np.clip(beat, 30.0, 240.0))
    return round(beat * piece.beat_ql, 3), beat, source


def _coverage(piece: Piece, parts: Sequence[int], start: float, length: float) -> float:
    """Fraction of ``[start, start + length)`` (quarter lengths) in which any of ``parts``
    sounds (on a 200-point grid; the excerpt repeats as in :func:`clip_parts`)."""
    grid = start + (np.arange(200) + 0.5) * length / 200
    sounding = np.zeros(200, dtype=bool)
    for i in parts:
        _, onset, dur, _ = _window(piece.parts[i], start, length, piece.length_ql)
        onset = onset + start
        for a, b in zip(onset, onset + dur):
            sounding |= (grid >= a) & (grid < b)
    return float(sounding.mean())


def _choose_window(
    piece: Piece,
    need: float,
    rng: np.random.Generator,
    candidates: Sequence[Sequence[int]],
    target: float,
    tries: int = 8,
) -> tuple[float, int]:
    """Choose a clip start (a measure start leaving ``need`` quarter lengths in the excerpt,
    drawn with ``rng``) and one of ``candidates`` (groups of part indices, in preference
    order): the first start/candidate whose parts sound at least ``target`` of the time, else
    the fullest of up to ``tries`` starts. Returns (start, candidate index)."""
    starts = piece.measure_starts[piece.measure_starts >= 0]
    fits = starts[starts + need <= piece.length_ql + 1e-9]
    if len(fits) == 0:
        fits = np.zeros(1)
    best, best_cover = (float(fits[0]), 0), -1.0
    for k in rng.permutation(len(fits))[:tries]:
        for c, parts in enumerate(candidates):
            cover = _coverage(piece, parts, float(fits[k]), need)
            if cover >= target:
                return float(fits[k]), c
            if cover > best_cover:
                best, best_cover = (float(fits[k]), c), cover
    return best


def plan_clips(
    pieces: Sequence[Piece],
    clips: int = 400,
    seconds: float = 6.0,
    *,
    seed: int = 0,
    solo_fraction: float = 0.5,
    instruments: Sequence[str] | None = None,
) -> list[ClipPlan]:
    """Decide every clip of a build: piece, split, instruments, tempo and start.

    Clips are spread evenly over the styles present, then over splits in the proportions of
    :data:`SPLIT_FRACTIONS` (largest remainder) and over each split's pieces in a seeded order
    (a piece is reused, at another start and tempo, only once all pieces of its split are used).
    In each style and split a ``solo_fraction`` share of the clips is solo; solo instruments
    cycle through ``instruments`` (default: every synthesizer timbre) in a seeded order per
    split, so the instrument classes are balanced in every split.

    Returns
    -------
    list of ClipPlan
        Ordered by ``index``; the same arguments always give the same plans.
    """
    from musicrep.data import synth

    if clips < 1:
        raise ConfigError(f"clips must be >= 1, got {clips}")
    if not (np.isfinite(seconds) and seconds > 0):
        raise ConfigError(f"seconds must be > 0, got {seconds}")
    if not 0.0 <= solo_fraction <= 1.0:
        raise ConfigError(f"solo_fraction must be in [0, 1], got {solo_fraction}")
    solo_names = list(instruments) if instruments is not None else synth.list_instruments()
    if not solo_names:
        raise ConfigError("instruments is empty", "give at least one instrument name")
    _check_instruments(solo_names)
    _check_instruments(n for style in STYLE_ENSEMBLES.values() for t in style for n in t)

    rng = np.random.default_rng([seed, 0xC11B])
    splits = assign_splits(pieces, seed)
    styles = [s for s in STYLES if any(p.style == s for p in pieces)]
    styles += sorted({p.style for p in pieces} - set(styles))
    per_style = _largest_remainder(clips, [1.0] * len(styles))
    per_style = [per_style[i] for i in np.argsort(rng.permutation(len(styles)))]

    # (style, split, position within it, piece)
    slots: list[tuple[str, str, int, Piece]] = []
    for style, n_style in zip(styles, per_style):
        pool = {k: [p for p in pieces if p.style == style and splits[p.id] == k] for k in SPLITS}
        present = [k for k in SPLITS if pool[k]]
        weights = [SPLIT_FRACTIONS[SPLITS.index(k)] for k in present]
        for k, n in zip(present, _largest_remainder(n_style, weights)):
            order = rng.permutation(len(pool[k]))
            for j in range(n):
                slots.append((style, k, j, pool[k][order[j % len(order)]]))
    # solo instrument cyclers, one per split
    cyclers: dict[str, list[str]] = {k: [] for k in SPLITS}

    def next_solo(split: str) -> str:
        if not cyclers[split]:
            cyclers[split] = [solo_names[i] for i in rng.permutation(len(solo_names))]
        return cyclers[split].pop(0)

    # which slots are solo: within each (style, split), a Bresenham pattern with a random phase
    phase = {(s, k): float(rng.random()) for s in styles for k in SPLITS}
    plans: list[ClipPlan] = []
    for index, (style, split, j, piece) in enumerate(slots):
        f, ph = solo_fraction, phase[(style, split)]
        solo = math.floor((j + 1) * f + ph) > math.floor(j * f + ph)
        crng = np.random.default_rng([seed, index, 0xC1])
        quarter_bpm, beat_bpm, source = _tempo(piece, crng)
        need = seconds * quarter_bpm / 60.0
        order = _voice_order(piece)
        name = next_solo(split) if solo else ""
        if solo and synth.instrument_family(name) not in CHORDAL_FAMILIES:
            # a single line: the highest part that sounds for most of the clip
            start, c = _choose_window(piece, need, crng, [[i] for i in order], SOLO_COVERAGE)
            voices: tuple[tuple[int, ...], ...] = ((order[c],),)
        else:
            start, _ = _choose_window(piece, need, crng, [order], ENSEMBLE_COVERAGE)
            voices = (tuple(order),)
        if solo:
            instruments_: tuple[str, ...] = (name,)
        else:
            templates = STYLE_ENSEMBLES.get(style) or (tuple(solo_names[:1]),)
            template = templates[int(crng.integers(len(templates)))]
            if piece.num_parts == 1:
                instruments_ = tuple(template)
                voices = tuple((0,) for _ in template)
            else:
                instruments_ = tuple(_assign_ensemble(template, piece.num_parts))
                voices = tuple((i,) for i in order)
        plans.append(
            ClipPlan(
                index=index,
                piece_id=piece.id,
                style=style,
                split=split,
                kind="solo" if solo else "ensemble",
                instruments=instruments_,
                voices=voices,
                quarter_bpm=quarter_bpm,
                beat_bpm=beat_bpm,
                tempo_source=source,
                start_ql=start,
                seconds=float(seconds),
                seed=int(crng.integers(2**31)),
            )
        )
    return plans


# --------------------------------------------------------------------------------- rendering


def _window(part: PartNotes, start: float, length: float, period: float) -> tuple[np.ndarray, ...]:
    """Notes sounding in ``[start, start + length)`` quarter lengths of a part repeated with
    ``period``: (pitch, onset relative to start, duration, onset within the excerpt)."""
    end = start + length
    reps = max(1, int(math.ceil(end / period))) if period > 0 else 1
    shift = np.repeat(np.arange(reps) * period, len(part.pitch))
    onset = np.tile(part.onset, reps) + shift
    keep = (onset >= start - 1e-9) & (onset < end - 1e-9)
    pitch = np.tile(part.pitch, reps)[keep]
    dur = np.minimum(np.tile(part.duration, reps)[keep], end - onset[keep])
    return pitch, onset[keep] - start, dur, np.tile(part.onset, reps)[keep]


def _metric_strength(piece: Piece, onset: np.ndarray) -> np.ndarray:
    """1.0 on downbeats, 0.85 on other beats, 0.72 off the beat (onsets in quarter lengths)."""
    ms = piece.measure_starts if len(piece.measure_starts) else np.zeros(1)
    idx = np.clip(np.searchsorted(ms, onset + 1e-6, side="right") - 1, 0, len(ms) - 1)
    pos = onset - ms[idx]
    on_beat = np.abs(pos / piece.beat_ql - np.round(pos / piece.beat_ql)) < 1e-3
    return np.where(np.abs(pos) < 1e-3, 1.0, np.where(on_beat, 0.85, 0.72))


def _fit_octaves(pitch: np.ndarray, lowest: int, highest: int) -> np.ndarray:
    """Shift a line by the whole octaves that put most notes in range (ties: the smallest
    shift), then fold the rest by octaves into range (as the synthesizer would)."""
    if len(pitch) == 0:
        return pitch
    shifts = np.arange(-5, 6) * 12
    inside = [int(np.sum((pitch + s >= lowest) & (pitch + s <= highest))) for s in shifts]
    best = max(range(len(shifts)), key=lambda i: (inside[i], -abs(shifts[i])))
    p = pitch.astype(np.float64) + shifts[best]
    p = np.where(p < lowest, p + 12 * np.ceil((lowest - p) / 12), p)
    p = np.where(p > highest, p - 12 * np.ceil((p - highest) / 12), p)
    return p


def _top_notes(onset: np.ndarray, pitch: np.ndarray) -> np.ndarray:
    """Indices of the highest note of each group of notes starting together (chords -> top)."""
    if len(onset) == 0:
        return np.zeros(0, dtype=int)
    order = np.lexsort((-pitch, onset))
    first = np.concatenate([[True], np.diff(onset[order]) > 1e-9])
    return np.sort(order[first])


def clip_parts(piece: Piece, plan: ClipPlan) -> list[Any]:
    """The :class:`musicrep.data.synth.Part` list a clip renders (times in seconds).

    Each voice's notes in the clip window (the excerpt repeated if it is too short; chords
    reduced to their top note for wind instruments and melodic solos) are moved by octaves
    into the instrument's range (the whole texture together for a chordal solo, so its
    voicing is kept), timed at ``plan.quarter_bpm`` and given velocities: a seeded level per
    voice (0.55-0.8; the top voice of an ensemble +0.1) times the metric strength of the onset.
    """
    from musicrep.data import synth

    rng = np.random.default_rng([plan.seed, 0xFE])
    sec_per_ql = 60.0 / plan.quarter_bpm
    length = plan.seconds / sec_per_ql
    out = []
    for v, (name, voice) in enumerate(zip(plan.instruments, plan.voices)):
        inst = synth.INSTRUMENTS[name]
        chunks = [_window(piece.parts[i], plan.start_ql, length, piece.length_ql) for i in voice]
        pitch = np.concatenate([c[0] for c in chunks]).astype(np.float64)
        onset = np.concatenate([c[1] for c in chunks])
        dur = np.concatenate([c[2] for c in chunks])
        position = np.concatenate([c[3] for c in chunks])
        if inst.family in WIND_FAMILIES or (
            plan.kind == "solo" and inst.family not in CHORDAL_FAMILIES
        ):
            keep = _top_notes(onset, pitch)
            pitch, onset, dur, position = pitch[keep], onset[keep], dur[keep], position[keep]
        pitch = _fit_octaves(pitch, inst.lowest, inst.highest)
        level = rng.uniform(0.55, 0.8) + (0.1 if plan.kind == "ensemble" and v == 0 else 0.0)
        velocity = np.clip(level * _metric_strength(piece, position), 0.05, 1.0)
        order = np.lexsort((pitch, onset))
        out.append(
            synth.Part(
                name,
                pitch[order],
                onset[order] * sec_per_ql,
                dur[order] * sec_per_ql,
                velocity[order],
            )
        )
    return out


def texture(parts: Sequence[Any], seconds: float, hop: float = 0.01) -> str:
    """``"polyphonic"`` if >= 2 pitch classes sound together for :data:`POLYPHONY_MIN_SECONDS`
    in total (on a ``hop``-second grid), else ``"monophonic"``."""
    frames = max(1, int(math.ceil(seconds / hop)))
    active = np.zeros((12, frames), dtype=bool)
    for part in parts:
        a = np.clip(np.round(part.onset / hop).astype(int), 0, frames)
        b = np.clip(np.round((part.onset + part.duration) / hop).astype(int), 0, frames)
        pcs = np.round(part.pitch).astype(int) % 12
        for pc, i, j in zip(pcs, a, b):
            active[pc, i:j] = True
    together = np.count_nonzero(active.sum(axis=0) >= 2) * hop
    return "polyphonic" if together >= POLYPHONY_MIN_SECONDS else "monophonic"


def clip_labels(piece: Piece, plan: ClipPlan, parts: Sequence[Any] | None = None) -> dict[str, Any]:
    """Labels of a clip per facet (:data:`FACETS`): ``{"style": "bach", "instrument":
    ["organ"], "mode": "minor", "tempo": "slow", "meter": "duple", "texture": "polyphonic"}``;
    ``meter`` is ``"other"`` for numerators outside :data:`METER_CLASSES`."""
    parts = clip_parts(piece, plan) if parts is None else parts
    return {
        "style": piece.style,
        "instrument": sorted(set(plan.instruments)),
        "mode": piece.mode,
        "tempo": tempo_class(plan.beat_bpm),
        "meter": piece.meter,
        "texture": texture(parts, plan.seconds),
    }


def tags(labels: dict[str, Any]) -> list[str]:
    """``facet:value`` tags of :func:`clip_labels` output (``meter:other`` is left out)."""
    out = []
    for facet in FACETS:
        values = labels[facet] if isinstance(labels[facet], list) else [labels[facet]]
        out += [f"{facet}:{v}" for v in values if not (facet == "meter" and v == "other")]
    return out


def free_tags(
    piece: Piece, plan: ClipPlan, labels: dict[str, Any], rng: np.random.Generator
) -> list[str]:
    """Free-form tags a user might write for a clip (the ``freetags.csv`` task).

    Only facts about the clip are used (its instruments and their families, the piece's style,
    title, composer, tempo word and mode, the rendered tempo class, solo/ensemble, texture);
    each candidate word is kept with its probability from :data:`FREE_TAG_INSTRUMENT_WORDS`,
    :data:`FREE_TAG_FAMILY_WORDS`, :data:`FREE_TAG_STYLE_WORDS` and
    :data:`FREE_TAG_PROBABILITIES`, and written in one of its spellings (``"violin|violins"``)
    and sometimes capitalised. Every clip gets at least one tag (its first instrument's name).

    Parameters
    ----------
    piece, plan : Piece, ClipPlan
    labels : dict
        The clip's :func:`clip_labels`.
    rng : numpy.random.Generator
        Draws the words (``default_rng((seed, FREE_TAG_STREAM, plan.index))`` in
        :func:`build_corpus`).

    Returns
    -------
    list of str
        Unique tags in the order drawn.
    """
    from musicrep.data import synth

    prob = FREE_TAG_PROBABILITIES
    out: dict[str, None] = {}

    def maybe(words: str, p: float) -> None:
        if rng.random() < p:
            options = words.split("|")
            word = options[int(rng.integers(len(options)))]
            if rng.random() < prob["capitalise"]:
                word = word[:1].upper() + word[1:]
            out.setdefault(word, None)

    names = sorted(set(plan.instruments))
    families = sorted({synth.instrument_family(n) for n in names})
    for name in names:
        for words, p in FREE_TAG_INSTRUMENT_WORDS.get(name, ((name.replace("_", " "), 0.85),)):
            maybe(words, p)
    for fam in families:
        for words, p in FREE_TAG_FAMILY_WORDS.get(fam, ()):
            maybe(words, p)
    for words, p in FREE_TAG_STYLE_WORDS.get(piece.style, ()):
        maybe(words, p)
    title = set(re.findall(r"[a-z]+", piece.title.lower()))
    if piece.style in ("palestrina", "monteverdi", "trecento"):
        maybe("early music", prob["early music"])
    if (piece.style in ("palestrina", "trecento") and title & set(SACRED_TITLE_WORDS)) or (
        piece.style == "bach"
    ):
        maybe("sacred", prob["sacred"])
    if piece.style == "fiddle":
        for dance in DANCE_WORDS:
            if dance in title:
                maybe(f"{dance}|{dance}s", prob["dance"])
    if piece.style == "classical_quartet":
        maybe(piece.collection, prob["composer"])
        if all(synth.instrument_family(n) == "bowed" for n in names):
            maybe("string quartet", prob["string quartet"])
    tempo = labels["tempo"]
    if tempo == "slow":
        maybe("slow", prob["tempo"])
    elif tempo == "fast":
        maybe("fast", prob["tempo"])
        maybe("upbeat", prob["upbeat"])
    else:
        maybe("moderate", prob["tempo"] / 3)
    words = set(re.findall(r"[a-z]+", (piece.tempo_text or "").lower())) & set(TEMPO_WORDS)
    for word in sorted(words):
        maybe(word, prob["tempo word"])
    maybe(labels["mode"], prob[labels["mode"]])
    maybe("solo" if plan.kind == "solo" else "ensemble", prob[plan.kind])
    if labels["texture"] == "monophonic":
        maybe("melody", prob["melody"])
    else:
        maybe("polyphonic|harmony", prob["polyphonic"])
    if "vocal" not in families:
        maybe("instrumental", prob["instrumental"])
    maybe("music", prob["music"])
    maybe(piece.time_signature, prob["time signature"])
    if not out:
        first = FREE_TAG_INSTRUMENT_WORDS.get(names[0], ((names[0].replace("_", " "), 1.0),))
        out[first[0][0].split("|")[0]] = None
    return list(out)


def render_clip(
    piece: Piece,
    plan: ClipPlan,
    *,
    sr: int = 16000,
    renderer: str = "builtin",
    soundfont: str | None = None,
    parts: Sequence[Any] | None = None,
) -> np.ndarray:
    """Render one clip.

    Parameters
    ----------
    piece, plan
        The piece and the clip's plan (:func:`plan_clips`).
    sr : int
        Sample rate in Hz.
    renderer : {"builtin", "fluidsynth"}
        :func:`musicrep.data.synth.render` (seeded by ``plan.seed``) or
        :func:`musicrep.data.synth.render_fluidsynth`.
    soundfont : str, optional
        Soundfont for ``"fluidsynth"``.
    parts : list of synth.Part, optional
        Precomputed :func:`clip_parts`.

    Returns
    -------
    np.ndarray, (round(plan.seconds * sr),) float32
        Peak-normalised to -1 dBFS.
    """
    from musicrep.data import synth

    parts = list(clip_parts(piece, plan) if parts is None else parts)
    if renderer == "builtin":
        rng = np.random.default_rng([plan.seed, 0x5A])
        return synth.render(parts, sr, plan.seconds, reverb=REVERB, rng=rng, peak_db=-1.0)
    if renderer == "fluidsynth":
        return synth.render_fluidsynth(
            parts, sr, plan.seconds, soundfont=soundfont, reverb=REVERB, peak_db=-1.0
        )
    raise ConfigError(f"unknown renderer {renderer!r}", "use 'builtin' or 'fluidsynth'")


# --------------------------------------------------------------------------------- building

RENDERERS: tuple[str, ...] = ("builtin", "fluidsynth")
_CLIP_FILE = re.compile(r"^\d{5,}_[a-z_]+_(solo|ensemble)_[0-9a-f]{10}\.wav$")


def _wav_ok(path: Path, sr: int, frames: int) -> bool:
    import soundfile as sf

    try:
        info = sf.info(str(path))
    except Exception:  # noqa: BLE001 - any unreadable file is re-rendered
        return False
    return info.samplerate == sr and info.frames == frames and info.channels == 1


def _render_job(job: tuple) -> tuple[int, str | None]:
    """Worker: render one clip and write its WAV atomically. Returns (index, error or None)."""
    import soundfile as sf

    from musicrep.utils import atomic_path

    piece, plan, parts, path, sr, renderer, soundfont = job
    try:
        audio = render_clip(piece, plan, sr=sr, renderer=renderer, soundfont=soundfont, parts=parts)
        if not np.all(np.isfinite(audio)):
            raise MusicrepError(f"clip {plan.index}: the renderer returned NaN/inf samples")
        with atomic_path(path) as tmp:
            sf.write(str(tmp), audio, sr, subtype="PCM_16", format="WAV")
    except MusicrepError as err:
        return plan.index, str(err)
    except Exception as err:  # noqa: BLE001 - recorded and reported, the build goes on
        return plan.index, f"{type(err).__name__}: {err}"
    return plan.index, None


@dataclass
class CorpusSummary:
    """What :func:`build_corpus` produced.

    Attributes
    ----------
    out_dir : Path
        The output folder.
    counts : dict
        ``{task: {split: {class: clips}}}`` for the tasks ``style``, ``instrument``,
        ``tags`` and ``freetags``.
    clips, seconds, sr : int, float, int
        Clips in the manifests, their length (s) and sample rate.
    rendered, reused : int
        Clips rendered by this call, and finished WAVs reused from an earlier run.
    failures : list of (int, str)
        Clips that could not be rendered (index, reason); they are left out of the manifests.
    elapsed : float
        Wall time of the build in seconds.
    sizes : dict
        ``{task: {split: rows}}``: clips per split in each manifest.
    """

    out_dir: Path
    counts: dict[str, dict[str, dict[str, int]]]
    clips: int
    seconds: float
    sr: int
    rendered: int = 0
    reused: int = 0
    failures: list[tuple[int, str]] = field(default_factory=list)
    elapsed: float = 0.0
    sizes: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def audio_seconds(self) -> float:
        """Seconds of audio rendered by this call."""
        return self.rendered * self.seconds

    @property
    def speed(self) -> float:
        """Rendered audio seconds per wall-clock second (x real time); 0 when nothing rendered."""
        return self.audio_seconds / self.elapsed if self.elapsed > 0 and self.rendered else 0.0

    def table(self, max_classes: int = 30) -> str:
        """Per-class clip counts per split for each task, as a text table (a task with more
        than ``max_classes`` classes shows its ``max_classes`` most frequent ones)."""
        lines = []
        for task, per_split in self.counts.items():
            classes = sorted({c for counts in per_split.values() for c in counts})
            more = 0
            if len(classes) > max_classes:
                total = {c: sum(counts.get(c, 0) for counts in per_split.values()) for c in classes}
                top = sorted(classes, key=lambda c: (-total[c], c))[:max_classes]
                more, classes = len(classes) - max_classes, sorted(top)
            width = max([len("class")] + [len(c) for c in classes])
            header = f"{'class':<{width}}  " + "  ".join(f"{s:>5}" for s in SPLITS) + "  total"
            lines += [f"{task}.csv", header, "-" * len(header)]
            for c in classes:
                row = [per_split.get(s, {}).get(c, 0) for s in SPLITS]
                lines.append(
                    f"{c:<{width}}  " + "  ".join(f"{n:>5}" for n in row) + f"  {sum(row):>5}"
                )
            if more:
                lines.append(f"... {more} less frequent classes")
            totals = [self.sizes.get(task, {}).get(s, 0) for s in SPLITS]
            lines.append(
                f"{'(clips)':<{width}}  "
                + "  ".join(f"{n:>5}" for n in totals)
                + f"  {sum(totals):>5}"
            )
            lines.append("")
        return "\n".join(lines).rstrip() + "\n"

    def __str__(self) -> str:
        speed = f", {self.speed:.1f}x real time" if self.rendered else ""
        return (
            f"{self.clips} clips of {self.seconds:g} s at {self.sr} Hz in {self.out_dir} "
            f"({self.rendered} rendered, {self.reused} reused) in {self.elapsed:.1f} s{speed}"
        )


def build_corpus(
    out_dir: str | Path,
    clips: int = 400,
    seconds: float = 6.0,
    *,
    renderer: str = "builtin",
    seed: int = 0,
    sr: int = 16000,
    solo_fraction: float = 0.5,
    jobs: int = 1,
    progress: bool = True,
    styles: Sequence[str] | None = None,
    instruments: Sequence[str] | None = None,
    soundfont: str | None = None,
    pieces: Sequence[Piece] | None = None,
    log: Callable[[str], None] | None = None,
) -> CorpusSummary:
    """Render the built-in corpus dataset: WAV clips and task manifests in ``out_dir``.

    Output (paths in the CSVs are relative to ``out_dir``)::

        out_dir/audio/<index>_<style>_<kind>_<hash>.wav   16-bit mono WAVs at ``sr``
        out_dir/style.csv         single-label style task, every clip
        out_dir/instrument.csv    single-label instrument task, solo clips
        out_dir/tags.csv          multi-label facet:value tags, every clip
        out_dir/freetags.csv      multi-label free-form tags (as users write them), every clip
        out_dir/clips.csv         every clip's metadata (piece, bpm, key, instruments, seed...)
        out_dir/metadata.json     build settings, versions, label definitions, clips
        out_dir/summary.txt       what the folder holds, with the count tables

    Re-running with the same arguments reuses the finished WAVs (a clip's file name hashes its
    plan and the render options), so an interrupted build resumes; WAVs of other builds in
    ``out_dir/audio`` are deleted. Manifests are written atomically at the end, so they only
    ever list finished clips. Clips that fail to render are reported and left out.

    Parameters
    ----------
    out_dir : str or Path
        Output folder (created).
    clips : int
        Number of clips, spread evenly over the styles.
    seconds : float
        Clip length in seconds.
    renderer : {"builtin", "fluidsynth"}
        The built-in synthesizer, or FluidSynth with a General MIDI soundfont (must be
        installed; see :func:`musicrep.data.synth.fluidsynth_available`).
    seed : int
        Seed of the splits, clip plans and synthesis.
    sr : int
        Sample rate of the WAVs in Hz.
    solo_fraction : float
        Share of solo clips (the instrument task).
    jobs : int
        Rendering processes (1 = in this process).
    progress : bool
        Show a progress bar over clips (on a terminal).
    styles : sequence of str, optional
        Use only these styles.
    instruments : sequence of str, optional
        Solo instruments (default: all synthesizer timbres).
    soundfont : str, optional
        Soundfont for ``renderer="fluidsynth"``.
    pieces : sequence of Piece, optional
        Pieces to use instead of the shipped asset (:func:`load_pieces`).
    log : callable, optional
        Called with progress messages (e.g. ``print``).

    Returns
    -------
    CorpusSummary

    Raises
    ------
    ConfigError
        Unknown renderer, style or instrument; bad ``clips``/``seconds``/``sr``/``jobs``; or
        ``renderer="fluidsynth"`` without FluidSynth and a soundfont.
    """
    from musicrep.data import synth
    from musicrep.data.manifest import Manifest
    from musicrep.utils import progress as progress_bar
    from musicrep.utils import write_json_atomic, write_text_atomic

    t0 = time.perf_counter()
    if renderer not in RENDERERS:
        raise ConfigError(f"unknown renderer {renderer!r}", f"use one of {', '.join(RENDERERS)}")
    if renderer == "fluidsynth" and not synth.fluidsynth_available(soundfont):
        raise ConfigError(
            "renderer 'fluidsynth' needs the fluidsynth program and a General MIDI soundfont"
            + (f" (soundfont {soundfont} not found)" if soundfont else ""),
            "install them, e.g. `sudo apt-get install fluidsynth fluid-soundfont-gm` (Debian/"
            "Ubuntu) or `brew install fluid-synth` plus a .sf2 file (macOS), and pass "
            "--soundfont PATH or set MUSICREP_SOUNDFONT; or use --renderer builtin",
        )
    if int(sr) != sr or sr < 4000:
        raise ConfigError(f"sr must be an integer >= 4000 Hz, got {sr}")
    if jobs < 1:
        raise ConfigError(f"jobs must be >= 1, got {jobs}")
    say = log or (lambda msg: None)
    pieces = list(pieces) if pieces is not None else load_pieces()
    if styles is not None:
        unknown = sorted(set(styles) - {p.style for p in pieces})
        if unknown:
            raise ConfigError(
                f"unknown style(s) {unknown}",
                f"choose from {', '.join(s for s in STYLES if any(p.style == s for p in pieces))}",
            )
        pieces = [p for p in pieces if p.style in set(styles)]
    by_id = {p.id: p for p in pieces}

    plans = plan_clips(
        pieces, clips, seconds, seed=seed, solo_fraction=solo_fraction, instruments=instruments
    )
    out = Path(out_dir)
    audio_dir = out / "audio"
    audio_dir.mkdir(parents=True, exist_ok=True)
    options = {"sr": int(sr), "renderer": renderer, "soundfont": soundfont}
    frames = int(round(seconds * sr))
    names = {p.index: f"{p.index:05d}_{p.style}_{p.kind}_{p.digest(**options)}.wav" for p in plans}

    # labels (cheap, in this process) and the work still to do
    parts_of = {p.index: clip_parts(by_id[p.piece_id], p) for p in plans}
    labels_of = {p.index: clip_labels(by_id[p.piece_id], p, parts_of[p.index]) for p in plans}
    todo = [p for p in plans if not _wav_ok(audio_dir / names[p.index], int(sr), frames)]
    wanted = set(names.values())
    stale = [f for f in audio_dir.iterdir() if _CLIP_FILE.match(f.name) and f.name not in wanted]
    for f in stale:
        f.unlink()
    if stale:
        say(f"removed {len(stale)} WAVs of an earlier build with other settings from {audio_dir}")
    reused = len(plans) - len(todo)
    if reused:
        say(f"reusing {reused} finished clips in {audio_dir}")

    jobs_args = [
        (
            by_id[p.piece_id],
            p,
            parts_of[p.index],
            audio_dir / names[p.index],
            int(sr),
            renderer,
            soundfont,
        )
        for p in todo
    ]
    failures: list[tuple[int, str]] = []
    bar = progress_bar(
        total=len(todo), desc="rendering clips", unit="clip", disable=not progress or None
    )
    if jobs == 1 or len(todo) <= 1:
        results: Iterable[tuple[int, str | None]] = map(_render_job, jobs_args)
        for index, err in results:
            if err:
                failures.append((index, err))
            bar.update(1)
    else:
        from concurrent.futures import ProcessPoolExecutor, as_completed

        with ProcessPoolExecutor(max_workers=jobs) as pool:
            futures = [pool.submit(_render_job, a) for a in jobs_args]
            for fut in as_completed(futures):
                index, err = fut.result()
                if err:
                    failures.append((index, err))
                bar.update(1)
    bar.close()
    failures.sort()
    failed = {i for i, _ in failures}
    done = [p for p in plans if p.index not in failed]

    # manifests
    def row(p: ClipPlan, labels: Sequence[str]) -> dict[str, Any]:
        return {
            "path": f"audio/{names[p.index]}",
            "labels": list(labels),
            "split": p.split,
            "piece": p.piece_id,
        }

    style_rows = [row(p, [p.style]) for p in done]
    instrument_rows = [row(p, [p.instruments[0]]) for p in done if p.kind == "solo"]
    tag_rows = [row(p, tags(labels_of[p.index])) for p in done]
    free_rows = [
        row(
            p,
            free_tags(
                by_id[p.piece_id],
                p,
                labels_of[p.index],
                np.random.default_rng((seed, FREE_TAG_STREAM, p.index)),
            ),
        )
        for p in done
    ]
    clip_rows = []
    for p in done:
        piece, lab = by_id[p.piece_id], labels_of[p.index]
        clip_rows.append(
            {
                "path": f"audio/{names[p.index]}",
                "labels": tags(lab),
                "split": p.split,
                "clip": p.index,
                "piece": p.piece_id,
                "collection": piece.collection,
                "style": p.style,
                "title": piece.title,
                "kind": p.kind,
                "instruments": ";".join(p.instruments),
                "mode": lab["mode"],
                "key": piece.key,
                "encoded_key": piece.encoded_key or "",
                "time_signature": piece.time_signature,
                "meter": lab["meter"],
                "tempo": lab["tempo"],
                "quarter_bpm": f"{p.quarter_bpm:g}",
                "beat_bpm": f"{p.beat_bpm:g}",
                "tempo_source": p.tempo_source,
                "texture": lab["texture"],
                "start_ql": f"{p.start_ql:g}",
                "num_parts": piece.num_parts,
                "seed": p.seed,
            }
        )
    manifests = {
        "style": Manifest.from_rows(style_rows, out),
        "instrument": Manifest.from_rows(instrument_rows, out),
        "tags": Manifest.from_rows(tag_rows, out),
        "freetags": Manifest.from_rows(free_rows, out),
    }
    counts = {}
    for task, m in manifests.items():
        counts[task] = {s: dict(sorted(c.items())) for s, c in m.class_counts().items()}
    for task, m in manifests.items():
        m.write(out / f"{task}.csv")
    Manifest.from_rows(clip_rows, out).write(out / "clips.csv")

    summary = CorpusSummary(
        out_dir=out,
        counts=counts,
        clips=len(done),
        seconds=float(seconds),
        sr=int(sr),
        rendered=len(todo) - len(failures),
        reused=reused,
        failures=failures,
        sizes={t: {k: sum(r.split == k for r in m) for k in SPLITS} for t, m in manifests.items()},
    )
    config = {
        "clips": clips,
        "seconds": seconds,
        "renderer": renderer,
        "seed": seed,
        "sr": int(sr),
        "solo_fraction": solo_fraction,
        "styles": list(styles) if styles is not None else None,
        "instruments": list(instruments) if instruments is not None else None,
        "soundfont": soundfont,
    }
    meta = {
        "dataset": "musicrep built-in corpus",
        "config": config,
        "render_version": RENDER_VERSION,
        "environment": _versions("musicrep", "numpy", "soundfile", "music21"),
        "asset": _asset_summary(pieces),
        "labels": {
            "facets": list(FACETS),
            "style_sources": {k: list(v) for k, v in STYLE_SOURCES.items()},
            "tempo_thresholds_bpm": list(TEMPO_THRESHOLDS),
            "style_tempo_ranges_bpm": {k: list(v) for k, v in STYLE_TEMPO_RANGES.items()},
            "meter_classes": {str(k): v for k, v in METER_CLASSES.items()},
            "polyphony_min_seconds": POLYPHONY_MIN_SECONDS,
            "split_fractions": list(SPLIT_FRACTIONS),
        },
        "counts": counts,
        "failures": [{"clip": i, "error": e} for i, e in failures],
        "clips": [
            {**asdict(p), "path": f"audio/{names[p.index]}", "labels": labels_of[p.index]}
            for p in done
        ],
    }
    write_json_atomic(out / "metadata.json", meta)
    summary.elapsed = time.perf_counter() - t0
    write_text_atomic(out / "summary.txt", _summary_text(summary, config))
    return summary


def _versions(*packages: str) -> dict[str, str]:
    """Installed versions of ``packages`` (without importing them)."""
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in packages:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    return out


def _asset_summary(pieces: Sequence[Piece]) -> dict:
    """Asset settings when ``pieces`` come from the shipped asset, plus piece counts."""
    info: dict[str, Any] = {"pieces": len(pieces)}
    info["pieces_per_style"] = dict(Counter(p.style for p in pieces))
    if ASSET_PATH.is_file():
        a = asset_info()
        info.update({k: a[k] for k in ("music21", "seed", "per_style", "max_quarters") if k in a})
    return info


def _summary_text(summary: CorpusSummary, config: dict) -> str:
    lo, hi = TEMPO_THRESHOLDS
    lines = [
        "musicrep built-in corpus dataset",
        "================================",
        "",
        "Real compositions from the music21 corpus rendered with musicrep.data.synth",
        f"({config['renderer']} renderer): {summary.clips} clips of {summary.seconds:g} s,"
        f" mono {summary.sr} Hz 16-bit WAV in audio/.",
        f"Built with: clips={config['clips']} seconds={config['seconds']:g}"
        f" seed={config['seed']} solo_fraction={config['solo_fraction']:g}"
        f" renderer={config['renderer']}.",
        "",
        "Files (paths in the CSVs are relative to this folder; columns path, labels, split):",
        "  style.csv       single-label style (every clip)",
        "  instrument.csv  single-label instrument (solo clips only)",
        "  tags.csv        multi-label facet:value tags (every clip)",
        "  freetags.csv    multi-label free-form tags as users write them (every clip)",
        "  clips.csv       every clip's metadata (piece, key, bpm, instruments, seed, ...)",
        "  metadata.json   settings, versions, label definitions, per-clip plans",
        "",
        "Labels:",
        "  style:      source collection -> "
        + "; ".join(f"{s} = {'+'.join(c)}" for s, c in STYLE_SOURCES.items()),
        "  instrument: synthesizer timbres heard in the clip",
        "  mode:       major/minor of music21's key analysis of the excerpt",
        f"  tempo:      rendered beat tempo: slow < {lo:g} <= medium < {hi:g} <= fast (BPM)",
        "  meter:      time-signature numerator 2,4,6,12 -> duple; 3,9 -> triple",
        f"  texture:    polyphonic if >= 2 pitch classes sound together >= "
        f"{POLYPHONY_MIN_SECONDS:g} s",
        "Splits are by piece group (same tune never in two splits), ~70/15/15 per style.",
        "",
        summary.table(),
    ]
    if summary.failures:
        lines += ["Clips that failed to render (left out):"]
        lines += [f"  clip {i}: {e}" for i, e in summary.failures]
    return "\n".join(lines) + "\n"
