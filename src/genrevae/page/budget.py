"""What the self-contained report variant embeds: Chromium shows no ``data:`` URL over 2 MB in
a frame, so a greedy knapsack picks the clips (with their thumbnails) whose base64 size fits
:data:`REPORT_PAGE_BUDGET`, in an order that keeps learned-prior and N(0, I) clips paired.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Sequence

import pandas as pd

from genrevae.page.collect import GenreResults

#: Chromium shows no ``data:`` URL over 2 MiB in a frame; the report base64-encodes the page
#: (4/3 larger), so the raw page must stay below 1.5 MiB; keep some margin.
REPORT_PAGE_BUDGET = 1_400_000
#: Lowest sample rate Chromium's media stack plays (measured: 2,000 Hz fails, 3,000 Hz plays).
BROWSER_MIN_RATE = 3000


def _base64_size(n_bytes: int) -> int:
    return 4 * ((n_bytes + 2) // 3)


def _report_selection(
    genres: Sequence[GenreResults], budget: int, thumbnail: Callable[[Path], bytes | None] = lambda wav: None
) -> set[tuple[str, str]]:
    """(genre, file) of the clips to embed while their base64 size, with their thumbnails'
    (``thumbnail(model-rate wav)``), fits ``budget``: generated clips round-robin over the
    genres, each genre's learned-prior clip ``i`` right before its N(0, I) clip of the same
    seed (so even a tight budget embeds some of each, comparable in pairs), then
    reconstruction pairs, then interpolations (a pair or an interpolation is embedded whole
    or not at all)."""
    units: list[tuple[GenreResults, list[pd.Series]]] = []
    for kinds in (("sample", "gaussian_sample"), ("original", "reconstruction"), ("interpolation",)):
        queues: list[list[list[list[pd.Series]]]] = []  # per genre, per round: the units of that round
        for g in genres:
            if g.manifest.empty:
                queues.append([])
                continue
            rows = g.manifest[g.manifest["kind"].isin(kinds)]
            if kinds[0] == "sample":
                learned = [r for _, r in rows[rows["kind"] == "sample"].iterrows()]
                gaussian = [r for _, r in rows[rows["kind"] == "gaussian_sample"].iterrows()]
                rounds = max(len(learned), len(gaussian))
                queues.append([[[r] for r in learned[i : i + 1] + gaussian[i : i + 1]] for i in range(rounds)])
            else:
                queues.append([[[r for _, r in group.iterrows()]] for _, group in rows.groupby("group", sort=False)])
        for i in range(max((len(q) for q in queues), default=0)):
            units += [(g, unit) for g, q in zip(genres, queues) if i < len(q) for unit in q[i]]
    chosen: set[tuple[str, str]] = set()
    used = 0
    for g, rows in units:
        paths = [g.generated_dir / _embedded_file(r) for r in rows]
        if not all(p.is_file() for p in paths):
            continue
        cost = sum(_base64_size(p.stat().st_size) + 300 for p in paths)
        if used + cost > budget:  # too large even without thumbnails: do not render them
            continue
        pngs = [thumbnail(g.generated_dir / str(r["file"])) for r in rows]
        cost += sum(_base64_size(len(png)) + 200 for png in pngs if png)
        if used + cost <= budget:
            chosen |= {(g.name, str(r["file"])) for r in rows}
            used += cost
    return chosen


def _embedded_file(row: pd.Series) -> str:
    return str(row["file"]) if int(row["sample_rate"]) >= BROWSER_MIN_RATE else str(row["playback_file"])
