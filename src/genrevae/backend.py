"""The one module that knows which Keras backend runs: threads, seeds, compiling, gradients, logs.

Everything else in the package is written with ``keras.ops``, ``keras.layers`` and the helpers
here, so the same code trains and generates on TensorFlow (the default), JAX and PyTorch.  The
backend is chosen the Keras way, by ``KERAS_BACKEND`` (``tensorflow``, ``jax`` or ``torch``)
before Keras is first imported.

Why a seam and not ``keras.ops`` alone:

* **Compiling.**  TensorFlow compiles a Python function that reads variables into a graph that
  keeps reading them; ``jax.jit`` would bake the variables' values in as constants.  So
  :func:`compile_function` hands JAX the current values as arguments on every call and runs the
  function in a :class:`keras.StatelessScope`, the way ``keras.Model.stateless_call`` does.
  Each compiled function is built once per process (callers keep it), traced once per shape.
* **Gradients.**  ``tf.GradientTape``, ``jax.value_and_grad`` + ``optimizer.stateless_apply``
  and ``loss.backward()`` are three mechanics for one idea; :func:`make_train_step` hides them.
* **Seeds that are tensors.**  ``keras.random`` takes an int or a ``SeedGenerator``; a seed that
  changes every step inside a compiled function (``[seed, step]``) must be a tensor, which only the
  backends' own stateless generators take (:func:`normal`, :func:`uniform`).  A seed pair draws the
  same numbers every time on one backend; the three backends draw different numbers for it.
* **Threads** (:func:`configure_threads`) and TensorBoard logs (:func:`summary_writer`), which
  TensorFlow provides and the others do not.
"""

from __future__ import annotations

import importlib
import os
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "BACKENDS",
    "name",
    "configure_threads",
    "configured_threads",
    "jax_cache_dir",
    "seed_pair",
    "normal",
    "uniform",
    "compile_function",
    "make_train_step",
    "to_numpy",
    "summary_writer",
    "versions",
]

BACKENDS = ("tensorflow", "jax", "torch")
#: Seeds are reduced modulo this so that every backend's seed dtype holds them.
SEED_MODULUS = 2**31 - 1

_threads: int | None = None


def name() -> str:
    """The Keras backend this process runs: ``KERAS_BACKEND``, else Keras' own choice (tensorflow)."""
    import keras

    return keras.backend.backend()


def _requested_backend() -> str:
    """The backend Keras will choose, read without importing Keras (threads must be set first)."""
    import sys

    if "keras" in sys.modules:
        return name()
    chosen = os.environ.get("KERAS_BACKEND")
    if chosen:
        return chosen
    config = Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")) / "keras.json"
    try:
        import json

        return json.loads(config.read_text()).get("backend", "tensorflow")
    except (OSError, ValueError):
        return "tensorflow"


# ---------------------------------------------------------------------------
# Threads
# ---------------------------------------------------------------------------
def configured_threads() -> int | None:
    """The thread count :func:`configure_threads` set in this process, or None."""
    return _threads


