"""genrevae.backend: the seam behaves the same on every backend (this file also runs under JAX,
tests/test_backends.py)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import keras
import numpy as np
import pytest
from keras import ops

from conftest import backend_threads
from genrevae import backend

THREADS = backend_threads()


def test_configured_threads_and_bad_counts() -> None:
    assert backend.configured_threads() == THREADS
    backend.configure_threads(THREADS)  # the same count again is a no-op
    with pytest.raises(ValueError, match="threads must be >= 1"):
        backend.configure_threads(0)


@pytest.mark.parametrize("seed", [7, (7, 0), [7, 0]])
def test_seed_pair_forms_agree(seed) -> None:
    pair = backend.to_numpy(backend.seed_pair(seed))
    assert pair.shape == (2,) and pair.tolist() == [7, 0]
    again = backend.to_numpy(backend.seed_pair(backend.seed_pair(seed)))
    assert again.tolist() == [7, 0]


def test_seeds_are_reduced_into_32_bits() -> None:
    big = 2**40 + 5
    assert backend.to_numpy(backend.seed_pair(big)).tolist() == [big % backend.SEED_MODULUS, 0]


def test_stateless_draws_are_pure_functions_of_the_seed() -> None:
    a = backend.to_numpy(backend.normal((4, 3), (1, 2)))
    b = backend.to_numpy(backend.normal((4, 3), backend.seed_pair((1, 2))))
    c = backend.to_numpy(backend.normal((4, 3), (1, 3)))
    assert a.shape == (4, 3) and a.dtype == np.float32
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)
    u = backend.to_numpy(backend.uniform((10_000,), (5, 0)))
    assert u.min() >= 0.0 and u.max() < 1.0 and abs(u.mean() - 0.5) < 0.02
    n = backend.to_numpy(backend.normal((10_000,), (5, 0)))
    assert abs(n.mean()) < 0.05 and abs(n.std() - 1.0) < 0.05


def test_compiled_functions_see_the_variables_current_values() -> None:
    """The JAX trap: jax.jit would bake a variable's value in at the first trace."""
    layer = keras.layers.Dense(1, use_bias=False, kernel_initializer="ones")
    layer.build((None, 2))
    apply = backend.compile_function(lambda x: layer(x), layer)
    x = np.ones((1, 2), np.float32)
    assert float(backend.to_numpy(apply(x))[0, 0]) == 2.0
    layer.kernel.assign(np.full((2, 1), 3.0, np.float32))
    assert float(backend.to_numpy(apply(x))[0, 0]) == 6.0


def test_train_step_descends_and_updates_state() -> None:
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(8), keras.layers.BatchNormalization(), keras.layers.Dense(1)])
    optimizer = keras.optimizers.Adam(1e-2)
    optimizer.build(model.trainable_variables)
    x = np.random.default_rng(0).normal(size=(64, 3)).astype(np.float32)
    target = ops.convert_to_tensor(x.sum(axis=1, keepdims=True))

    def loss(x, noise_seed):
        noisy = x + 0.01 * backend.normal(ops.shape(x), noise_seed)
        return ops.mean(ops.square(model(noisy, training=True) - target))

    step = backend.make_train_step(loss, model, optimizer)
    moving_mean = model.layers[1].moving_mean
    before = backend.to_numpy(moving_mean).copy()
    losses = [float(backend.to_numpy(step(x, backend.seed_pair((0, t))))) for t in range(150)]
    assert losses[-1] < 0.1 * losses[0]
    assert int(backend.to_numpy(optimizer.iterations)) == 150
    assert not np.allclose(backend.to_numpy(moving_mean), before)  # batch-norm statistics written back


def test_train_steps_are_deterministic() -> None:
    def run() -> np.ndarray:
        keras.utils.set_random_seed(1)
        model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(4), keras.layers.Dense(1)])
        optimizer = keras.optimizers.Adam(1e-2)
        optimizer.build(model.trainable_variables)
        step = backend.make_train_step(lambda x, s: ops.mean(ops.square(model(x + backend.normal(ops.shape(x), s)))), model, optimizer)
        x = np.ones((8, 2), np.float32)
        for t in range(5):
            step(x, backend.seed_pair((3, t)))
        return np.concatenate([backend.to_numpy(v).ravel() for v in model.weights])

    np.testing.assert_array_equal(run(), run())


def test_summary_writer_and_versions(tmp_path: Path) -> None:
    versions = backend.versions()
    assert versions["backend"] == backend.name() and backend.name() in versions and "keras" in versions
    writer = backend.summary_writer(tmp_path / "tb")
    if importlib.util.find_spec("tensorflow") is None:
        assert writer is None
        return
    writer.scalar("loss", 1.5, step=1)
    writer.audio("clips", np.zeros((2, 300), np.float32), 3000, step=1)
    writer.close()
    assert list((tmp_path / "tb").glob("events.out.tfevents.*"))


def test_jax_gets_a_persistent_compilation_cache(tmp_path: Path) -> None:
    """Under JAX every job compiles the same programs: configure_threads turns the cache on
    (a fresh process, since XLA_FLAGS and the cache are read when jax starts)."""
    import os
    import subprocess
    import sys

    if importlib.util.find_spec("jax") is None:
        pytest.skip("jax is not installed")
    script = (
        "import os; from genrevae import backend; backend.configure_threads(1); import jax, jax.numpy as jnp;"
        "jax.jit(lambda x: x * 2)(jnp.ones(3)).block_until_ready();"
        "print(os.environ['XLA_FLAGS']); print(jax.config.jax_compilation_cache_dir)"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("JAX_")}
    env.update(KERAS_BACKEND="jax", XDG_CACHE_HOME=str(tmp_path))
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300, check=True).stdout
    flags, cache = out.strip().splitlines()[-2:]
    assert "intra_op_parallelism_threads=1" in flags and "--xla_cpu_multi_thread_eigen=false" in flags
    assert Path(cache) == tmp_path / "genrevae" / "jax" and any(Path(cache).iterdir())
