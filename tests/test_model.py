"""Shapes, save/load round trips (in a fresh process, and across Keras backends) and the report
preset's documented degeneracy, on whichever Keras backend runs the tests."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
from keras import ops

from conftest import backend_threads
from genrevae import backend, losses
from genrevae.config import section
from genrevae.blocks import ResidualUnit, Resnet1DBlock
from genrevae.model import HEADS, ConvVAE, ReportVAE, build_model

TINY_CONV = {"bands": 4, "width": 4, "max_width": 8, "strides": [2, 4], "kernel_size": 5, "dilations": [1, 3], "latent_channels": 3}
N = 2001  # not a multiple of the hop, bands * prod(strides) = 32
THREADS = backend_threads()  # pinned before the first op; subprocesses run with as many


def _settings(preset, likelihood="gaussian"):
    return {"preset": preset, "likelihood": likelihood, "latent_dim": 3, "conv": TINY_CONV}


def _clips(n=N, batch=3, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(n) / 3000.0
    x = 0.4 * np.sin(2 * np.pi * rng.uniform(80, 400, (batch, 1)) * t) + 0.05 * rng.standard_normal((batch, n))
    return np.clip(x, -1, 1).astype(np.float32)


@pytest.mark.parametrize("preset", ["conv", "report"])
@pytest.mark.parametrize("likelihood", ["gaussian", "bernoulli"])
def test_shapes_and_interface(preset, likelihood):
    keras.utils.set_random_seed(1)
    model = build_model(_settings(preset, likelihood), N)
    assert model.built and model.n_samples == N
    latent = (3,) if preset == "report" else (-(-N // 32), 3)
    assert model.latent_shape == latent
    x = _clips()
    mean, logvar = model.encode(x)
    assert mean.shape == logvar.shape == (3,) + latent
    z = model.reparameterize(mean, logvar, seed=7)
    np.testing.assert_array_equal(z, model.reparameterize(mean, logvar, seed=7))
    np.testing.assert_array_equal(z, model.reparameterize(mean, logvar, seed=ops.convert_to_tensor([7, 0], "int32")))
    assert not np.array_equal(z, model.reparameterize(mean, logvar, seed=8))
    out = model.decode(z)
    assert out.shape == (3, N)
    wave = backend.to_numpy(model.waveform(out))
    assert wave.shape == (3, N) and wave.min() >= -1 and wave.max() <= 1
    assert model.log_likelihood(x, out).shape == (3,)
    samples = model.sample(5, seed=3, batch_size=2)
    assert samples.shape == (5, N) and samples.dtype == np.float32
    assert samples.min() >= -1 and samples.max() <= 1
    np.testing.assert_array_equal(samples, model.sample(5, seed=3, batch_size=2))
    np.testing.assert_allclose(samples, model.sample(5, seed=3), atol=1e-5)  # other batching, same z
    assert (model.log_scale is not None) == (likelihood == "gaussian")


def test_conv_preset_handles_any_length():
    """Fully convolutional: one model encodes and decodes any length, with latent frames = ceil(n / hop)."""
    keras.utils.set_random_seed(2)
    model = build_model(_settings("conv"), N)
    assert model.hop == 32
    for n in (2000, 2048, 2049, 1, 9000):
        x = _clips(n, batch=2)
        mean, _ = model.encode(x)
        assert mean.shape == (2, -(-n // 32), 3) == (2, model.latent_frames(n), 3)
        assert model.decode(mean, length=n).shape == (2, n)
        assert model.sample(1, seed=0, n_samples=n).shape == (1, n)
    assert model(_clips(N, batch=2)).shape == (2, N)


def test_conv_is_local_in_time():
    """A window's encoding equals the matching frames of the whole clip's encoding away from the
    window's edges: training on windows and evaluating whole clips is the same model."""
    keras.utils.set_random_seed(3)
    model = build_model(_settings("conv"), N)
    x = _clips(4096, batch=1)
    whole, _ = model.encode(x)
    part, _ = model.encode(x[:, 1024:3072])  # frames 32..95 of the whole clip
    np.testing.assert_allclose(part[:, 16:-16], whole[:, 32 + 16 : 96 - 16], atol=1e-5)