def configure_threads(threads: int) -> None:
    """Run the backend's CPU kernels on ``threads`` threads.  Call before the backend's first op.

    * TensorFlow: intra-op and inter-op pools of ``threads`` each (TensorFlow ignores
      ``OMP_NUM_THREADS``, which is all Snakemake's ``threads`` sets).
    * JAX: XLA's CPU client sizes its pool from ``XLA_FLAGS`` when it starts; one thread turns
      Eigen's multi-threading off.  Must run before ``jax`` is imported.  It also turns on JAX's
      persistent compilation cache (:func:`jax_cache_dir`): every job of the workflow compiles
      the same model, and XLA takes 10-20 s for a training step that TensorFlow traces in 5.
    * PyTorch: ``torch.set_num_threads`` and ``set_num_interop_threads``.

    Calling it again with the same number is a no-op; a different number once the backend has
    started raises ``RuntimeError``.  The thread count is part of reproducibility: CPU results
    are bit-identical for the same backend and the same count.
    """
    global _threads
    threads = int(threads)
    if threads < 1:
        raise ValueError(f"threads must be >= 1, got {threads}")
    if _threads == threads:
        return
    backend = _requested_backend()
    if backend == "tensorflow":
        import tensorflow as tf

        intra = tf.config.threading.get_intra_op_parallelism_threads()
        inter = tf.config.threading.get_inter_op_parallelism_threads()
        if not (intra == threads and inter == threads):
            try:
                tf.config.threading.set_intra_op_parallelism_threads(threads)
                tf.config.threading.set_inter_op_parallelism_threads(threads)
            except RuntimeError as err:
                raise RuntimeError(
                    f"cannot run TensorFlow with {threads} thread(s): it is already initialised with "
                    f"intra_op={intra or 'default'}, inter_op={inter or 'default'} threads. "
                    "configure_threads() must be called before the first TensorFlow operation, "
                    "with a single value per process."
                ) from err
    elif backend == "jax":
        import sys

        flags = os.environ.get("XLA_FLAGS", "")
        wanted = f"--xla_cpu_multi_thread_eigen={'true' if threads > 1 else 'false'} intra_op_parallelism_threads={threads}"
        current = re.search(r"intra_op_parallelism_threads=(\d+)", flags)
        if "jax" in sys.modules and _jax_started():
            if current is None or int(current.group(1)) != threads:
                raise RuntimeError(
                    f"cannot run JAX with {threads} thread(s): its CPU client has already started. "
                    "configure_threads() must be called before the first JAX operation, with a single value per process."
                )
        else:
            flags = re.sub(r"\s*--xla_cpu_multi_thread_eigen=\S+|\s*intra_op_parallelism_threads=\S+", "", flags)
            os.environ["XLA_FLAGS"] = f"{flags} {wanted}".strip()
            os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", str(jax_cache_dir()))
            # every program, not only those over 1 s: Keras' eager ops are many small programs
            # (measured: the first training step of a fresh process 18.4 s -> 7.5 s with the cache)
            os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
            os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES", "0")
    elif backend == "torch":
        import torch

        torch.set_num_threads(threads)
        try:
            torch.set_num_interop_threads(threads)
        except RuntimeError:
            if torch.get_num_interop_threads() != threads:
                raise RuntimeError(
                    f"cannot run PyTorch with {threads} inter-op thread(s): it has already started; "
                    "configure_threads() must be called before the first PyTorch operation."
                ) from None
    else:
        raise RuntimeError(f"KERAS_BACKEND={backend!r} is not supported; choose one of {', '.join(BACKENDS)}")
    _threads = threads


