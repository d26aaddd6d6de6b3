"""Waveform variational autoencoders (one per genre), in the style of the keras.io VAE example.

A VAE has an encoder ``q(z|x) = N(mean, diag(exp(logvar)))``, a prior ``p(z) = N(0, I)`` and
a decoder ``p(x|z)``.  Here ``x`` is a raw waveform of ``n_samples`` values in [-1, 1]
(30 s at 3 kHz gives 90,001 samples) and there are two architectures ("presets"):

``conv`` (default)
    A fully convolutional VAE over time (:class:`ConvVAE`).  The encoder splits the waveform
    into PQMF sub-bands and downsamples them by strided convolutions with dilated residual
    units in between; the latent is a *sequence* ``(frames, latent_channels)`` with
    ``frames = ceil(n_samples / hop)``, ``hop = bands * prod(strides)`` (8 * 2 * 2 * 4 = 128
    samples: 23.4 frames per second at 3 kHz).  The decoder upsamples by transposed
    convolutions and ends in a spectral head and an inverse STFT (default) or in per-band
    amplitude-modulated waveforms and PQMF synthesis; it crops back to exactly ``n_samples``.

``report``
    The architecture of the course report the project started from, reproduced
    faithfully so it can be compared (see :class:`ReportVAE` for why it is an MLP).

Both presets are subclasses of :class:`WaveVAE` and share one interface; all public
methods take and return waveforms of shape ``(batch, n_samples)``:

* ``encode(x) -> (mean, logvar)``, each of shape ``(batch, *latent_shape)``
* ``reparameterize(mean, logvar, seed) -> z``  (``z = mean + exp(logvar/2) * eps``)
* ``decode(z) -> decoder output`` (the Gaussian mean, or continuous-Bernoulli logits)
* ``log_likelihood(x, decoder_output) -> log p(x|z)`` per example (nats)
* ``waveform(decoder_output) -> waveform`` in [-1, 1]
* ``sample(n, seed) -> np.ndarray (n, n_samples)``: decoded prior draws
* ``latent_shape``

Likelihoods (see :mod:`genrevae.losses`): ``gaussian`` with one learned global
log-scale (a model weight, saved with the model), or ``bernoulli`` -- the continuous
Bernoulli on ``(x + 1) / 2``.  The layers the presets are built of live in
:mod:`genrevae.blocks`.  Everything is registered with Keras under the package name
``genrevae``, so ``keras.models.load_model(path)`` works after ``import genrevae.model``
(which imports :mod:`genrevae.blocks`) without ``custom_objects``.

The model is written with ``keras.layers`` and ``keras.ops`` only; random draws and the
conversion to numpy go through :mod:`genrevae.backend`.  So the same code, and the same saved
``model.keras``, trains and decodes on TensorFlow, JAX or PyTorch (``KERAS_BACKEND``): a model
saved under one backend decodes under another to float rounding (tested).  Random draws differ
between backends for one seed (each has its own generator), and are equal on one backend.
"""

from __future__ import annotations

import math

import keras
import numpy as np
from keras import layers, ops

from genrevae import backend, losses
from genrevae.blocks import ResidualUnit, Resnet1DBlock, UpsamplingConv1D
from genrevae.config import ConfigError, section
from genrevae.istft import InverseSTFT, fft_size
from genrevae.pqmf import PQMF

__all__ = [
    "WaveVAE",
    "ReportVAE",
    "ConvVAE",
    "build_model",
    "load_model",
]

LIKELIHOODS = ("gaussian", "bernoulli")
#: Output heads of the ``conv`` decoder (see :class:`ConvVAE`).
HEADS = ("amplitude", "istft")

#: Initial value of the Gaussian's learned log standard deviation.  GTZAN clips at
#: 3 kHz have an RMS of roughly 0.05-0.3, so sigma = 0.1 starts near the residual scale
#: of an untrained decoder; starting at sigma = 1 would leave the reconstruction term
#: almost flat for the few hundred Adam steps a small genre set gets.
INITIAL_LOG_SCALE = math.log(0.1)