def test_conv_default_is_a_multiband_encoder_and_a_spectral_decoder_without_time_normalisation():
    model = build_model({}, 90001)
    assert isinstance(model, ConvVAE)
    assert model.bands == 8 and model.hop == 128 and model.latent_shape == (704, 16)
    assert model.stage_channels() == [32, 64, 128, 128]
    assert model.head == "istft" and model.istft_hop == 32 and model.decoder_stages() == [2]
    assert model.count_params() < 1_500_000
    encoder = [type(layer).__name__ for layer in model.encoder.layers]
    decoder = [type(layer).__name__ for layer in model.decoder.layers]
    for names in (encoder, decoder):
        assert "GroupNormalization" not in names and "BatchNormalization" not in names
    assert encoder.count("PQMF") == 1 and encoder.count("ResidualUnit") == 9
    assert decoder.count("InverseSTFT") == 1 and decoder.count("ResidualUnit") == 3
    amplitude = build_model({"conv": {"head": "amplitude"}}, 90001)
    names = [type(layer).__name__ for layer in amplitude.decoder.layers]
    assert names.count("PQMF") == 1 and names.count("ResidualUnit") == 9


def test_istft_head_replaces_the_last_upsampling_stages():
    """head: istft stops the decoder at istft_hop samples per step and ends in the inverse STFT;
    the model is as fully convolutional as the amplitude head's and saves and loads the same way."""
    keras.utils.set_random_seed(5)
    settings = {"conv": {**TINY_CONV, "head": "istft", "istft_hop": 8, "istft_n_fft": None}}
    model = build_model(settings, N)
    assert model.decoder_steps() == [32, 8, 4] and model.decoder_stages() == [1] and model.istft_n_fft == 32
    names = [type(layer).__name__ for layer in model.decoder.layers]
    assert "InverseSTFT" in names and "PQMF" not in names
    assert [layer.name for layer in model.decoder.layers if layer.name.startswith("up")] == ["up1"]
    for n in (2000, 2049, 33):
        mean, _ = model.encode(_clips(n, batch=2))
        assert model.decode(mean, length=n).shape == (2, n)
    amplitude = build_model({"conv": {**TINY_CONV, "head": "amplitude"}}, N)
    # fewer stages, no PQMF synthesis: at 4 hops a frame reaches less far than the amplitude head
    assert model.context_frames() <= amplitude.context_frames()
    x = _clips()
    clone = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(model))
    clone.set_weights(model.get_weights())
    np.testing.assert_array_equal(model(x), clone(x))


def test_istft_n_fft_sets_the_bins_apart_from_the_hop():
    """istft_n_fft: finer bins at the same hop (a note's pitch in the magnitudes, not the phase);
    the default is 256 points, null is 4 hops, and it saves and loads with the model (a config
    saved before it existed loads with 4 hops, the size it had)."""
    default = build_model({"conv": {**TINY_CONV, "head": "istft"}}, N)
    vocos = build_model({"conv": {**TINY_CONV, "head": "istft", "istft_n_fft": None}}, N)
    assert default.istft_n_fft == 256 and vocos.istft_n_fft == 4 * vocos.istft_hop == 32
    assert vocos.istft_hop == default.istft_hop
    head = {m: next(layer for layer in m.decoder.layers if layer.name == "istft") for m in (default, vocos)}
    assert head[default].n_fft == 256 and head[default].bins == 129 and head[vocos].bins == 17
    assert default.context_frames() > vocos.context_frames()
    assert default.decode(default.encode(_clips(1000, batch=1))[0], length=1000).shape == (1, 1000)
    serialized = keras.saving.serialize_keras_object(vocos)
    assert keras.saving.deserialize_keras_object(serialized).istft_n_fft == 32
    wide = keras.saving.serialize_keras_object(default)
    assert keras.saving.deserialize_keras_object(wide).istft_n_fft == 256
    old = {**wide, "config": {k: v for k, v in wide["config"].items() if k != "istft_n_fft"}}
    assert keras.saving.deserialize_keras_object(old).istft_n_fft == 4 * default.istft_hop


def test_a_saved_config_without_head_loads_the_amplitude_head():
    """Models saved before ``head`` existed had the amplitude head and no ``head`` in their config:
    they load as amplitude models, while the constructor's default is the schema's, and a config
    that names its head gets that head."""
    assert ConvVAE(N, **TINY_CONV).head == section("model")["conv"]["head"] == "istft"
    serialized = keras.saving.serialize_keras_object(build_model({"conv": {**TINY_CONV, "head": "istft"}}, N))
    assert serialized["config"]["head"] == "istft"
    for head in HEADS:
        named = {**serialized, "config": {**serialized["config"], "head": head}}
        assert keras.saving.deserialize_keras_object(named).head == head
    old = {**serialized, "config": {k: v for k, v in serialized["config"].items() if k not in ("head", "istft_hop")}}
    model = keras.saving.deserialize_keras_object(old)
    assert model.head == "amplitude" and "PQMF" in [type(layer).__name__ for layer in model.decoder.layers]