def jax_cache_dir() -> Path:
    """Where JAX keeps compiled programs between processes: ``JAX_COMPILATION_CACHE_DIR`` if set,
    else ``$XDG_CACHE_HOME/genrevae/jax`` (``~/.cache/genrevae/jax``).  Entries are keyed by the
    program, XLA's version and the device, so a stale entry is never used; delete the folder freely."""
    if os.environ.get("JAX_COMPILATION_CACHE_DIR"):
        return Path(os.environ["JAX_COMPILATION_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "genrevae" / "jax"


def _jax_started() -> bool:
    """Whether JAX's CPU client exists (it starts at the first op, not at import)."""
    try:
        from jax._src import xla_bridge

        return bool(xla_bridge._backends)
    except (ImportError, AttributeError):
        return True


# ---------------------------------------------------------------------------
# Seeds and stateless random numbers
# ---------------------------------------------------------------------------
def seed_pair(seed: Any):
    """A seed as the shape-(2,) integer tensor the backend's stateless generators take.

    Accepts an int (``[seed, 0]``), a pair of ints (``[seed, step]``) or a shape-(2,) integer
    tensor; ints are taken modulo :data:`SEED_MODULUS` so every backend's dtype holds them.
    """
    import keras

    dtype = "uint32" if name() == "jax" else "int32"
    if isinstance(seed, (int, np.integer)):
        return keras.ops.convert_to_tensor([int(seed) % SEED_MODULUS, 0], dtype=dtype)
    if isinstance(seed, (tuple, list)) and all(isinstance(s, (int, np.integer)) for s in seed):
        return keras.ops.convert_to_tensor([int(s) % SEED_MODULUS for s in seed], dtype=dtype)
    return keras.ops.reshape(keras.ops.cast(seed, dtype), (2,))


def normal(shape: Sequence[Any], seed: Any, dtype: str = "float32"):
    """Standard normal draws of ``shape``, a pure function of ``seed`` (see :func:`seed_pair`)."""
    return _stateless_draw("normal", shape, seed, dtype)


def uniform(shape: Sequence[Any], seed: Any, dtype: str = "float32"):
    """Uniform draws in ``[0, 1)`` of ``shape``, a pure function of ``seed`` (see :func:`seed_pair`)."""
    return _stateless_draw("uniform", shape, seed, dtype)


def _stateless_draw(kind: str, shape: Sequence[Any], seed: Any, dtype: str):
    seed = seed_pair(seed)
    backend = name()
    if backend == "tensorflow":
        import tensorflow as tf

        draw = tf.random.stateless_normal if kind == "normal" else tf.random.stateless_uniform
        return draw(shape, seed=seed, dtype=dtype)
    if backend == "jax":
        import jax

        draw = jax.random.normal if kind == "normal" else jax.random.uniform
        return draw(seed, shape=tuple(shape), dtype=dtype)
    return _torch_generator_draw(kind, shape, seed, dtype)


def _torch_generator_draw(kind: str, shape, seed, dtype: str):
    import keras
    import torch

    words = [int(v) for v in keras.ops.convert_to_numpy(seed)]
    generator = torch.Generator(device=keras.ops.zeros(()).device)
    generator.manual_seed(words[0] * (2**31) + words[1])
    shape = tuple(int(v) for v in shape)
    torch_dtype = getattr(torch, dtype)
    if kind == "normal":
        return torch.randn(shape, generator=generator, dtype=torch_dtype, device=generator.device)
    return torch.rand(shape, generator=generator, dtype=torch_dtype, device=generator.device)


# ---------------------------------------------------------------------------
# Compiling and gradients
# ---------------------------------------------------------------------------
def _variables_of(layers: Sequence[Any]) -> list:
    """All variables of the given layers and models, each once, in a stable order."""
    seen, out = set(), []
    for layer in layers:
        for v in layer.variables:
            if id(v) not in seen:
                seen.add(id(v))
                out.append(v)
    return out


def compile_function(
    fn: Callable, *layers: Any, jit_compile: bool = True, signature: Sequence[tuple[tuple[int | None, ...], str]] | None = None
) -> Callable:
    """Compile ``fn`` once for this backend; it may read the variables of ``layers`` (models,
    layers) and always sees their current values.  Variables it reads must belong to ``layers``.

    TensorFlow: a ``tf.function`` (XLA when ``jit_compile``).  Given ``signature`` (a
    ``(shape, dtype)`` per argument, None for a free axis) it is traced once for all shapes;
    without, it traces the first shapes exactly and relaxes them at the second, and the two traces
    may differ in the last bits.  JAX: ``jax.jit`` of ``fn`` run in a ``StatelessScope`` over the
    variables' values, which are passed in on every call; it compiles once per shape whatever
    ``signature`` says.  PyTorch: ``fn`` eagerly, without gradients.  Arguments must be tensors
    or arrays (Python numbers would be baked into the trace).
    """
    backend = name()
    if backend == "tensorflow":
        import tensorflow as tf

        specs = None if signature is None else [tf.TensorSpec(shape, dtype) for shape, dtype in signature]
        return tf.function(fn, autograph=False, reduce_retracing=True, jit_compile=bool(jit_compile) or None, input_signature=specs)
    if backend == "jax":
        import jax
        import keras

        variables = _variables_of(layers)

        def pure(values, *args):
            with keras.StatelessScope(state_mapping=list(zip(variables, values))):
                return fn(*args)

        jitted = jax.jit(pure)

        def call(*args):
            return jitted([v.value for v in variables], *args)

        return call
    import torch

    def eager(*args):
        with torch.no_grad():
            return fn(*_as_tensors(args))

    return eager


def make_train_step(
    loss_fn: Callable,
    model: Any,
    optimizer: Any,
    jit_compile: bool = True,
    *,
    trainable: Sequence[Any] | None = None,
    reads: Sequence[Any] = (),
    has_aux: bool = False,
) -> Callable:
    """One optimizer update of ``model``'s trainable variables on ``loss_fn(*args)`` (a scalar).

    Returns ``step(*args) -> loss``, compiled once; non-trainable variables the loss updates
    (batch-norm statistics) are written back, as are the optimizer's slots.  ``loss_fn`` may read
    only the variables of ``model`` and of the layers in ``reads``.  Build the optimizer
    (``optimizer.build(trainable)``) before calling.

    ``trainable``: the variables updated, in the optimizer's order (default: all of ``model``'s
    trainable variables); every other variable of ``model`` and ``reads`` is read as it is, and
    gets no gradient (a frozen encoder, a discriminator while the generator trains).
    ``has_aux``: ``loss_fn`` returns ``(loss, aux)`` (aux a tensor or a list of tensors computed
    along, e.g. the generator's output) and ``step`` returns ``(loss, aux)``.
    """
    backend = name()
    trainable = list(model.trainable_variables if trainable is None else trainable)
    ids = {id(v) for v in trainable}
    others = [v for v in _variables_of([model, *reads]) if id(v) not in ids]

    def split(result):
        return result if has_aux else (result, None)

    if backend == "tensorflow":
        import tensorflow as tf

        def tf_step(*args):
            with tf.GradientTape() as tape:
                loss, aux = split(loss_fn(*args))
            grads = tape.gradient(loss, trainable)
            optimizer.apply(grads, trainable)
            return (loss, aux) if has_aux else loss

        return tf.function(tf_step, autograph=False, reduce_retracing=True, jit_compile=bool(jit_compile) or None)
    if backend == "jax":
        import jax
        import keras

        slots = list(optimizer.variables)

        def pure(train_values, other_values, slot_values, *args):
            def loss_and_state(values):
                mapping = list(zip(trainable, values)) + list(zip(others, other_values))
                with keras.StatelessScope(state_mapping=mapping) as scope:
                    loss, aux = split(loss_fn(*args))
                updated = [scope.get_current_value(v) for v in others]
                return loss, ([old if new is None else new for old, new in zip(other_values, updated)], aux)

            (loss, (other_values, aux)), grads = jax.value_and_grad(loss_and_state, has_aux=True)(train_values)
            train_values, slot_values = optimizer.stateless_apply(slot_values, grads, train_values)
            return loss, aux, train_values, other_values, slot_values

        jitted = jax.jit(pure, donate_argnums=(0, 1, 2))

        def jax_step(*args):
            loss, aux, train_values, other_values, slot_values = jitted(
                [v.value for v in trainable], [v.value for v in others], [v.value for v in slots], *args
            )
            for group, values in ((trainable, train_values), (others, other_values), (slots, slot_values)):
                for v, value in zip(group, values):
                    v.assign(value)
            return (loss, aux) if has_aux else loss

        return jax_step

    def torch_step(*args):
        loss, aux = split(loss_fn(*_as_tensors(args)))
        for v in trainable + others:
            v.value.grad = None
        loss.backward()
        optimizer.apply([v.value.grad for v in trainable], trainable)
        for v in others:
            v.value.grad = None
        if has_aux:
            aux = [a.detach() for a in aux] if isinstance(aux, (list, tuple)) else aux.detach()
            return loss.detach(), aux
        return loss.detach()

    return torch_step


def _as_tensors(args: Sequence[Any]) -> list:
    """numpy arguments as tensors: PyTorch runs eagerly and will not mix the two in arithmetic."""
    import keras

    return [keras.ops.convert_to_tensor(a) if isinstance(a, (np.ndarray, np.generic)) else a for a in args]


def to_numpy(x: Any) -> np.ndarray:
    """A tensor of any backend (or an array) as a numpy array."""
    import keras

    if hasattr(x, "detach"):  # PyTorch: an eager result of layers with weights carries a graph
        x = x.detach()
    return np.asarray(keras.ops.convert_to_numpy(x))


# ---------------------------------------------------------------------------
# TensorBoard and versions
# ---------------------------------------------------------------------------
class _SummaryWriter:
    """Scalars and audio into a TensorBoard log, written with TensorFlow's summary ops (the only
    writer of TensorBoard's audio format we have); used on any backend when TensorFlow is installed."""

    def __init__(self, logdir: Path):
        import tensorflow as tf

        self._tf = tf
        with tf.device("/cpu:0"):
            self._writer = tf.summary.create_file_writer(str(logdir))

    def scalar(self, tag: str, value: float, step: int) -> None:
        with self._tf.device("/cpu:0"), self._writer.as_default(step=int(step)):
            self._tf.summary.scalar(tag, float(value))

    def audio(self, tag: str, waves: np.ndarray, sample_rate: int, step: int) -> None:
        waves = np.asarray(waves, dtype=np.float32)
        with self._tf.device("/cpu:0"), self._writer.as_default(step=int(step)):
            self._tf.summary.audio(tag, waves[:, :, None], int(sample_rate), max_outputs=len(waves))

    def flush(self) -> None:
        self._writer.flush()

    def close(self) -> None:
        self._writer.close()


def summary_writer(logdir: Path) -> _SummaryWriter | None:
    """A TensorBoard writer for ``logdir``, or None where TensorFlow is not installed (a JAX or
    PyTorch machine without it: training then keeps history.csv only)."""
    try:
        importlib.import_module("tensorflow")
    except ImportError:
        return None
    return _SummaryWriter(Path(logdir))


def versions() -> dict[str, str]:
    """Versions that a trained model's numbers depend on: the backend's, Keras', numpy's."""
    import keras

    backend = name()
    module = importlib.import_module(backend)
    return {"backend": backend, backend: getattr(module, "__version__", "?"), "keras": keras.__version__, "numpy": np.__version__}
