"""Toy genre renderers, grouped by family, and the table that maps genre names to them.

A renderer is ``(rng, sample_rate, n_samples) -> (float32 audio, info dict)``;
it draws every random choice of the clip from ``rng``, in a fixed order, so
reordering its statements changes the clip.
"""

from __future__ import annotations

from genrevae.toy.genres.classical import _classical
from genrevae.toy.genres.dance import _disco, _hiphop, _reggae
from genrevae.toy.genres.jazz_blues import _blues, _jazz
from genrevae.toy.genres.rock_pop import _country, _metal, _pop, _rock

GENRE_RENDERERS = {
    "blues": _blues,
    "classical": _classical,
    "country": _country,
    "disco": _disco,
    "hiphop": _hiphop,
    "jazz": _jazz,
    "metal": _metal,
    "pop": _pop,
    "reggae": _reggae,
    "rock": _rock,
}