def test_untrained_istft_decoder_is_audio_scale():
    keras.utils.set_random_seed(4)
    wave = build_model({"conv": {"head": "istft"}}, 8192).sample(2, seed=1)
    assert 1e-3 < np.sqrt(np.mean(wave**2)) < 0.2


def test_untrained_conv_output_is_audio_scale():
    """The amplitude heads start near sigmoid(-3): an untrained decoder is quiet, not clipping."""
    keras.utils.set_random_seed(4)
    wave = build_model({"conv": {"head": "amplitude"}}, 8192).sample(2, seed=1)
    assert 1e-4 < np.sqrt(np.mean(wave**2)) < 0.2


@pytest.mark.slow
def test_save_load_round_trip(tmp_path):
    x = _clips()
    for preset, likelihood in (("conv", "gaussian"), ("report", "bernoulli"), ("report", "gaussian")):
        keras.utils.set_random_seed(3)
        model = build_model(_settings(preset, likelihood), N)
        if model.log_scale is not None:
            model.log_scale.assign(-1.234)
        path = tmp_path / f"{preset}-{likelihood}.keras"
        model.save(path)
        loaded = keras.models.load_model(path)
        assert type(loaded) is type(model) and loaded.get_config() == model.get_config()
        np.testing.assert_array_equal(model(x), loaded(x))
        mean, logvar = loaded.encode(x)
        np.testing.assert_array_equal(model.encode(x)[1], logvar)
        np.testing.assert_array_equal(model.sample(2, seed=5), loaded.sample(2, seed=5))
        if likelihood == "gaussian":
            assert float(loaded.log_scale) == pytest.approx(-1.234)


