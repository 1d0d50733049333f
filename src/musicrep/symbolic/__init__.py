"""Symbolic music: note events, piano rolls and MIDI I/O (shared by the corpus and generation).

See :mod:`musicrep.symbolic.roll`.
"""

from musicrep.symbolic.roll import (
    ARTICULATE,
    HIGHEST,
    LOWEST,
    PLAY,
    Notes,
    notes_to_roll,
    piece_notes,
    read_midi,
    roll_to_notes,
    write_midi,
)

__all__ = [
    "ARTICULATE",
    "HIGHEST",
    "LOWEST",
    "PLAY",
    "Notes",
    "notes_to_roll",
    "piece_notes",
    "read_midi",
    "roll_to_notes",
    "write_midi",
]
