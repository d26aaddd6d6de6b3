"""Inference with a trained genre model: prior draws, decoding, posterior means.

Every stage that turns a model into audio (export, quality, figures, fidelity) draws its
clips through :func:`generate_clips`, so "generated clip ``i``" means the same waveform
everywhere: the latent of clip ``i`` comes from the seed ``seed + i``, whatever the number
of clips, and

* ``prior="learned"``: a latent sequence sampled from the genre's learned prior
  (:class:`genrevae.prior.LatentPrior`, ancestral sampling with ``temperature``);
* ``prior="gaussian"``: ``z ~ N(0, I)``, ``backend.normal((1, frames, C), seed + i)`` --
  exactly what ``model.sample(1, seed + i)`` decodes (the draws differ between Keras
  backends, as every stateless generator's do; on one backend they are fixed).

The learned prior gives the latent sequence dynamics (phrases, rhythm, loudness contours);
N(0, I) draws every frame independently and is kept beside it as the baseline.

Latent paths (:func:`slerp`, :func:`interpolation_path`, :func:`slerp_frames`) and the
chunked encoder and decoder for audio of any length (:func:`encode_blocks`,
:func:`decode_blocks`: bounded memory, and the same samples as one piece up to float
rounding, because every chunk sees ``model.context_frames()`` frames of its neighbours) are
here too: everything that turns latents into audio and back.
"""

from __future__ import annotations

import math
import weakref
from typing import Any, Callable, Iterable, Iterator, Sequence

import numpy as np

from genrevae import backend

__all__ = [
    "PRIORS",
    "gaussian_latents",
    "learned_latents",
    "decode_latents",
    "posteriors",
    "posterior_means",
    "generate_latents",
    "generate_clips",
    "INTERPOLATIONS",
    "slerp",
    "slerp_frames",
    "interpolation_path",
    "CHUNK_FRAMES",
    "decode_blocks",
    "encode_blocks",
]

PRIORS = ("learned", "gaussian")
INTERPOLATIONS = ("slerp", "linear")
#: Latent frames per chunk when long audio is encoded or decoded (1,024 frames = 43.7 s at 3 kHz
#: with the default hop of 128): what bounds memory, whatever the duration.
CHUNK_FRAMES = 1024


def gaussian_latents(shape: Sequence[int], seeds: Sequence[int]) -> np.ndarray:
    """``z ~ N(0, I)`` of shape ``(len(seeds), *shape)``, one stateless draw per seed.

    Row ``i`` equals the latent ``model.sample(1, seeds[i])`` decodes when ``shape`` is the
    model's ``latent_shape``.
    """
    full = (1,) + tuple(int(v) for v in shape)
    rows = [backend.to_numpy(backend.normal(full, backend.seed_pair(int(s)))).astype(np.float32) for s in seeds]
    if not rows:
        return np.zeros((0,) + full[1:], dtype=np.float32)
    return np.concatenate(rows, axis=0)


def learned_latents(prior, frames: int, seeds: Sequence[int], temperature: float = 1.0) -> np.ndarray:
    """Latent sequences ``(len(seeds), frames, C)`` from the learned prior, one seed per row
    (rows are sampled one by one so that row ``i`` does not depend on the others)."""
    rows = [prior.sample(1, int(frames), int(s), float(temperature)) for s in seeds]
    if not rows:
        return np.zeros((0, int(frames), int(prior.channels)), dtype=np.float32)
    return np.concatenate(rows, axis=0).astype(np.float32)


#: One compiled decoder and encoder per loaded model (see :func:`_compiled`); weak keys, so a
#: model's compiled functions go when the model does.
_COMPILED: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()
#: A slice end past any decoder output: "keep the decoder's own length".
_WHOLE = np.iinfo(np.int32).max


