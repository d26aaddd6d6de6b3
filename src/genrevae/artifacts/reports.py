"""The JSON reports (``metrics.json``, ``generation_quality.json``, ``prior/prior.json``).

Written with sorted keys and two-space indents, so that equal results are equal bytes, and
with NaN or infinity as ``null`` (JSON has no such numbers; a measure that could not be
computed is missing, not a parse error in a reader).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from genrevae.artifacts import ArtifactError
from genrevae.files import write_text

__all__ = ["json_text", "read_report", "write_report"]


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(float(value)) else None
    if isinstance(value, np.integer):
        return int(value)
    return value


def json_text(result: Any) -> str:
    """``result`` as indented JSON with sorted keys, non-finite floats (NaN, inf) written as null."""
    return json.dumps(_plain(result), indent=2, sort_keys=True, allow_nan=False) + "\n"


def write_report(result: Any, path: Path) -> None:
    write_text(json_text(result), path)


def read_report(path: Path) -> dict[str, Any]:
    """A report as a dict; a missing file is an error that names it."""
    path = Path(path)
    if not path.is_file():
        raise ArtifactError(f"{path}: no such report; run the stage that writes it")
    return json.loads(path.read_text(encoding="utf-8"))