class WaveVAE(keras.Model):
    """Base class: a VAE over waveforms of a fixed length ``n_samples``.

    Subclasses implement ``_build_encoder`` (a keras model from ``(batch, n_samples)``
    to ``(batch, *latent_shape[:-1], 2 * latent_shape[-1])``, mean then logvar along
    the last axis) and ``_build_decoder`` (from ``(batch, *latent_shape)`` to
    ``(batch, n_samples)``).  Calling the model reconstructs ``x`` from the posterior
    mean (deterministic): ``model(x) == model.decode(model.encode(x)[0])``.
    """

    preset = "base"

    def __init__(self, n_samples: int, likelihood: str = "gaussian", **kwargs):
        super().__init__(**kwargs)
        if likelihood not in LIKELIHOODS:
            raise ValueError(f"likelihood must be one of {LIKELIHOODS}, got {likelihood!r}")
        if int(n_samples) < 1:
            raise ValueError("n_samples must be >= 1")
        self.n_samples = int(n_samples)
        self.likelihood = likelihood
        self.encoder = self._build_encoder()
        self.decoder = self._build_decoder()
        if likelihood == "gaussian":
            self.log_scale = self.add_weight(
                shape=(),
                initializer=keras.initializers.Constant(INITIAL_LOG_SCALE),
                trainable=True,
                name="log_scale",
            )
        else:
            self.log_scale = None
        self.built = True

    # -- to be provided by the presets --------------------------------------
    def _build_encoder(self) -> keras.Model:
        raise NotImplementedError

    def _build_decoder(self) -> keras.Model:
        raise NotImplementedError

    @property
    def latent_shape(self) -> tuple[int, ...]:
        """Shape of one latent ``z`` (without the batch axis)."""
        raise NotImplementedError

    # -- the VAE interface ---------------------------------------------------
    def encode(self, x, training=False):
        """``x (batch, n_samples) -> (mean, logvar)``, each ``(batch, *latent_shape)``."""
        h = self.encoder(x, training=training)
        mean, logvar = ops.split(h, 2, axis=-1)
        return mean, logvar

    def reparameterize(self, mean, logvar, seed):
        """Draw ``z = mean + exp(logvar / 2) * eps`` with ``eps ~ N(0, I)`` from a stateless RNG.

        ``seed`` is an int, a pair of ints, a shape-(2,) integer tensor (e.g. ``[seed, step]``
        inside a compiled training step; see :func:`genrevae.backend.seed_pair`) or a
        ``keras.random.SeedGenerator`` (its next state); equal seeds give equal draws on one backend.
        """
        if isinstance(seed, keras.random.SeedGenerator):
            seed = seed.next()
        mean = ops.convert_to_tensor(mean)
        eps = backend.normal(ops.shape(mean), seed, dtype=keras.backend.standardize_dtype(mean.dtype))
        return mean + ops.exp(0.5 * logvar) * eps

    def decode(self, z, training=False, length=None):
        """``z (batch, *latent_shape) ->`` decoder output ``(batch, n_samples)``.

        ``length`` only matters for fully convolutional presets (``conv``), whose output
        length follows the latent's frame count; the ``report`` preset always gives ``n_samples``.

        The Gaussian mean for ``likelihood="gaussian"``, the continuous-Bernoulli
        logits for ``"bernoulli"``; use :meth:`waveform` to get audio.
        """
        return self.decoder(z, training=training)

    def latent_frames(self, n_samples: int) -> int:
        """Latent frames for a waveform of ``n_samples`` (fixed-length presets: the one shape)."""
        if int(n_samples) != self.n_samples:
            raise ValueError(f"the {self.preset} preset takes exactly {self.n_samples} samples, not {n_samples}")
        return int(self.latent_shape[0])

    def latent_shape_for(self, n_samples: int) -> tuple[int, ...]:
        """Shape of the latent of a waveform of ``n_samples``: ``latent_shape`` for the clip length,
        ``(latent_frames(n_samples), channels)`` for any other length (fully convolutional presets)."""
        if int(n_samples) == self.n_samples:
            return tuple(self.latent_shape)
        return (self.latent_frames(n_samples),) + tuple(self.latent_shape[1:])

    def context_frames(self) -> int | None:
        """Latent frames of context on each side that make a chunk of frames decode (and encode)
        exactly as it would inside the whole sequence; ``None`` for fixed-length presets, which
        cannot be cut into chunks."""
        return None

    def log_likelihood(self, x, output):
        """``log p(x | z)`` per example (nats) given the decoder output for ``z``."""
        if self.likelihood == "gaussian":
            return losses.gaussian_log_likelihood(x, output, self.log_scale)
        return losses.continuous_bernoulli_log_likelihood(x, output)

    def waveform(self, output):
        """Decoder output -> the expected waveform, in [-1, 1].

        Gaussian: the mean, clipped to [-1, 1].  Bernoulli: ``2 E[x01] - 1`` with the
        continuous-Bernoulli mean (not ``2 sigmoid(logits) - 1``).
        """
        if self.likelihood == "gaussian":
            return ops.clip(output, -1.0, 1.0)
        return 2.0 * losses.continuous_bernoulli_mean(output) - 1.0

    def sample(self, n: int, seed, batch_size: int = 16, n_samples: int | None = None) -> np.ndarray:
        """Decode ``n`` draws ``z ~ N(0, I)``; returns float32 ``(n, n_samples)`` in [-1, 1].

        The same ``seed`` gives the same ``z`` (and, for fixed weights, the same audio).
        The waveform is the decoder's expected value, without observation noise.
        ``n_samples`` (default: the clip length) picks any length for ``conv``.
        """
        length = self.n_samples if n_samples is None else int(n_samples)
        z = backend.normal((int(n),) + self.latent_shape_for(length), seed)
        chunks = []
        for start in range(0, int(n), int(batch_size)):
            out = self.decode(z[start : start + int(batch_size)], training=False, length=length)
            chunks.append(backend.to_numpy(self.waveform(out)).astype(np.float32))
        if not chunks:
            return np.zeros((0, length), dtype=np.float32)
        return np.concatenate(chunks, axis=0)

    def call(self, inputs, training=False):
        mean, _ = self.encode(inputs, training=training)
        return self.decode(mean, training=training)

    def get_config(self):
        return {"name": self.name, "n_samples": self.n_samples, "likelihood": self.likelihood}


