"""A learned autoregressive prior over VAE latent sequences, and two baselines.

The convolutional VAE (:mod:`genrevae.model`) encodes a clip into a latent *sequence*
``z`` of shape ``(T, C)`` (about 23.4 frames per second; 704 x 16 for a 30 s clip).  Its
prior ``p(z) = N(0, I)`` draws every frame independently, so sampled music has no
dynamics.  This package fits a better prior to the latents of the training clips.

Model
-----
:class:`LatentPrior` factorises a sequence autoregressively over frames::

    p(z_1..T) = prod_t p(z_t | z_<t)

Every conditional is a mixture of ``K`` diagonal Gaussians over the ``C`` channels::

    p(z_t | z_<t) = sum_k pi_k(h_t) prod_c N(z_tc; mu_kc(h_t), sigma_kc(h_t)^2)

with ``pi = softmax(logits)`` and ``h_t`` the state of a GRU (one or more stacked)
that has read the frames before ``t`` -- or, with ``prior.network: transformer``, the output
of a small pre-norm causal transformer whose attention reads the last ``context_frames``
frames (:mod:`genrevae.prior.transformer`).  The first frame is conditioned on a zero
"start" frame: the GRU reads the sequence shifted right by one frame, zero first, so one
pass over a whole sequence gives all ``T`` conditionals at once (teacher forcing).

The network models the *standardised* sequence ``u = (z - m) / s`` with per-channel mean
``m`` and standard deviation ``s`` of the training latents (stored as non-trainable
weights, saved with the model).  By the change of variables::

    log p(z) = log p_u(u) - T * sum_c log s_c

so :meth:`LatentPrior.log_prob` is a density of the ORIGINAL ``z`` and comparable with
``N(0, I)`` and the VAR baseline.

Training (:func:`fit_prior`) maximises the likelihood of random ``segment_frames``-long
segments of ``z ~ q(z|x)`` drawn afresh every step from the posteriors of the training
clips.  Sampling (:meth:`LatentPrior.sample`) is ancestral, frame by frame, for any
number of frames.  Two options regularise the fit: ``prior.dropout`` (on the network's input
and output frames) and ``prior.scheduled_sampling`` (a fraction of the past frames the network
reads are its own one-step draws, :meth:`LatentPrior.one_step_draws`, as when sampling).

Baselines
---------
* :func:`standard_normal_log_prob` -- the VAE's own prior ``N(0, I)``.
* :class:`VarModel` / :func:`fit_var` -- a linear vector autoregression VAR(p)
  ``z_t = b + sum_i A_i z_{t-i} + e_t``, ``e_t ~ N(0, Sigma)``, fitted by least squares.

:func:`prior_report` compares all three by held-out negative log-likelihood per frame.

Everything is registered with Keras under the package name ``genrevae``, so
``keras.models.load_model(path, compile=False)`` works after ``import genrevae.prior``.

Modules
-------
One concern each, so that a reader (and the workflow's code inputs) can tell them apart:

* :mod:`genrevae.prior.var` -- the numpy baselines: ``N(0, I)``, :class:`VarModel`, :func:`fit_var`.
* :mod:`genrevae.prior.model` -- :class:`LatentPrior`: its log-density and its sampler.
* :mod:`genrevae.prior.transformer` -- :class:`CausalTransformerBlock`, the transformer network's block.
* :mod:`genrevae.prior.fit` -- :func:`fit_prior`, its batches and the posterior draws.
* :mod:`genrevae.prior.report` -- :func:`prior_report`, the three priors' held-out NLL.
* :mod:`genrevae.prior.stage` -- the workflow stage on files: :func:`fit_prior_files`, :func:`load_prior`.
* :mod:`genrevae.prior.flow` -- a flow-matching prior over windows of frames, a candidate measured by ``benchmarks/prior_compare.py`` (not imported here).

Importing the package imports them all (the names below are its interface), so a stage
that imports ``genrevae.prior`` depends on every one of them
(:func:`genrevae.workflow_support.command_code` follows these absolute imports).
"""

from genrevae.prior.fit import (
    GRADIENT_CLIPNORM,
    LOG_EVERY,
    VAR_FIT_DRAWS,
    aggregate_posterior_moments,
    fit_prior,
    posterior_draws,
)
from genrevae.prior.model import MIN_STD, LatentPrior
from genrevae.prior.report import prior_report
from genrevae.prior.stage import as_sequence, fit_prior_files, load_prior
from genrevae.prior.var import LOG_2PI, VarModel, _seed_word, fit_var, standard_normal_log_prob

__all__ = [
    "LatentPrior",
    "aggregate_posterior_moments",
    "fit_prior",
    "standard_normal_log_prob",
    "VarModel",
    "fit_var",
    "posterior_draws",
    "prior_report",
    "as_sequence",
    "fit_prior_files",
    "load_prior",
]
