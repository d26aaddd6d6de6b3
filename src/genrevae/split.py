"""The split stage: which clips of a genre train the model and which test it.

A clip's side depends on a seeded hash of its file name alone (or on explicit lists), so
adding or removing a clip never moves another one between train and test.
"""

from __future__ import annotations

import hashlib
from typing import Sequence

import pandas as pd

from genrevae.artifacts.split import SPLIT_COLUMNS
from genrevae.prepare import DataError


def track_hash(track: str, seed: int) -> float:
    """A uniform number in [0, 1) fixed by (seed, file name) alone, so splits are stable."""
    digest = hashlib.sha256(f"{seed}:{track}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64


def split_tracks(
    tracks: Sequence[str],
    seed: int,
    test_fraction: float | None = None,
    test_count: int | None = None,
    lists: dict[str, list[str]] | None = None,
    genre: str = "",
) -> dict[str, str]:
    """Assign each track to "train", "test" (or "unused" with explicit lists).

    Fraction mode: a track is in test iff its seeded hash < test_fraction, which depends on that
    track alone, so adding or removing a clip never moves another one. Count mode takes the
    test_count lowest hashes. Both keep at least one clip on each side.
    """
    names = list(tracks)
    if len(set(names)) != len(names):
        raise DataError(f"genre '{genre}': duplicate track names in the track list")
    if lists is not None:
        return _explicit_split(names, lists, genre)
    if len(names) < 2:
        raise DataError(
            f"genre '{genre}' has {len(names)} usable clip(s); a train/test split needs at least 2"
        )
    by_hash = sorted(names, key=lambda t: track_hash(t, seed))
    if test_count is not None:
        if test_count >= len(names):
            raise DataError(
                f"config key 'split.test_count' ({test_count}) must be smaller than genre "
                f"'{genre}''s {len(names)} usable clips"
            )
        test = set(by_hash[:test_count])
    else:
        assert test_fraction is not None
        test = {t for t in names if track_hash(t, seed) < test_fraction}
        # Degenerate tiny sets: keep one clip on each side, chosen by the same hash order.
        if not test:
            test = {by_hash[0]}
        if len(test) == len(names):
            test.discard(by_hash[-1])
    return {t: ("test" if t in test else "train") for t in names}


def _explicit_split(names: list[str], lists: dict[str, list[str]], genre: str) -> dict[str, str]:
    train, test = set(lists["train"]), set(lists["test"])
    both = sorted(train & test)
    if both:
        raise DataError(
            f"config key 'split.lists.{genre}': {', '.join(both)} listed in both train and test; "
            "remove each from one list"
        )
    missing = sorted((train | test) - set(names))
    if missing:
        raise DataError(
            f"config key 'split.lists.{genre}' names tracks that are not usable clips of this "
            f"genre: {', '.join(missing)} (see the genre's index.csv for why)"
        )
    return {t: "train" if t in train else "test" if t in test else "unused" for t in names}


def split_table(tracks: pd.DataFrame, assignment: dict[str, str]) -> pd.DataFrame:
    table = pd.DataFrame(
        {"clip": tracks["clip"], "track": tracks["track"], "subset": tracks["track"].map(assignment)},
        columns=SPLIT_COLUMNS,
    )
    train = set(table.loc[table["subset"] == "train", "track"])
    test = set(table.loc[table["subset"] == "test", "track"])
    if train & test or not train or not test:
        raise AssertionError(f"split invariant broken: train={len(train)} test={len(test)}")
    return table