@pytest.mark.slow
def test_load_in_a_fresh_process_without_custom_objects(tmp_path):
    keras.utils.set_random_seed(4)
    model = build_model(_settings("conv"), N)
    path = tmp_path / "m.keras"
    model.save(path)
    x = _clips()
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "want.npy", backend.to_numpy(model(x)))
    code = textwrap.dedent(
        f"""
        import numpy as np
        from genrevae import backend
        backend.configure_threads({THREADS})  # same numerics as this process
        import keras
        import genrevae.model
        assert backend.name() == {backend.name()!r}
        m = keras.models.load_model({str(path)!r})
        x = np.load({str(tmp_path / 'x.npy')!r})
        assert np.array_equal(backend.to_numpy(m(x)), np.load({str(tmp_path / 'want.npy')!r}))
        print("OK", type(m).__name__)
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "OK ConvVAE" in out.stdout


OTHER_BACKEND = "tensorflow" if backend.name() == "jax" else "jax"


@pytest.mark.slow
@pytest.mark.skipif(
    importlib.util.find_spec("jax") is None or importlib.util.find_spec(OTHER_BACKEND) is None,
    reason=f"needs jax and {OTHER_BACKEND} installed",
)
def test_a_model_saved_on_one_backend_decodes_alike_on_the_other(tmp_path):
    """``model.keras`` is backend-neutral: saved here, loaded in a process on the other backend
    (TensorFlow <-> JAX), it encodes, decodes (clip length and any other length), makes
    waveforms and likelihoods equal to float rounding.  Run under both backends, the suite checks
    both directions."""
    x = _clips()
    want, paths = {}, {}
    for preset, likelihood, head in (("conv", "gaussian", "istft"), ("conv", "bernoulli", "amplitude"), ("report", "gaussian", None)):
        key = f"{preset}-{likelihood}"
        keras.utils.set_random_seed(6)
        settings = _settings(preset, likelihood)
        if head:
            settings["conv"] = {**TINY_CONV, "head": head}
        model = build_model(settings, N)
        if model.log_scale is not None:
            model.log_scale.assign(-1.5)
        paths[key] = str(tmp_path / f"{key}.keras")
        model.save(paths[key])
        mean, logvar = model.encode(x)
        out = model.decode(mean)
        want[f"{key}/mean"], want[f"{key}/logvar"] = backend.to_numpy(mean), backend.to_numpy(logvar)
        want[f"{key}/wave"] = backend.to_numpy(model.waveform(out))
        want[f"{key}/loglik"] = backend.to_numpy(model.log_likelihood(x, out))
        if preset == "conv":
            want[f"{key}/wave700"] = backend.to_numpy(model.waveform(model.decode(mean[:, :30], length=700)))
    np.save(tmp_path / "x.npy", x)
    np.savez(tmp_path / "want.npz", **want)
    code = textwrap.dedent(
        f"""
        import numpy as np
        from genrevae import backend
        backend.configure_threads(1)
        import keras
        from genrevae.model import load_model
        assert backend.name() == {OTHER_BACKEND!r}, backend.name()
        x, want = np.load({str(tmp_path / "x.npy")!r}), np.load({str(tmp_path / "want.npz")!r})
        for key, path in {paths!r}.items():
            model = load_model(path)
            mean, logvar = model.encode(x)
            out = model.decode(mean)
            got = {{"mean": mean, "logvar": logvar, "wave": model.waveform(out), "loglik": model.log_likelihood(x, out)}}
            if key.startswith("conv"):
                got["wave700"] = model.waveform(model.decode(mean[:, :30], length=700))
            for name, value in got.items():
                expected = want[key + "/" + name]
                value = backend.to_numpy(value)
                assert value.shape == expected.shape, (key, name, value.shape)
                scale = 1e-3 if name == "loglik" else 1e-5  # log-likelihoods are thousands of nats
                np.testing.assert_allclose(value, expected, rtol=1e-5, atol=scale, err_msg=key + "/" + name)
            print("OK", key)
        """
    )
    env = {**os.environ, "KERAS_BACKEND": OTHER_BACKEND}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    assert result.stdout.count("OK ") == 3


def test_custom_layers_serialise():
    for layer in (Resnet1DBlock(64, 1, "decode"), ResidualUnit(8, 3, 9)):
        clone = layer.__class__.from_config(layer.get_config())
        assert clone.get_config() == layer.get_config()
    assert keras.saving.get_registered_object("genrevae>ReportVAE") is ReportVAE


def test_report_preset_architecture_at_full_length():
    model = build_model({"preset": "report"}, 90001)
    total = model.count_params()
    first = model.encoder.get_layer(index=2)  # waveform, reshape, Conv1D(64, 1, 2)
    last = model.decoder.layers[-2]  # Conv1DTranspose(90001, 1, 1), then Reshape
    assert isinstance(first, keras.layers.Conv1D) and first.filters == 64
    assert isinstance(last, keras.layers.Conv1DTranspose) and last.filters == 90001
    share = (first.count_params() + last.count_params()) / total
    assert 11_500_000 < total < 12_500_000 and share > 0.95
    blocks = [layer for layer in model.encoder.layers + model.decoder.layers if isinstance(layer, Resnet1DBlock)]
    assert [(b.kernel_size, b.filters, b.kind) for b in blocks] == [(64, 1, "encode")] * 4 + [(64, 1, "decode")] * 4


@pytest.mark.slow
def test_report_preset_encoder_blocks_get_zero_gradient():
    """Instance norm over ONE time step outputs its beta: everything before it is dead."""
    keras.utils.set_random_seed(5)
    model = build_model(_settings("report"), N)
    x = _clips(batch=4)
    # The backend's own training step, plain SGD at rate 1: each weight moves by minus its gradient.
    optimizer = keras.optimizers.SGD(learning_rate=1.0)
    optimizer.build(model.trainable_variables)
    before = {v.path: backend.to_numpy(v) for v in model.trainable_variables}
    step = backend.make_train_step(lambda: -ops.mean(losses.elbo_terms(model, x, seed=0, training=True)["elbo"]), model, optimizer)
    assert np.isfinite(backend.to_numpy(step()))
    grads = {v.path: before[v.path] - backend.to_numpy(v) for v in model.trainable_variables}
    enc_blocks = [layer for layer in model.encoder.layers if isinstance(layer, Resnet1DBlock)]
    assert len(enc_blocks) == 4
    dead = 0
    for block in enc_blocks:
        for conv in (block.conv1a, block.conv1b):
            for var in (conv.kernel, conv.bias):
                assert np.count_nonzero(grads[var.path]) == 0, var.path
            dead += 1
        for var in (block.norm1a.gamma, block.norm1a.beta, block.norm1b.gamma):
            assert np.count_nonzero(grads[var.path]) == 0, var.path
        assert np.count_nonzero(grads[block.norm1b.beta.path]) > 0  # the only live weight
    assert dead == 8
    # the dense "convolutions" around them and the decoder blocks do learn
    first = model.encoder.get_layer(index=2)
    assert np.count_nonzero(grads[first.kernel.path]) > 0
    dec_block = next(layer for layer in model.decoder.layers if isinstance(layer, Resnet1DBlock))
    assert np.count_nonzero(grads[dec_block.conv1a.kernel.path]) > 0
    # and each instance norm indeed outputs a constant over the batch
    h = keras.random.normal((6, 1, 1), seed=0)
    np.testing.assert_allclose(backend.to_numpy(enc_blocks[0].norm1a(h)), np.zeros((6, 1, 1)), atol=1e-6)


def test_invalid_settings():
    with pytest.raises(ValueError, match="preset"):
        section("model", {"preset": "transformer"})
    with pytest.raises(ValueError, match="likelihood"):
        build_model({"likelihood": "laplace"}, 100)
    with pytest.raises(ValueError, match="strides"):
        build_model({"conv": {"strides": []}}, 100)
    with pytest.raises(ValueError, match="model.conv.bands"):
        build_model({"conv": {"bands": 1}}, 100)
    with pytest.raises(ValueError, match="model.conv.head"):
        build_model({"conv": {"head": "vocoder"}}, 100)
    with pytest.raises(ValueError, match=r"model.conv.istft_hop: 64 .* one of \[128, 32, 16, 8\]"):
        build_model({"conv": {"head": "istft", "istft_hop": 64}}, 100)
    for n_fft in (48, 255):  # under 2 hops; odd difference from the hop
        with pytest.raises(ValueError, match=rf"model.conv.istft_n_fft: {n_fft} does not fit istft_hop 32"):
            build_model({"conv": {"head": "istft", "istft_n_fft": n_fft}}, 100)


@pytest.mark.parametrize(("bands", "strides", "hop"), [(8, [2, 2, 4], 32), (4, [4], 4), (4, [8], 4), (2, [2, 3], 4)])
def test_istft_hop_null_is_one_upsampling_stage_for_any_strides(bands, strides, hop):
    conv = {**TINY_CONV, "bands": bands, "strides": strides, "head": "istft"}
    model = build_model({"conv": conv}, 500)
    assert model.istft_hop == hop and model.decoder_stages() == [len(strides) - 1]
    assert model.decode(model.encode(_clips(500, batch=1))[0], length=500).shape == (1, 500)


@pytest.mark.parametrize(("preset", "likelihood"), [("conv", "gaussian"), ("report", "bernoulli")])
def test_compiled_decode_and_encode_give_the_eager_numbers_bit_for_bit(preset, likelihood):
    from genrevae.generation import decode_latents, posteriors

    keras.utils.set_random_seed(4)
    model = build_model(_settings(preset, likelihood), N)
    x = _clips(batch=5)
    batches = (slice(0, 2), slice(2, 4), slice(4, 5))  # the same batches as batch_size=2 below

    def eager(f, a):
        return np.concatenate([np.asarray(f(a[b])) for b in batches])

    means, logvars = posteriors(model, x, batch_size=2)  # traced once for batches of 2, 2 and 1
    assert np.array_equal(means, eager(lambda a: model.encode(a, training=False)[0], x))
    assert np.array_equal(logvars, eager(lambda a: model.encode(a, training=False)[1], x))
    decoded = eager(lambda z: model.waveform(model.decode(z, training=False)), means)
    assert np.array_equal(decode_latents(model, means, batch_size=2), decoded)
    if preset == "conv":  # any number of frames; without a length the decoder's own
        z = means[:, :20]
        assert np.array_equal(decode_latents(model, z, 2), eager(lambda a: model.waveform(model.decode(a)), z))
        with_length = eager(lambda a: model.waveform(model.decode(a, length=300)), z)
        assert np.array_equal(decode_latents(model, z, 2, length=300), with_length)


@pytest.mark.parametrize("kernel_size, strides, frames", [(8, 4, 5), (4, 2, 7), (2, 2, 3), (5, 2, 4), (9, 4, 6)])
def test_upsampling_conv_is_the_stock_transposed_convolution(kernel_size, strides, frames):
    """The decoder's sub-pixel upsampling equals keras' Conv1DTranspose(padding="same") with the
    same weights, odd kernels and kernels that are no multiple of the stride included."""
    from genrevae.blocks import UpsamplingConv1D

    keras.utils.set_random_seed(0)
    stock = keras.layers.Conv1DTranspose(3, kernel_size, strides=strides, padding="same")
    ours = UpsamplingConv1D(3, kernel_size, strides=strides)
    x = np.random.default_rng(1).normal(size=(2, frames, 5)).astype(np.float32)
    stock.build(x.shape)
    ours.build(x.shape)
    ours.kernel.assign(stock.kernel)
    for layer in (stock, ours):
        layer.bias.assign(np.array([0.5, -1.0, 2.0], np.float32))
    expected, got = backend.to_numpy(stock(x)), backend.to_numpy(ours(x))
    assert got.shape == expected.shape == (2, frames * strides, 3)
    np.testing.assert_allclose(got, expected, atol=1e-6)
    with pytest.raises(ValueError, match="kernel_size >= strides"):
        UpsamplingConv1D(3, 2, strides=4)
