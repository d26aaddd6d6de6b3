r"""The objectives training minimises, one batch at a time: the VAE's per-step loss and the
adversarial phase's generator and discriminator losses (:mod:`genrevae.train` has the math).

Each reduces over the batch (a mean) and puts together the per-example terms of
:mod:`genrevae.losses` and the discriminator's terms of :mod:`genrevae.discriminator`; all are
written with ``keras.ops``, so they sit inside a compiled step of any backend.
"""

from __future__ import annotations

from keras import ops

from genrevae import discriminator as d
from genrevae import losses

__all__ = ["training_loss", "generator_loss", "discriminator_loss"]


def training_loss(model, x, seed, kl_weight, stft_weight: float, stft_sizes) -> tuple:
    r"""The objective of :mod:`genrevae.train`'s docstring for one batch: ``(loss, terms)``.

    ``loss = mean_batch[(-recon + kl_weight * kl) / n] + stft_weight * mean_batch[MR-STFT]``
    with ``n`` the window length; ``terms`` is :func:`genrevae.losses.elbo_terms`' dict.
    """
    t = losses.elbo_terms(model, x, seed, training=True)
    n = ops.cast(ops.shape(x)[1], "float32")
    loss = ops.mean(-(t["recon"] - kl_weight * t["kl"]) / n)
    if stft_weight > 0:
        spectral = losses.multi_resolution_stft_distance(x, model.waveform(t["output"]), tuple(int(v) for v in stft_sizes))
        loss = loss + stft_weight * ops.mean(spectral)
    return loss, t


def generator_loss(model, disc, x, seed, weight, adversarial: dict, stft_weight: float, stft_sizes) -> tuple:
    r"""The decoder's loss in the adversarial phase for one batch: ``(loss, (y, parts))``.

    ``z`` comes from the frozen encoder (a posterior draw with ``seed``, or its mean), ``y`` is
    the decoded waveform and ``loss = stft_weight * MR-STFT(x, y) + weight * (adversarial_weight *
    L_adv + feature_matching_weight * L_FM)`` (:mod:`genrevae.discriminator`), ``weight`` the
    warm-up ramp.  ``parts`` stacks the three unweighted terms.
    """
    mean, logvar = model.encode(x, training=False)
    mean, logvar = ops.stop_gradient(mean), ops.stop_gradient(logvar)
    z = model.reparameterize(mean, logvar, seed) if adversarial["sample_latent"] else mean
    y = model.waveform(model.decode(z, training=True, length=ops.shape(x)[1]))
    scales = int(adversarial["scales"])
    real, fake = d.scale_outputs(disc(x), scales), d.scale_outputs(disc(y), scales)
    spectral = ops.mean(losses.multi_resolution_stft_distance(x, y, tuple(int(v) for v in stft_sizes)))
    adv, fm = d.generator_hinge_loss(fake), d.feature_matching_loss(real, fake)
    loss = stft_weight * spectral + weight * (float(adversarial["adversarial_weight"]) * adv + float(adversarial["feature_matching_weight"]) * fm)
    return loss, (y, ops.stack([spectral, adv, fm]))


def discriminator_loss(disc, x, y, scales: int):
    """The discriminator's hinge loss on real windows ``x`` and decoded ``y`` (no gradient to the decoder)."""
    real = d.scale_outputs(disc(x), scales)
    fake = d.scale_outputs(disc(ops.stop_gradient(y)), scales)
    return d.discriminator_hinge_loss(real, fake)
