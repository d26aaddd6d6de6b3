"""Error and log messages that stay one readable line however many things they list."""

from __future__ import annotations

from typing import Sequence

__all__ = ["summarise"]


def summarise(items: Sequence[str], limit: int = 5, separator: str = "; ") -> str:
    """``items`` joined by ``separator``, the first ``limit`` of them and then a count of the
    rest: 4,000 rejected files give a line a person can read, not 250 kB."""
    items = [str(item) for item in items]
    if len(items) <= limit:
        return separator.join(items)
    return f"{separator.join(items[:limit])}{separator}and {len(items) - limit:,} more"
