"""The 50 tags of each musicnn model, in the order of its output units.

Copied verbatim from ``musicnn/configuration.py`` of musicnn 0.1.0 (``MTT_LABELS`` and
``MSD_LABELS``), spelling and case included ("Mellow", "Hip-Hop", "House"): a tag's index is
its output unit, so a reordered or respelled list would silently mislabel every probability.
The test compares these tuples with the installed package's file.
"""

from __future__ import annotations

__all__ = ["MTT_TAGS", "MSD_TAGS", "TAGS"]

#: MagnaTagATune (MTT): genres, instruments, voice and mood tags of ~26k 29 s clips.
MTT_TAGS: tuple[str, ...] = (
    "guitar", "classical", "slow", "techno", "strings", "drums", "electronic", "rock", "fast", "piano",
    "ambient", "beat", "violin", "vocal", "synth", "female", "indian", "opera", "male", "singing",
    "vocals", "no vocals", "harpsichord", "loud", "quiet", "flute", "woman", "male vocal", "no vocal", "pop",
    "soft", "sitar", "solo", "man", "classic", "choir", "voice", "new age", "dance", "male voice",
    "female vocal", "beats", "harp", "cello", "no voice", "weird", "country", "metal", "female voice", "choral",
)  # fmt: skip

#: Million Song Dataset (MSD): the 50 most frequent Last.fm tags (genres, eras, moods).
MSD_TAGS: tuple[str, ...] = (
    "rock", "pop", "alternative", "indie", "electronic", "female vocalists", "dance", "00s", "alternative rock",
    "jazz", "beautiful", "metal", "chillout", "male vocalists", "classic rock", "soul", "indie rock", "Mellow",
    "electronica", "80s", "folk", "90s", "chill", "instrumental", "punk", "oldies", "blues", "hard rock", "ambient",
    "acoustic", "experimental", "female vocalist", "guitar", "Hip-Hop", "70s", "party", "country", "easy listening",
    "sexy", "catchy", "funk", "electro", "heavy metal", "Progressive rock", "60s", "rnb", "indie pop", "sad", "House",
    "happy",
)  # fmt: skip

#: Tags per supported model name (the names of musicnn's checkpoint folders).
TAGS: dict[str, tuple[str, ...]] = {"MTT_musicnn": MTT_TAGS, "MSD_musicnn": MSD_TAGS}
