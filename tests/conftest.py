"""Shared fixtures: small audio files written on the fly, and the repository root."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

REPO_ROOT = Path(__file__).resolve().parents[1]

# Tests share 2 CPU cores: keep TensorFlow and BLAS from starting a thread per core each.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def write_tone(
    path: Path,
    seconds: float,
    sample_rate: int = 22050,
    channels: int = 1,
    freq: float = 220.0,
    subtype: str = "PCM_16",
) -> Path:
    """A sine tone WAV (one frequency per channel so a down-mix is checkable)."""
    t = np.arange(int(round(seconds * sample_rate))) / sample_rate
    columns = [0.5 * np.sin(2 * np.pi * freq * (c + 1) * t) for c in range(channels)]
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), np.stack(columns, axis=1), sample_rate, subtype=subtype)
    return path


def jax_env() -> dict[str, str]:
    """The environment of a subprocess that runs under JAX; skips the test where jax is not
    installed, and fails it there when GENREVAE_REQUIRE_JAX=1 (CI installs `.[jax]`)."""
    import importlib.util

    if importlib.util.find_spec("jax") is None:
        if os.environ.get("GENREVAE_REQUIRE_JAX") == "1":
            pytest.fail("jax is not installed but GENREVAE_REQUIRE_JAX=1: pip install -e .[jax]")
        pytest.skip("jax is not installed (pip install -e .[jax])")
    return {**os.environ, "KERAS_BACKEND": "jax", "TF_CPP_MIN_LOG_LEVEL": "2"}


def backend_threads() -> int:
    """The thread count this test process's Keras backend runs with; pins it to 1 if not chosen yet.

    Test modules call it at import (collection) time, before any test runs a backend op, so
    that configure_threads() inside train_genre/evaluate_genre is a no-op later.
    """
    from genrevae import backend

    if backend.configured_threads() is None:
        backend.configure_threads(1)
    return backend.configured_threads()


#: Markers that make a test slow by what it runs (a whole workflow, a cluster): each such test is
#: in the fast tier's exclusion without listing `slow` beside them.
SLOW_KINDS = ("workflow", "slurm")


@pytest.hookimpl(tryfirst=True)  # before pytest deselects by -m
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every workflow and slurm test slow, so `pytest -m "not slow"` leaves them out."""
    for item in items:
        if any(item.get_closest_marker(kind) for kind in SLOW_KINDS):
            item.add_marker(pytest.mark.slow)


@pytest.fixture
def repo_root() -> Path:
    return REPO_ROOT
