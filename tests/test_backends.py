"""Keras 3 on any backend: the unit tests of the model half run again under JAX, the toy workflow
runs end to end under ``KERAS_BACKEND=jax``, and only ``genrevae.backend`` imports a backend.

This process runs the default backend (TensorFlow); JAX runs in child processes, because Keras
chooses its backend once per process.  Without jax installed these tests skip, unless
``GENREVAE_REQUIRE_JAX=1`` (CI) makes that a failure."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import REPO_ROOT, backend_threads, jax_env
from workflow_helpers import TINY, snakemake, write_config

backend_threads()

#: The unit tests whose code path differs by backend (compiled steps, seeds, gradients, saving).
BACKEND_MODULES = (
    "test_backend_seam.py",
    "test_pqmf.py",
    "test_istft.py",
    "test_losses.py",
    "test_model.py",
    "test_prior.py",
    "test_train.py",
    "test_evaluate.py",
    "test_genre_model.py",
)
#: Of their slow tests, those whose guarantee is the backend's own: bit-identical training and
#: resume (in either training phase), and a prior saved under JAX scored under TensorFlow (the model's direction is checked
#: end to end below).  The others repeat, at larger sizes, what the fast tier checks.
SLOW_UNDER_JAX = (
    "test_train.py::test_same_settings_give_identical_weights",
    "test_train.py::test_resume_after_sigkill",
    "test_train.py::test_resume_in_the_adversarial_phase_is_bit_identical",
    "test_prior.py::test_a_prior_saved_on_one_backend_scores_and_samples_on_the_other",
)
#: The modules allowed to import a backend library (the seam), and the libraries.
SEAM = {"backend.py"}
BACKEND_LIBRARIES = {"tensorflow", "jax", "jaxlib", "torch"}


def test_only_the_seam_imports_a_backend() -> None:
    offenders = []
    for path in sorted((REPO_ROOT / "src" / "genrevae").rglob("*.py")):
        if path.name in SEAM:
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            offenders += [f"{path.relative_to(REPO_ROOT)}:{node.lineno} imports {n}" for n in names if n.split(".")[0] in BACKEND_LIBRARIES]
    assert not offenders, "\n".join(offenders)


@pytest.mark.workflow
def test_unit_tests_pass_under_jax(tmp_path: Path) -> None:
    """The fast tier of :data:`BACKEND_MODULES` and :data:`SLOW_UNDER_JAX`, under JAX."""
    env = jax_env()
    base = [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider"]
    runs = {
        "fast tier": ["-m", "not slow", *(str(REPO_ROOT / "tests" / name) for name in BACKEND_MODULES)],
        "slow": [str(REPO_ROOT / "tests" / node) for node in SLOW_UNDER_JAX],
    }
    for i, (what, args) in enumerate(runs.items()):
        command = [*base, "--basetemp", str(tmp_path / f"basetemp{i}"), *args]
        result = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=1800)
        assert result.returncode == 0, f"{what} under KERAS_BACKEND=jax:\n{result.stdout[-6000:]}\n{result.stderr[-3000:]}"
        summary = result.stdout.strip().splitlines()[-1]
        assert " passed" in summary, summary


@pytest.mark.workflow
def test_main_command_under_jax_and_the_model_generates_under_tensorflow(tmp_path: Path) -> None:
    """The README's main command with ``KERAS_BACKEND=jax``, then the JAX-trained model and prior
    loaded in this (TensorFlow) process: they decode the test clips as JAX did."""
    env = jax_env()  # skips (or fails under GENREVAE_REQUIRE_JAX=1) without jax
    write_config(tmp_path, **TINY)
    snakemake(tmp_path, "results/jazz/generated", env={"KERAS_BACKEND": "jax"})
    jazz = tmp_path / "results/jazz"
    config = json.loads((jazz / "model/config.json").read_text())
    assert config["versions"]["backend"] == "jax" and "jax" in config["versions"]
    metrics = json.loads((jazz / "metrics.json").read_text())
    assert np.isfinite(metrics["test"]["elbo_nats"]) and metrics["test"]["iwae_nats"] >= metrics["test"]["elbo_nats"] - 1e-3
    learned = metrics["test"]["learned_prior"]  # evaluate got the prior that JAX fitted
    assert all(np.isfinite(v) for v in learned.values())
    assert len(list((jazz / "generated").glob("*.wav"))) >= TINY["export"]["n_generated"]

    import keras

    from genrevae import backend
    from genrevae.model import load_model
    from genrevae.prior import load_prior

    assert backend.name() == "tensorflow"
    model = load_model(jazz / "model/model.keras")
    prior = load_prior(jazz / "prior/prior.keras")
    clips = np.load(jazz / "data/clips.npy")[:2]
    mean, _ = model.encode(clips)
    ours = backend.to_numpy(model.waveform(model.decode(mean, length=clips.shape[1])))
    # the same reconstruction computed by JAX in a child process from the same files
    script = (
        "import sys, numpy as np; from genrevae import backend; backend.configure_threads(1);"
        "from genrevae.model import load_model; m = load_model(sys.argv[1]); x = np.load(sys.argv[2])[:2];"
        "mean, _ = m.encode(x); np.save(sys.argv[3], backend.to_numpy(m.waveform(m.decode(mean, length=x.shape[1]))))"
    )
    out = tmp_path / "jax_reconstruction.npy"
    subprocess.run(
        [sys.executable, "-c", script, str(jazz / "model/model.keras"), str(jazz / "data/clips.npy"), str(out)],
        env=env, check=True, capture_output=True, timeout=600,
    )  # fmt: skip
    np.testing.assert_allclose(ours, np.load(out), atol=2e-5)
    frames = prior.sample(2, 40, seed=7)
    assert frames.shape == (2, 40, model.latent_shape[-1]) and np.isfinite(frames).all()
    assert isinstance(model, keras.Model)