@keras.saving.register_keras_serializable(package="genrevae")
class ReportVAE(WaveVAE):
    """The course report's VAE, faithfully (``preset: report``).  Kept as a baseline; it is not
    a convolutional model.

    Encoder: ``x -> Reshape(1, n) -> [Conv1D(c, 1, strides=2) -> Resnet1DBlock(64, 1)]
    for c in 64, 128, 128, 256 -> Flatten -> Dense(2 * latent_dim)``.
    Decoder: ``z -> Reshape(1, latent_dim) -> [Resnet1DBlock(64, 1, decode) ->
    Conv1DTranspose(c, 1, 1)] for c in 512, 256, 128, 64 -> Conv1DTranspose(n, 1, 1)
    -> Reshape(n)``.  No activations besides those inside the blocks (as in the report).

    Its degeneracies, all consequences of the input shape ``(1, n_samples)`` -- ONE
    time step with ``n_samples`` channels:

    * Every convolution sees a length-1 sequence, so kernel sizes and strides do
      nothing: each Conv1D/Conv1DTranspose is a dense layer on the channel vector,
      i.e. the model is an MLP in disguise.
    * Instance normalisation over one time step normalises each channel by its own
      value: ``(x - mean) / sqrt(var + eps)`` with ``mean = x``, ``var = 0`` outputs
      the constant ``beta``.  So all 8 encoder-block conv kernels (and biases, both
      norms' ``gamma`` and the first norm's ``beta``) get exactly zero gradient; each
      encode block reduces to ``relu(h + LeakyReLU(beta2))`` for a learned scalar ``beta2``.
      (The decoder blocks use BatchNormalization over the batch, so they do learn.)
    * ``Resnet1DBlock(64, 1)`` has a single filter, broadcast-added to all channels.
    * 11.94 M parameters at n = 90,001 and latent_dim 2, 97 % of them in the first
      ``Conv1D(64)`` (n * 64 + 64) and the last ``Conv1DTranspose(n)`` (64 * n + n): the
      model mostly learns 64 "basis waveforms" in and out, and a latent of 2 numbers per
      30 s clip.
    """

    preset = "report"
    ENCODER_CHANNELS = (64, 128, 128, 256)
    DECODER_CHANNELS = (512, 256, 128, 64)
    BLOCK_KERNEL = 64
    BLOCK_FILTERS = 1

    def __init__(self, n_samples: int, likelihood: str = "gaussian", latent_dim: int = 2, **kwargs):
        self.latent_dim = int(latent_dim)
        super().__init__(n_samples=n_samples, likelihood=likelihood, **kwargs)

    @property
    def latent_shape(self) -> tuple[int, ...]:
        return (self.latent_dim,)

    def _build_encoder(self) -> keras.Model:
        n = self.n_samples
        inputs = keras.Input(shape=(n,), name="waveform")
        h = layers.Reshape((1, n))(inputs)
        for channels in self.ENCODER_CHANNELS:
            h = layers.Conv1D(channels, 1, strides=2)(h)
            h = Resnet1DBlock(self.BLOCK_KERNEL, self.BLOCK_FILTERS, "encode")(h)
        h = layers.Flatten()(h)
        h = layers.Dense(2 * self.latent_dim)(h)
        return keras.Model(inputs, h, name="encoder")

    def _build_decoder(self) -> keras.Model:
        n = self.n_samples
        inputs = keras.Input(shape=(self.latent_dim,), name="z")
        h = layers.Reshape((1, self.latent_dim))(inputs)
        for channels in self.DECODER_CHANNELS:
            h = Resnet1DBlock(self.BLOCK_KERNEL, self.BLOCK_FILTERS, "decode")(h)
            h = layers.Conv1DTranspose(channels, 1, strides=1)(h)
        h = layers.Conv1DTranspose(n, 1, strides=1)(h)
        h = layers.Reshape((n,))(h)
        return keras.Model(inputs, h, name="decoder")

    def get_config(self):
        config = super().get_config()
        config.update(latent_dim=self.latent_dim)
        return config