def _compiled(model: Any) -> tuple[Callable, Callable]:
    """``(decode, encode)`` of ``model``, compiled once per model (:func:`genrevae.backend.compile_function`).

    ``decode(z)`` gives the waveform of the decoder's *whole* output and the callers cut it to
    the length they want in numpy: a length passed into the compiled function would have to be a
    tensor, and JAX cannot slice by a traced value (its shapes are static), while a Python int
    would be baked into the trace and force one compilation per length.  The waveform is
    elementwise, so cutting after it is the same as ``decode(z, length=...)`` cutting before.

    TensorFlow traces each once, with free batch and frame axes (tracing a whole-clip model costs
    ~2 s), into a graph without XLA (``jit_compile=False``): such graphs give exactly the numbers
    of eager calls (checked bit for bit in the tests) in about half the time on a CPU, while XLA
    would compile anew for every input shape.  JAX compiles (XLA) once per input shape.
    """
    fns = _COMPILED.get(model)
    if fns is None:

        def decode(z: Any) -> Any:
            return model.waveform(model.decode(z, training=False, length=_WHOLE))

        def encode(x: Any) -> tuple:
            return model.encode(x, training=False)

        latent = tuple(model.latent_shape)
        z_spec = ((None,) + (None,) * (len(latent) - 1) + latent[-1:], "float32")
        fns = _COMPILED[model] = (
            backend.compile_function(decode, model, jit_compile=False, signature=[z_spec]),
            backend.compile_function(encode, model, jit_compile=False, signature=[((None, None), "float32")]),
        )
    return fns


def _decode(model: Any, z: np.ndarray, length: int) -> np.ndarray:
    """Waveforms float32 ``(batch, <= length)`` of latents ``z (batch, ...)`` through the compiled decoder."""
    import keras

    out = _compiled(model)[0](keras.ops.convert_to_tensor(np.ascontiguousarray(z, dtype=np.float32)))
    return backend.to_numpy(out).astype(np.float32, copy=False)[:, : int(length)]


