"""The split stage: which clips of a genre train the model and which test it.

A clip's side depends on a seeded hash of its file name alone (or on explicit lists), so
adding or removing a clip never moves another one between train and test.  Clips with the same
bytes (SHA-256) are one group and share a side, the side the group's first member (in name
order) gets on its own, so an identical copy can never be trained on and tested.
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


def content_groups(names: Sequence[str], sha256: Sequence[str] | None) -> dict[str, list[str]]:
    """Tracks grouped by content: {first member in name order: every member in name order}.

    Without hashes (or with an empty one) each track is its own group."""
    if sha256 is None:
        sha256 = [""] * len(names)
    if len(sha256) != len(names):
        raise ValueError(f"{len(names)} tracks but {len(sha256)} SHA-256 values")
    by_digest: dict[str, list[str]] = {}
    groups: dict[str, list[str]] = {}
    for name, digest in sorted(zip(names, sha256)):
        if digest:
            by_digest.setdefault(digest, []).append(name)
        else:
            groups[name] = [name]
    groups.update({members[0]: members for members in by_digest.values()})
    return dict(sorted(groups.items()))


def split_tracks(
    tracks: Sequence[str],
    seed: int,
    test_fraction: float | None = None,
    test_count: int | None = None,
    lists: dict[str, list[str]] | None = None,
    genre: str = "",
    sha256: Sequence[str] | None = None,
) -> dict[str, str]:
    """Assign each track to "train", "test" (or "unused" with explicit lists).

    Fraction mode: a track is in test iff its seeded hash < test_fraction, which depends on that
    track alone, so adding or removing a clip never moves another one. Count mode takes the
    test_count lowest hashes. Both keep at least one clip on each side.

    ``sha256`` (one per track, as in tracks.csv) groups byte-identical tracks: a group is placed
    as its first member (in name order) would be, and test_count counts groups (distinct
    clips).  Explicit lists that put two identical tracks on different sides are an error.
    """
    names = list(tracks)
    if len(set(names)) != len(names):
        raise DataError(f"genre '{genre}': duplicate track names in the track list")
    groups = content_groups(names, sha256)
    if lists is not None:
        return _explicit_split(names, lists, genre, groups)
    if len(groups) < 2:
        copies = f" ({len(names)} clips, all with the same bytes)" if len(names) > len(groups) else ""
        raise DataError(
            f"genre '{genre}' has {len(groups)} distinct usable clip(s){copies}; a train/test split "
            "needs at least 2 (the genre's index.csv lists every file and why any was left out)"
        )
    by_hash = sorted(groups, key=lambda t: track_hash(t, seed))
    if test_count is not None:
        if test_count >= len(groups):
            raise DataError(
                f"config key 'split.test_count' ({test_count}) must be smaller than genre "
                f"'{genre}''s {len(groups)} distinct usable clips"
            )
        test = set(by_hash[:test_count])
    else:
        assert test_fraction is not None
        test = {t for t in groups if track_hash(t, seed) < test_fraction}
        # Degenerate tiny sets: keep one clip on each side, chosen by the same hash order.
        if not test:
            test = {by_hash[0]}
        if len(test) == len(groups):
            test.discard(by_hash[-1])
    return {t: ("test" if first in test else "train") for first, members in groups.items() for t in members}


def _explicit_split(
    names: list[str], lists: dict[str, list[str]], genre: str, groups: dict[str, list[str]]
) -> dict[str, str]:
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
    for members in groups.values():
        in_train, in_test = [t for t in members if t in train], [t for t in members if t in test]
        if in_train and in_test:
            raise DataError(
                f"config key 'split.lists.{genre}': {in_train[0]} (train) and {in_test[0]} (test) "
                "are byte-identical files (same SHA-256), so the test clip would be a training "
                "clip; put both in the same list"
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
    if "sha256" in tracks.columns:  # the same bytes on both sides would leak, whoever assigned them
        digest = tracks["sha256"].astype(str)
        shared = set(digest[table["subset"] == "train"]) & set(digest[table["subset"] == "test"]) - {""}
        if shared:
            pairs = [
                " = ".join(tracks.loc[(digest == d) & table["subset"].isin(["train", "test"]), "track"])
                for d in sorted(shared)
            ]
            raise AssertionError(f"split invariant broken: byte-identical clips in train and test: {'; '.join(pairs)}")
    return table