@keras.saving.register_keras_serializable(package="genrevae")
class ConvVAE(WaveVAE):
    """Multiband convolutional VAE over time (``preset: conv``), fully convolutional.

    In the manner of RAVE (Caillon & Esling 2021), scaled to 3 kHz and a CPU:

    * **Sub-bands.** A fixed PQMF bank (:mod:`genrevae.pqmf`) turns the waveform into
      ``bands`` critically sampled band signals, so the network runs ``bands`` times
      fewer time steps.
    * **Encoder.** ``Conv1D(width, kernel_size)`` over the bands, then per stage ``i``:
      ``len(dilations)`` dilated :class:`~genrevae.blocks.ResidualUnit` s at ``c_i = min(width 2^i,
      max_width)`` channels, ``LeakyReLU -> Conv1D(c_{i+1}, 2 s_i, strides=s_i)``; finally
      ``LeakyReLU -> Conv1D(2 latent_channels, 3)`` -> mean and log-variance of a latent
      *sequence* ``(frames, latent_channels)``, one frame per ``hop = bands * prod(strides)``
      samples (128 by default: 23.4 frames per second at 3 kHz).
    * **Decoder** (mirror): ``Conv1D(c_last, kernel_size)``, per stage from the last:
      ``LeakyReLU -> Conv1DTranspose(c_i, 2 s_i, strides=s_i)`` and the residual units, then
      one of two heads:

      - ``head="istft"`` (the schema's default; Vocos-style): the decoder stops upsampling at
        ``istft_hop`` samples per step (32: one stage) and predicts a log-magnitude and a
        phase per STFT bin, made audio by a fixed inverse STFT (:mod:`genrevae.istft`,
        ``n_fft = 4 istft_hop``).  A harmonic is one bin here, not a pattern drawn sample by
        sample; after 5 minutes of training on 2 cores it beat the amplitude head on every
        measure of toy jazz and rock (``benchmarks/QUALITY_PER_COMPUTE_HEADS.md``; at the default
        3,000 steps all but rock's Frechet ratios, README "How good is the music").
      - ``head="amplitude"``: all stages up to the band rate, then two heads per band, a
        waveform ``tanh(w)`` and an amplitude ``sigmoid(a)`` (amplitude modulation: loudness
        contours are learned apart from the carrier), multiplied and put back together by
        PQMF synthesis.
    * **No normalisation over time** anywhere (see :class:`~genrevae.blocks.ResidualUnit`).

    Every layer is a convolution, so the model takes any length: ``encode`` zero-pads the
    input to a multiple of ``hop``, ``decode`` returns ``frames * hop`` samples cropped to
    the requested length.  Training runs on short windows, evaluation and generation on
    whole clips or any duration.
    """

    preset = "conv"

    def __init__(
        self,
        n_samples: int,
        likelihood: str = "gaussian",
        bands: int = 8,
        width: int = 32,
        max_width: int = 128,
        strides=(2, 2, 4),
        kernel_size: int = 7,
        dilations=(1, 3, 9),
        latent_channels: int = 16,
        head: str = "istft",
        istft_hop: int | None = None,
        istft_n_fft: int | None = None,
        **kwargs,
    ):
        if head not in HEADS:
            raise ValueError(f"head must be one of {HEADS}, got {head!r}")
        self.head = head
        self.istft_hop = self.resolve_istft_hop(bands, list(strides), istft_hop)
        self.istft_n_fft = self.resolve_istft_n_fft(self.istft_hop, istft_n_fft)
        self.bands = int(bands)
        self.width = int(width)
        self.max_width = int(max_width)
        self.strides = [int(v) for v in strides]
        self.kernel_size = int(kernel_size)
        self.dilations = [int(v) for v in dilations]
        self.latent_channels = int(latent_channels)
        self.hop = self.bands * int(np.prod(self.strides))
        super().__init__(n_samples=n_samples, likelihood=likelihood, **kwargs)

    @staticmethod
    def steps_per_stage(bands: int, strides: list[int]) -> list[int]:
        """Samples per time step after each decoder stage, from the latent rate
        (``bands * prod(strides)``) to the band rate (``bands``): ``[128, 32, 16, 8]`` by default."""
        steps = [int(bands) * int(np.prod(strides))]
        for stride in reversed(strides):
            steps.append(steps[-1] // int(stride))
        return steps

    @classmethod
    def resolve_istft_hop(cls, bands: int, strides: list[int], istft_hop: int | None) -> int:
        """``istft_hop``, checked to be one of the decoder's samples per step; None: one upsampling
        stage (the step after the last stride: 128 / 4 = 32 samples by default)."""
        steps = cls.steps_per_stage(bands, strides)
        if istft_hop is None:
            return steps[1]
        if int(istft_hop) not in steps:
            raise ValueError(f"istft_hop: {istft_hop} is not a decoder step of these bands and strides; choose one of {steps} samples")
        return int(istft_hop)

    @staticmethod
    def resolve_istft_n_fft(istft_hop: int, istft_n_fft: int | None) -> int:
        """``istft_n_fft``, checked by the head's own rule (:func:`genrevae.istft.fft_size`);
        None: ``4 istft_hop`` (Vocos' overlap)."""
        try:
            return fft_size(istft_hop, istft_n_fft)
        except ValueError as exc:
            raise ValueError(f"istft_n_fft: {exc}") from exc

    def decoder_steps(self) -> list[int]:
        return self.steps_per_stage(self.bands, self.strides)

    def decoder_stages(self) -> list[int]:
        """Indices ``i`` (into ``strides``) of the upsampling stages the decoder runs, last first:
        all of them for the amplitude head, those down to ``istft_hop`` for the iSTFT head."""
        stages = list(reversed(range(len(self.strides))))
        if self.head == "amplitude":
            return stages
        return stages[: self.decoder_steps().index(self.istft_hop)]

    def latent_frames(self, n_samples: int) -> int:
        return -(-int(n_samples) // self.hop)

    @property
    def latent_shape(self) -> tuple[int, ...]:
        return (self.latent_frames(self.n_samples), self.latent_channels)

    def context_frames(self) -> int:
        """An upper bound on the receptive field's half-width, in latent frames, plus one.

        Summed layer by layer in waveform samples: each "same" convolution of kernel ``k`` and
        dilation ``d`` at ``step`` samples per time step reaches ``d (k - 1) / 2`` steps to each
        side, a strided or transposed convolution of kernel ``2 s`` at most ``2 s`` input steps,
        each PQMF filter its order.  Encoder and decoder are added together (a bound for both).
        A chunk decoded with this many frames of its neighbours on each side equals the same
        frames decoded in one piece, to float rounding (tested), so long clips have no seams.
        """
        half = (self.kernel_size - 1) // 2 + 1
        reach = sum(self.dilations)  # kernel 3: d to each side per residual unit
        order = PQMF(self.bands, "analysis").order
        samples, step = order + half * self.bands, self.bands  # PQMF analysis, from_bands
        for stride in self.strides:  # residual units, then the strided convolution
            samples += reach * step + 2 * stride * step
            step *= stride
        samples += step  # to_latent, kernel 3
        samples += half * step  # from_latent
        for i in self.decoder_stages():  # transposed convolution, then residual units
            samples += 2 * step
            step //= self.strides[i]
            samples += reach * step
        if self.head == "amplitude":
            samples += half * step + order  # band heads, PQMF synthesis
        else:
            samples += half * step + self.istft_n_fft  # spectrum head, one iSTFT frame
        return -(-samples // self.hop) + 1

    def stage_channels(self) -> list[int]:
        """Channels at each resolution, from the band rate (``width``) to the latent rate."""
        return [min(self.width * 2**i, self.max_width) for i in range(len(self.strides) + 1)]

    def _residual_units(self, h, channels: int, where: str):
        for d in self.dilations:
            h = ResidualUnit(channels, 3, d, name=f"{where}_res_d{d}")(h)
        return h

    def _build_encoder(self) -> keras.Model:
        channels = self.stage_channels()
        inputs = keras.Input(shape=(None,), name="waveform")
        h = PQMF(self.bands, "analysis", name="pqmf_analysis")(inputs)
        h = layers.Conv1D(channels[0], self.kernel_size, padding="same", name="from_bands")(h)
        for i, stride in enumerate(self.strides):
            h = self._residual_units(h, channels[i], f"enc{i}")
            h = layers.LeakyReLU(negative_slope=0.2)(h)
            h = layers.Conv1D(channels[i + 1], 2 * stride, strides=stride, padding="same", name=f"down{i}")(h)
        h = layers.LeakyReLU(negative_slope=0.2)(h)
        h = layers.Conv1D(2 * self.latent_channels, 3, padding="same", name="to_latent")(h)
        return keras.Model(inputs, h, name="encoder")

    def _build_decoder(self) -> keras.Model:
        channels = self.stage_channels()
        inputs = keras.Input(shape=(None, self.latent_channels), name="z")
        h = layers.Conv1D(channels[-1], self.kernel_size, padding="same", name="from_latent")(inputs)
        for i in self.decoder_stages():
            stride = self.strides[i]
            h = layers.LeakyReLU(negative_slope=0.2)(h)
            h = UpsamplingConv1D(channels[i], 2 * stride, strides=stride, name=f"up{i}")(h)
            h = self._residual_units(h, channels[i], f"dec{i}")
        h = layers.LeakyReLU(negative_slope=0.2)(h)
        if self.head == "istft":
            return keras.Model(inputs, self._spectrum_head(h), name="decoder")
        wave = layers.Conv1D(self.bands, self.kernel_size, padding="same", activation="tanh", name="band_waveform")(h)
        # Starts near -3 (amplitude ~0.05, the level of quiet music) so an untrained decoder is audio-scale.
        amp = layers.Conv1D(
            self.bands, self.kernel_size, padding="same", activation="sigmoid",
            bias_initializer=keras.initializers.Constant(-3.0), name="band_amplitude",
        )(h)  # fmt: skip
        bands = layers.Multiply(name="amplitude_modulation")([wave, amp])
        out = PQMF(self.bands, "synthesis", name="pqmf_synthesis")(bands)
        return keras.Model(inputs, out, name="decoder")

    def _spectrum_head(self, h):
        """Log-magnitudes and phases of ``istft_n_fft / 2 + 1`` bins per step, then the inverse STFT."""
        istft = InverseSTFT(self.istft_hop, self.istft_n_fft, name="istft")
        # Log-magnitudes start near 0 (|X| ~ 1 per bin): an untrained decoder then plays at RMS
        # ~0.02 at istft_hop 32, the level of quiet music, like the amplitude head's start.
        log_magnitude = layers.Conv1D(istft.bins, self.kernel_size, padding="same", name="log_magnitude")(h)
        phase = layers.Conv1D(istft.bins, self.kernel_size, padding="same", name="phase")(h)
        return istft(layers.Concatenate(name="spectrum")([log_magnitude, phase]))

    def encode(self, x, training=False):
        x = ops.convert_to_tensor(x, "float32")
        pad = (-ops.shape(x)[1]) % self.hop  # an int, or a scalar tensor in a graph of unknown length
        h = self.encoder(ops.pad(x, [[0, 0], [0, pad]]), training=training)
        mean, logvar = ops.split(h, 2, axis=-1)
        return mean, logvar

    def decode(self, z, training=False, length=None):
        """``z (batch, frames, latent_channels) ->`` ``(batch, length)``; ``length`` defaults to
        ``n_samples`` when ``frames`` is the clip's frame count, else ``frames * hop``."""
        out = self.decoder(z, training=training)
        if length is None:
            frames = z.shape[1]
            length = self.n_samples if frames == self.latent_frames(self.n_samples) else None
        return out if length is None else out[:, :length]

    @classmethod
    def from_config(cls, config, custom_objects=None):
        """A config without ``head`` is a model saved before the option existed, when every
        decoder ended in the amplitude head: it loads as one, whatever the default is now."""
        return super().from_config({"head": "amplitude", **config}, custom_objects)

    def get_config(self):
        config = super().get_config()
        config.update(
            bands=self.bands,
            width=self.width,
            max_width=self.max_width,
            strides=list(self.strides),
            kernel_size=self.kernel_size,
            dilations=list(self.dilations),
            latent_channels=self.latent_channels,
            head=self.head,
            istft_hop=self.istft_hop,
            istft_n_fft=self.istft_n_fft,
        )
        return config


def build_model(model_settings: dict, n_samples: int) -> WaveVAE:
    """Build the VAE described by the ``model`` settings section for clips of ``n_samples``.

    The returned model is built (weights exist); initial weights come from Keras' global
    RNG, so call ``keras.utils.set_random_seed`` first for reproducible initialisation.
    Missing keys take the schema's defaults; a bad value raises ConfigError naming it.
    """
    s = section("model", model_settings)
    if s["preset"] == "report":
        return ReportVAE(n_samples=n_samples, likelihood=s["likelihood"], latent_dim=int(s["latent_dim"]))
    c = s["conv"]
    if c["head"] == "istft":
        try:
            hop = ConvVAE.resolve_istft_hop(int(c["bands"]), [int(v) for v in c["strides"]], c["istft_hop"])
            ConvVAE.resolve_istft_n_fft(hop, c["istft_n_fft"])
        except ValueError as exc:
            raise ConfigError(f"model.conv.{exc}") from exc
    return ConvVAE(
        n_samples=n_samples,
        likelihood=s["likelihood"],
        bands=int(c["bands"]),
        width=int(c["width"]),
        max_width=int(c["max_width"]),
        strides=[int(v) for v in c["strides"]],
        kernel_size=int(c["kernel_size"]),
        dilations=[int(v) for v in c["dilations"]],
        latent_channels=int(c["latent_channels"]),
        head=c["head"],
        istft_hop=None if c["istft_hop"] is None else int(c["istft_hop"]),
        istft_n_fft=None if c["istft_n_fft"] is None else int(c["istft_n_fft"]),
    )


def load_model(path) -> WaveVAE:
    """Load a saved genre VAE (``model.keras``) without compiling it."""
    from pathlib import Path

    return keras.models.load_model(Path(path), compile=False)