def _encode(model: Any, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Posterior mean and log-variance, float32 ``(batch, ...)``, of waveforms ``x (batch, samples)``."""
    import keras

    mean, logvar = _compiled(model)[1](keras.ops.convert_to_tensor(np.ascontiguousarray(x, dtype=np.float32)))
    return backend.to_numpy(mean).astype(np.float32, copy=False), backend.to_numpy(logvar).astype(np.float32, copy=False)


def decode_latents(model, z: np.ndarray, batch_size: int = 4, length: int | None = None) -> np.ndarray:
    """Decode latents ``(n, *latent_shape)`` to waveforms float32 ``(n, length)`` in [-1, 1]
    (``length`` defaults to the model's clip length for the clip's frame count, else to the
    decoder's own length)."""
    z = np.asarray(z, dtype=np.float32)
    if length is None:
        length = model.n_samples if tuple(z.shape[1:]) == tuple(model.latent_shape) else _WHOLE
    chunks = [_decode(model, z[start : start + int(batch_size)], length) for start in range(0, len(z), int(batch_size))]
    if not chunks:
        return np.zeros((0, int(model.n_samples if length == _WHOLE else length)), dtype=np.float32)
    return np.concatenate(chunks, axis=0)


def posteriors(model, clips: np.ndarray, batch_size: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """Posterior means and log-variances of ``q(z|x)`` for waveforms ``(n, n_samples)``: two float32
    arrays ``(n, *latent_shape)``, ``batch_size`` clips through the encoder at a time."""
    means, logvars = [], []
    for start in range(0, len(clips), int(batch_size)):
        mean, logvar = _encode(model, clips[start : start + int(batch_size)])
        means.append(mean)
        logvars.append(logvar)
    if not means:
        empty = np.zeros((0,) + tuple(model.latent_shape), dtype=np.float32)
        return empty, empty.copy()
    return np.concatenate(means, axis=0), np.concatenate(logvars, axis=0)


def posterior_means(model, clips: np.ndarray, batch_size: int = 4) -> np.ndarray:
    """Posterior means ``E_q[z|x]`` of waveforms ``(n, n_samples)``: float32 ``(n, *latent_shape)``."""
    return posteriors(model, clips, batch_size)[0]


def generate_latents(model, prior, n: int, seed: int, prior_kind: str = "learned", temperature: float = 1.0, n_samples: int | None = None) -> np.ndarray:
    """The latents of generated clips ``seed .. seed + n - 1`` (see the module docstring)."""
    if prior_kind not in PRIORS:
        raise ValueError(f"prior must be one of {PRIORS}, got {prior_kind!r}")
    length = int(n_samples or model.n_samples)
    shape = model.latent_shape_for(length)
    seeds = [int(seed) + i for i in range(int(n))]
    if prior_kind == "gaussian":
        return gaussian_latents(shape, seeds)
    if prior is None:
        raise ValueError("the learned prior was asked for but none was given (fit it first: the prior stage)")
    if len(shape) == 1:  # a latent vector (report preset) is a one-frame sequence to the prior
        return learned_latents(prior, 1, seeds, temperature).reshape((len(seeds),) + shape)
    return learned_latents(prior, shape[0], seeds, temperature)


def generate_clips(
    model,
    prior,
    n: int,
    seed: int,
    prior_kind: str = "learned",
    temperature: float = 1.0,
    n_samples: int | None = None,
    batch_size: int = 4,
) -> np.ndarray:
    """``n`` generated clips float32 ``(n, n_samples)``, clip ``i`` from the seed ``seed + i``."""
    z = generate_latents(model, prior, n, seed, prior_kind, temperature, n_samples)
    return decode_latents(model, z, batch_size, length=int(n_samples or model.n_samples))


# ---------------------------------------------------------------------------
# Latent paths
# ---------------------------------------------------------------------------
def slerp(a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
    """Spherical interpolation between latents ``a`` and ``b`` (any equal shape) at ``t`` in [0, 1].

    Treats each latent as one flat vector: ``sin((1-t) w)/sin(w) a + sin(t w)/sin(w) b``
    with ``w`` the angle between them (White 2016, "Sampling generative networks").  The
    norm moves smoothly between ``|a|`` and ``|b|`` instead of dipping towards the origin,
    where Gaussian latents hardly ever are.  Falls back to linear interpolation when the
    vectors are (anti)parallel or zero.
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    if na == 0 or nb == 0:
        return (1 - t) * a + t * b
    cos = float(np.clip(np.sum(a * b) / (na * nb), -1.0, 1.0))
    omega = math.acos(cos)
    if math.sin(omega) < 1e-6:
        return (1 - t) * a + t * b
    return (math.sin((1 - t) * omega) * a + math.sin(t * omega) * b) / math.sin(omega)


def slerp_frames(a: np.ndarray, b: np.ndarray, t: np.ndarray | float) -> np.ndarray:
    """:func:`slerp` of every latent frame on its own: ``a``, ``b`` ``(frames, C)``, ``t`` one
    position per frame (or one for all); float64 ``(frames, C)``.  With ``t`` rising from 0 to 1
    along the frames this is a morph: the sequence starts as ``a`` and ends as ``b``."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"latent sequences must have the same shape, got {a.shape} and {b.shape}")
    t = np.broadcast_to(np.asarray(t, dtype=np.float64), a.shape[:-1])[..., None]
    na = np.linalg.norm(a, axis=-1, keepdims=True)
    nb = np.linalg.norm(b, axis=-1, keepdims=True)
    cos = np.clip(np.sum(a * b, axis=-1, keepdims=True) / np.maximum(na * nb, 1e-300), -1.0, 1.0)
    omega = np.arccos(cos)
    sin = np.sin(omega)
    linear = (1 - t) * a + t * b
    spherical = (np.sin((1 - t) * omega) * a + np.sin(t * omega) * b) / np.where(sin < 1e-6, 1.0, sin)
    return np.where((sin < 1e-6) | (na == 0) | (nb == 0), linear, spherical)


def interpolation_path(a: np.ndarray, b: np.ndarray, steps: int, method: str = "slerp") -> np.ndarray:
    """``steps`` latents from ``a`` to ``b`` inclusive (``t = 0, 1/(steps-1), ..., 1``), float32."""
    if steps < 2:
        raise ValueError("an interpolation needs at least 2 steps")
    if method not in INTERPOLATIONS:
        raise ValueError(f"method must be one of {INTERPOLATIONS}, got {method!r}")
    ts = np.linspace(0.0, 1.0, int(steps))
    if method == "linear":
        path = [(1 - t) * np.asarray(a, np.float64) + t * np.asarray(b, np.float64) for t in ts]
    else:
        path = [slerp(a, b, float(t)) for t in ts]
    return np.stack(path).astype(np.float32)


# ---------------------------------------------------------------------------
# Audio of any length, in chunks
# ---------------------------------------------------------------------------
def _require_chunkable(model, what: str) -> int:
    context = model.context_frames()
    if context is None:
        raise ValueError(
            f"the {model.preset} preset takes clips of exactly {model.n_samples} samples, so it cannot {what} "
            "audio of other lengths; train a fully convolutional model (model.preset: conv) for that"
        )
    return int(context)


def decode_blocks(model, z: np.ndarray, length: int | None = None, chunk_frames: int = CHUNK_FRAMES) -> Iterator[np.ndarray]:
    """Decode one latent sequence ``z (frames, C)`` to a waveform, ``chunk_frames`` frames at a time.

    Yields consecutive float32 pieces in [-1, 1] whose concatenation is ``length`` samples
    (default ``frames * hop``): the waveform ``model.decode(z[None], length=length)`` gives, up
    to float rounding, because each chunk is decoded with ``model.context_frames()`` frames of
    its neighbours on either side and only its own part is kept.  Memory is bounded by the
    chunk size, not by the duration.  A fixed-length preset yields its one clip.

    Every chunk is decoded in a window of the same ``chunk_frames + 2 * context`` frames (a
    chunk at either end of the sequence takes more frames of its one neighbour instead; more
    context than needed changes nothing), so the compiled decoder sees one shape: JAX compiles
    once per shape, and chunks of growing windows near the ends cost one compilation each.
    """
    z = np.asarray(z, dtype=np.float32)
    context = model.context_frames()
    if context is None:
        yield decode_latents(model, z[None], 1, length=length)[0]
        return
    frames, hop = int(z.shape[0]), int(model.hop)
    total = frames * hop if length is None else int(length)
    if int(chunk_frames) < 1:
        raise ValueError(f"chunk_frames must be >= 1, got {chunk_frames}")
    window = min(frames, int(chunk_frames) + 2 * context)
    for start in range(0, frames, int(chunk_frames)):
        stop = min(frames, start + int(chunk_frames))
        lo = min(max(0, start - context), frames - window)
        hi = lo + window
        piece = _decode(model, z[None, lo:hi], (hi - lo) * hop)[0, (start - lo) * hop : (stop - lo) * hop]
        piece = piece[: max(0, total - start * hop)]
        if piece.size:
            yield piece


def encode_blocks(model, blocks: Iterable[np.ndarray], chunk_frames: int = CHUNK_FRAMES) -> tuple[np.ndarray, np.ndarray]:
    """Posterior mean and log-variance ``(frames, C)`` of a waveform given as consecutive blocks.

    The blocks (1-D float arrays at the model's rate, any sizes) are consumed as they come and
    encoded ``chunk_frames`` latent frames at a time, each chunk with ``model.context_frames()``
    frames of signal on either side, so the result equals ``model.encode`` of the whole signal
    up to float rounding while memory stays bounded by the chunk size (a file hours long is
    never held at once).  ``frames = ceil(samples / hop)``.
    """
    context = _require_chunkable(model, "encode")
    hop, chunk = int(model.hop), int(chunk_frames)
    if chunk < 1:
        raise ValueError(f"chunk_frames must be >= 1, got {chunk_frames}")
    buffer = np.zeros(0, dtype=np.float32)
    buffer_start = 0  # absolute index of buffer[0]
    total = 0  # samples seen
    next_frame = 0
    means: list[np.ndarray] = []
    logvars: list[np.ndarray] = []

    def window_end(start: int) -> int:
        """End sample of the window a chunk from frame ``start`` is encoded in: ``chunk + 2 context``
        frames from its left context (the first chunks take more signal on the right instead), so
        the compiled encoder sees one shape for all chunks but those at the end of the signal."""
        return (max(0, start - context) + chunk + 2 * context) * hop

    def encode_chunk(start: int, stop: int, end_sample: int) -> None:
        lo = max(0, start - context)
        segment = buffer[lo * hop - buffer_start : end_sample - buffer_start]
        mean, logvar = _encode(model, segment[None])
        means.append(mean[0, start - lo : stop - lo])
        logvars.append(logvar[0, start - lo : stop - lo])

    for block in blocks:
        block = np.asarray(block, dtype=np.float32).reshape(-1)
        buffer = np.concatenate([buffer, block])
        total += block.size
        while window_end(next_frame) <= total:
            encode_chunk(next_frame, next_frame + chunk, window_end(next_frame))
            next_frame += chunk
            keep_from = max(0, next_frame - context) * hop
            buffer, buffer_start = buffer[keep_from - buffer_start :], keep_from
    frames = -(-total // hop)
    while next_frame < frames:
        stop = min(frames, next_frame + chunk)
        encode_chunk(next_frame, stop, min(total, window_end(next_frame)))
        next_frame = stop
    if not means:
        empty = np.zeros((0, int(model.latent_shape[-1])), dtype=np.float32)
        return empty, empty.copy()
    return np.concatenate(means), np.concatenate(logvars)
