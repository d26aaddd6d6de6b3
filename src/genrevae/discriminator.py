r"""A multi-scale waveform discriminator and the hinge / feature-matching losses of the optional
adversarial fine-tuning of the decoder (``train.adversarial``, :mod:`genrevae.train`).

In the manner of MelGAN (Kumar et al. 2019) and RAVE's second phase (Caillon & Esling 2021),
scaled to 3 kHz and a CPU: ``scales`` copies of one 1-D convolutional discriminator look at the
waveform at 1x, 2x, 4x, ... average pooling (each scale halves the rate of the previous one).
Per scale: ``Conv1D(channels[0], kernel_size)``, then one ``Conv1D(c, kernel_size,
strides=stride)`` per further entry of ``channels``, then ``Conv1D(channels[-1], 5)``, each
followed by ``LeakyReLU(0.2)``, and a last ``Conv1D(1, 3)`` giving one score per time step.
Every layer's activation is a *feature* for the feature-matching loss; the last is the score.
No normalisation (the windows' level is part of what is judged).

Losses, with ``D_s`` the score map of scale ``s`` and ``F_{s,l}`` its features (means over
batch and time; averaged over the ``S`` scales and the ``L`` layers, so the weights do not
depend on how many there are):

.. math::

    \mathcal{L}_D = \frac1S \sum_s \big[\overline{\max(0, 1 - D_s(x))} + \overline{\max(0, 1 + D_s(\hat x))}\big]
    \qquad
    \mathcal{L}_{\mathrm{adv}} = -\frac1S \sum_s \overline{D_s(\hat x)}
    \qquad
    \mathcal{L}_{\mathrm{FM}} = \frac{1}{S L} \sum_{s,l} \overline{|F_{s,l}(x) - F_{s,l}(\hat x)|}

Written with ``keras.layers`` and ``keras.ops`` only: it trains under TensorFlow, JAX and
PyTorch alike (the gradients go through :func:`genrevae.backend.make_train_step`).  The
discriminator is a training-time artifact: its weights live in the training checkpoints, never
in ``model.keras``.
"""

from __future__ import annotations

from typing import Any

import keras
from keras import layers, ops

__all__ = [
    "build_discriminator",
    "scale_outputs",
    "discriminator_hinge_loss",
    "generator_hinge_loss",
    "feature_matching_loss",
]


def build_discriminator(scales: int, channels, kernel_size: int, stride: int) -> keras.Model:
    """The multi-scale discriminator: a functional model from waveforms ``(batch, n)`` (any ``n``)
    to the flat list of every scale's features, scale after scale, each scale's score map last
    (``len(channels) + 2`` tensors per scale; see :func:`scale_outputs`).

    Initial weights come from Keras' global RNG (``keras.utils.set_random_seed`` first).
    """
    scales, kernel_size, stride = int(scales), int(kernel_size), int(stride)
    channels = [int(c) for c in channels]
    if scales < 1 or not channels:
        raise ValueError(f"a discriminator needs scales >= 1 and at least one channel count, got {scales}, {channels}")
    inputs = keras.Input(shape=(None,), name="waveform")
    h = layers.Reshape((-1, 1), name="channel")(inputs)
    outputs = []
    for s in range(scales):
        if s > 0:
            h = layers.AveragePooling1D(2, strides=2, padding="same", name=f"pool{s}")(h)
        f = h
        for i, c in enumerate(channels):
            f = layers.Conv1D(c, kernel_size, strides=1 if i == 0 else stride, padding="same", name=f"s{s}_conv{i}")(f)
            f = layers.LeakyReLU(negative_slope=0.2, name=f"s{s}_act{i}")(f)
            outputs.append(f)
        f = layers.Conv1D(channels[-1], 5, padding="same", name=f"s{s}_mix")(f)
        f = layers.LeakyReLU(negative_slope=0.2, name=f"s{s}_act_mix")(f)
        outputs.append(f)
        outputs.append(layers.Conv1D(1, 3, padding="same", name=f"s{s}_score")(f))
    return keras.Model(inputs, outputs, name="discriminator")


def scale_outputs(outputs, scales: int) -> list[list[Any]]:
    """The discriminator's flat output list cut into one list per scale (features, score last)."""
    outputs = list(outputs)
    per = len(outputs) // int(scales)
    return [outputs[s * per : (s + 1) * per] for s in range(int(scales))]


def discriminator_hinge_loss(real, fake) -> Any:
    """``L_D`` of the module docstring from the per-scale outputs of real and generated windows."""
    total = 0.0
    for r, f in zip(real, fake):
        total = total + ops.mean(ops.relu(1.0 - r[-1])) + ops.mean(ops.relu(1.0 + f[-1]))
    return total / float(len(real))


def generator_hinge_loss(fake) -> Any:
    """``L_adv``: minus the mean score of the generated windows, averaged over scales."""
    total = 0.0
    for f in fake:
        total = total - ops.mean(f[-1])
    return total / float(len(fake))


def feature_matching_loss(real, fake) -> Any:
    """``L_FM``: mean absolute difference of every feature map (the score maps excluded), averaged
    over layers and scales.  The real features are constants (no gradient flows into them)."""
    total, count = 0.0, 0
    for r, f in zip(real, fake):
        for a, b in zip(r[:-1], f[:-1]):
            total = total + ops.mean(ops.abs(ops.stop_gradient(a) - b))
            count += 1
    return total / float(count)
