"""musicnn (Pons and Serra 2019, "musicnn: pre-trained convolutional neural networks for music
audio tagging") as a Keras 3 model, for inference with the trained weights of :mod:`.weights`.

The layers are those of ``musicnn/models.py`` (``build_musicnn``), in Keras 3 layers and
``keras.ops`` only, so the port runs on any Keras backend:

front end (musically motivated convolutions over a ``(frames, 96)`` log-mel patch)
    batch norm of the input; *timbral* filters that span 7 frames and 38 or 67 mel bands
    (40 % / 70 % of the range), 204 each; *temporal* filters that span 128, 64 or 32 frames
    and one band, 51 each; every map ReLU, batch-normalised and max-pooled over all
    frequencies: 561 features per frame.
mid end (dense, residual temporal convolutions)
    three convolutions of 7 frames x all features, 64 filters, ReLU + batch norm, the second
    and third with a residual connection; the front end's and all three outputs are
    concatenated: 753 features per frame.
back end (temporal pooling)
    max and mean over frames (interleaved per feature, as TF1's ``flatten`` of
    ``concat([max, mean], axis=2)`` orders them: 1,506 values), batch norm, a dense layer of
    200 ReLU units and batch norm: the *penultimate* embedding; a dense layer of 50 logits;
    sigmoid tag probabilities.

Convolutions in time pad explicitly as the original does (zeros, 3 frames per side for the
7-frame kernels; TensorFlow's "same" split, one more frame after than before, for the
even temporal kernels), so no backend's own padding convention matters.  The mid end's
``conv2d`` over the full feature axis is a ``Conv1D`` here: the same sums.  Dropout
(training only) is left out.  Batch norm keeps its four trained vectors and TF1's
epsilon (1e-3) and runs in inference mode.  Every layer computes in float32 whatever Keras'
global dtype policy, since the trained weights and the reference check are float32.
"""

from __future__ import annotations

import keras
from keras import layers, ops

from genrevae.judge.frontend import N_MELS

__all__ = ["TIMBRAL_WIDTHS", "TEMPORAL_LENGTHS", "build_musicnn"]

#: tf.compat.v1.layers.batch_normalization's default, kept in the original graph.
_EPSILON = 1e-3
#: Mel bands spanned by the timbral filters: int(0.4 * 96) and int(0.7 * 96).
TIMBRAL_WIDTHS: tuple[int, ...] = (38, 67)
#: Frames spanned by the temporal filters.
TEMPORAL_LENGTHS: tuple[int, ...] = (128, 64, 32)
_TIMBRAL_FRAMES = 7
_TIMBRAL_FILTERS = 204  # int(1.6 * 128)
_TEMPORAL_FILTERS = 51  # int(1.6 * 32)
_MIDEND_KERNEL = 7


def _pad_time(x, before: int, after: int):
    """Zero-pad axis 1 (frames) of a (batch, frames, ...) tensor."""
    return ops.pad(x, [(0, 0), (before, after)] + [(0, 0)] * (len(x.shape) - 2))


def _batch_norm(name: str) -> layers.BatchNormalization:
    return layers.BatchNormalization(epsilon=_EPSILON, name=name, dtype="float32")


def _relu_conv2d(filters: int, kernel: tuple[int, int], name: str) -> layers.Conv2D:
    return layers.Conv2D(filters, kernel, activation="relu", name=name, dtype="float32")


def _frontend(normalized):
    """(batch, frames, 96, 1) normalised log-mel -> (batch, frames, 561) front-end features."""
    maps = []
    for width in TIMBRAL_WIDTHS:
        conv = _relu_conv2d(_TIMBRAL_FILTERS, (_TIMBRAL_FRAMES, width), f"timbral_{width}")
        padded = _pad_time(normalized, _TIMBRAL_FRAMES // 2, _TIMBRAL_FRAMES // 2)
        maps.append(ops.max(_batch_norm(f"timbral_{width}_norm")(conv(padded)), axis=2))
    for length in TEMPORAL_LENGTHS:
        conv = _relu_conv2d(_TEMPORAL_FILTERS, (length, 1), f"temporal_{length}")
        padded = _pad_time(normalized, (length - 1) // 2, length // 2)
        maps.append(ops.max(_batch_norm(f"temporal_{length}_norm")(conv(padded)), axis=2))
    return ops.concatenate(maps, axis=-1)


def _midend(features, filters: int):
    """(batch, frames, 561) -> (batch, frames, 561 + 3 filters): the input and the three convolutions' outputs."""
    outputs = [features]
    x = features
    for i in (1, 2, 3):
        conv = layers.Conv1D(filters, _MIDEND_KERNEL, activation="relu", name=f"midend_{i}", dtype="float32")
        y = _batch_norm(f"midend_{i}_norm")(conv(_pad_time(x, _MIDEND_KERNEL // 2, _MIDEND_KERNEL // 2)))
        x = y if i == 1 else y + x
        outputs.append(x)
    return ops.concatenate(outputs, axis=-1)


def build_musicnn(
    num_tags: int = 50, midend_filters: int = 64, backend_units: int = 200, name: str = "musicnn"
) -> keras.Model:
    """The untrained network: ``(batch, frames, 96)`` log-mel patches -> dict of outputs.

    ``frames`` may be any length >= 1 (musicnn was trained on 187 = 3 s).  Outputs:
    ``"logits"`` ``(batch, num_tags)``, ``"probabilities"`` (their sigmoid) and
    ``"penultimate"`` ``(batch, backend_units)``, the batch-normalised embedding the
    logits are computed from.  The defaults are the shipped MTT and MSD models' sizes.
    """
    log_mel = keras.Input(shape=(None, N_MELS), name="log_mel", dtype="float32")
    normalized = _batch_norm("input_norm")(ops.expand_dims(log_mel, -1))
    features = _midend(_frontend(normalized), int(midend_filters))
    pooled = ops.stack([ops.max(features, axis=1), ops.mean(features, axis=1)], axis=-1)
    pooled = ops.reshape(pooled, (-1, 2 * features.shape[-1]))
    hidden = layers.Dense(int(backend_units), activation="relu", name="penultimate_dense", dtype="float32")(
        _batch_norm("pool_norm")(pooled)
    )
    penultimate = _batch_norm("penultimate_norm")(hidden)
    logits = layers.Dense(int(num_tags), name="tag_logits", dtype="float32")(penultimate)
    outputs = {"logits": logits, "probabilities": ops.sigmoid(logits), "penultimate": penultimate}
    return keras.Model(log_mel, outputs, name=name)
