"""Training end to end on a tiny synthetic shard: windows, outputs, determinism, resume after SIGKILL, NaN."""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import keras
import numpy as np
import pandas as pd
import pytest

from conftest import backend_threads
from genrevae import backend
from genrevae import train as training
from genrevae.train import envelope, kl_weight_for_step, read_windows, train_genre, window_batch

N_SAMPLES = 2500
TINY = {
    "seed": 7,
    "model": {
        "preset": "conv",
        "conv": {"bands": 4, "width": 4, "max_width": 8, "strides": [8], "kernel_size": 5, "dilations": [1, 3], "latent_channels": 2},
    },
    "train": {
        "steps": 12, "checkpoint_every": 3, "batch_size": 3, "window_samples": 512, "kl_warmup_steps": 6,
        "kl_beta": 0.5, "stft_sizes": [64, 128], "tensorboard_audio": 1,
    },
}
STEPS, EVERY = TINY["train"]["steps"], TINY["train"]["checkpoint_every"]
CHECKPOINTS = STEPS // EVERY


THREADS = backend_threads()


def _write_data(directory: Path, n_clips: int = 10, n_test: int = 3, n: int = N_SAMPLES) -> tuple[Path, Path]:
    rng = np.random.default_rng(42)
    t = np.arange(n) / 3000.0
    freqs = rng.uniform(60, 600, (n_clips, 1))
    clips = 0.3 * np.sin(2 * np.pi * freqs * t) * (0.5 + 0.5 * np.cos(2 * np.pi * 2 * t))
    clips = np.clip(clips + 0.02 * rng.standard_normal((n_clips, n)), -1, 1).astype(np.float32)
    directory.mkdir(parents=True, exist_ok=True)
    np.save(directory / "clips.npy", clips)
    subset = ["train"] * (n_clips - n_test) + ["test"] * n_test
    pd.DataFrame({"clip": range(n_clips), "track": [f"x.{i:05d}.wav" for i in range(n_clips)], "subset": subset}).to_csv(
        directory / "split.csv", index=False
    )
    return directory / "clips.npy", directory / "split.csv"


def _log():
    return logging.getLogger("test.training")


def _weights(out_dir: Path) -> list[np.ndarray]:
    model = keras.models.load_model(out_dir / "model.keras")
    return [v.numpy() for v in model.weights]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return _write_data(tmp_path_factory.mktemp("data"))


@pytest.fixture(scope="module")
def reference(data, tmp_path_factory):
    out = tmp_path_factory.mktemp("reference")
    train_genre(data[0], data[1], out, TINY, THREADS, _log())
    return out


def test_outputs(reference):
    assert sorted(p.name for p in reference.iterdir()) == [
        "checkpoints", "config.json", "epoch_samples.npy", "history.csv", "model.keras", "tensorboard"
    ]
    hist = pd.read_csv(reference / "history.csv")
    assert list(hist.columns) == ["step", "train_loss", "test_elbo", "test_recon", "test_kl", "kl_weight", "seconds", "phase"]
    assert set(hist["phase"]) == {"vae"}
    assert hist["step"].tolist() == [3, 6, 9, 12]
    # KL weight of each row's last step: warm-up over 6 steps to kl_beta 0.5
    assert hist["kl_weight"].tolist() == pytest.approx([0.5 * 2 / 6, 0.5 * 5 / 6, 0.5, 0.5])
    assert np.all(np.isfinite(hist.drop(columns=["step", "phase"]).to_numpy()))
    np.testing.assert_allclose(hist["test_elbo"], hist["test_recon"] - hist["test_kl"], rtol=1e-6)
    samples = np.load(reference / "epoch_samples.npy")
    assert samples.shape == (CHECKPOINTS + 1, 16, 4096) and samples.dtype == np.float32
    assert np.abs(samples).max() <= 1.0
    assert not np.array_equal(samples[0], samples[-1])  # the decoder changed
    config = json.loads((reference / "config.json").read_text())
    assert config["n_samples"] == N_SAMPLES and config["n_train"] == 7 and config["n_test"] == 3
    assert config["settings"]["train"]["batch_size"] == 3 and config["window_samples"] == 512
    assert set(config["settings"]) == {"seed", "sample_rate", "model", "train"}  # what training used, nothing else
    assert config["steps_done"] == STEPS and len(config["data_fingerprint"]) == 64
    assert [p.name for p in (reference / "checkpoints").iterdir()] == [f"step-{STEPS:07d}"]
    model = keras.models.load_model(reference / "model.keras")
    assert model.n_samples == N_SAMPLES and model.latent_shape == (-(-N_SAMPLES // 32), 2)
    # TensorBoard: an event file with the scalars and audio of every checkpoint
    events = list((reference / "tensorboard").glob("events.out.tfevents.*"))
    assert len(events) == 1 and events[0].stat().st_size > 1000


@pytest.mark.slow
def test_same_settings_give_identical_weights(data, reference, tmp_path):
    out = tmp_path / "again"
    train_genre(data[0], data[1], out, TINY, THREADS, _log())
    for a, b in zip(_weights(reference), _weights(out)):
        np.testing.assert_array_equal(a, b)
    h1, h2 = (pd.read_csv(d / "history.csv").drop(columns="seconds") for d in (reference, out))
    pd.testing.assert_frame_equal(h1, h2)
    np.testing.assert_array_equal(np.load(reference / "epoch_samples.npy"), np.load(out / "epoch_samples.npy"))


def _collecting_log(name: str) -> tuple[logging.Logger, list[str]]:
    """A logger whose messages are also collected in the returned list."""
    records: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record):
            records.append(record.getMessage())

    log = logging.getLogger(name)
    log.addHandler(Collect())
    log.setLevel(logging.INFO)
    return log, records


@pytest.mark.slow
def test_resume_after_sigkill(data, reference, tmp_path):
    out = tmp_path / "killed"
    cmd = [
        sys.executable, "-m", "genrevae", "train", "--shard", str(data[0]), "--split", str(data[1]),
        "--out-dir", str(out), "--settings", json.dumps(TINY), "--threads", str(THREADS),
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    try:
        while not list((out / "checkpoints").glob(f"step-{EVERY:07d}")):
            assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
            assert time.monotonic() < deadline, "no checkpoint appeared"
            time.sleep(0.01)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    assert not (out / "model.keras").exists(), "the run finished before it could be killed"
    done = sorted(p.name for p in (out / "checkpoints").glob("step-*"))
    assert done and done[-1] < f"step-{STEPS:07d}"

    log, records = _collecting_log("test.training.resume")
    train_genre(data[0], data[1], out, TINY, THREADS, log)
    assert any(m.startswith("resuming from checkpoint") for m in records), records
    hist = pd.read_csv(out / "history.csv")
    assert hist["step"].tolist() == list(range(EVERY, STEPS + 1, EVERY))
    assert np.load(out / "epoch_samples.npy").shape[0] == CHECKPOINTS + 1
    # a resumed run ends exactly where an uninterrupted one does
    for a, b in zip(_weights(reference), _weights(out)):
        np.testing.assert_array_equal(a, b)
    pd.testing.assert_frame_equal(
        hist.drop(columns="seconds"), pd.read_csv(reference / "history.csv").drop(columns="seconds")
    )


def test_extend_a_finished_run(data, reference, tmp_path, caplog):
    out = tmp_path / "extended"
    shutil.copytree(reference, out)
    more = json.loads(json.dumps(TINY))
    more["train"]["steps"] = STEPS + 2  # steps are not in the fingerprint: continue from the last checkpoint
    with caplog.at_level(logging.INFO, logger="test.training"):
        train_genre(data[0], data[1], out, more, THREADS, _log())
    assert "removing the previous run's" in caplog.text  # the old model.keras is stale
    assert "resuming from checkpoint" in caplog.text and f"step {STEPS} of {STEPS + 2}" in caplog.text
    assert (out / "model.keras").exists()
    hist = pd.read_csv(out / "history.csv")
    assert hist["step"].tolist() == [3, 6, 9, 12, 14]  # the last interval is cut short at the total
    pd.testing.assert_frame_equal(
        hist.iloc[:CHECKPOINTS].drop(columns="seconds"), pd.read_csv(reference / "history.csv").drop(columns="seconds")
    )


@pytest.mark.slow
def test_xla_stft_and_a_fingerprint_mismatch_starts_fresh(data, reference, tmp_path, caplog):
    out = tmp_path / "other"
    shutil.copytree(reference, out)
    settings = json.loads(json.dumps(TINY))
    settings["model"]["conv"].update(dilations=[1])  # XLA compiles slowly on CPU: keep it tiny
    settings["train"].update(steps=2, checkpoint_every=2, xla=True, stft_weight=0.1, window_samples=None)
    with caplog.at_level(logging.INFO, logger="test.training"):
        train_genre(data[0], data[1], out, settings, THREADS, _log())
    assert "different settings/data/threads fingerprint; starting fresh" in caplog.text
    assert pd.read_csv(out / "history.csv")["step"].tolist() == [2]
    assert np.load(out / "epoch_samples.npy").shape[0] == 2
    assert [p.name for p in (out / "checkpoints").iterdir()] == ["step-0000002"]
    assert json.loads((out / "config.json").read_text())["window_samples"] == N_SAMPLES  # null = whole clips


def test_nan_stops_with_a_clear_error_and_keeps_the_last_checkpoint(tmp_path):
    shard, split = _write_data(tmp_path / "data", n_clips=8, n_test=2)
    settings = json.loads(json.dumps(TINY))
    settings["train"].update(batch_size=1, steps=3, checkpoint_every=1, window_samples=None)
    train_idx = np.arange(6)
    window = N_SAMPLES

    def clip_of(seed, step):
        return int(window_batch(seed, step, train_idx, 1, N_SAMPLES, window)[0][0])

    seed = next(s for s in range(100) if clip_of(s, 0) != clip_of(s, 1))
    settings["seed"] = seed
    clips = np.load(shard)
    clips[clip_of(seed, 1), 100] = np.nan  # the one clip step 2 trains on
    np.save(shard, clips)
    out = tmp_path / "out"
    with pytest.raises(RuntimeError, match=r"training loss became nan at step 2/3.*step-0000001 is kept"):
        train_genre(shard, split, out, settings, THREADS, _log())
    assert not (out / "model.keras").exists() and not (out / "history.csv").exists()
    assert [p.name for p in (out / "checkpoints").iterdir()] == ["step-0000001"]
    state = json.loads((out / "checkpoints" / "step-0000001" / "state.json").read_text())
    assert state["step"] == 1 and np.isfinite(state["history"][0]["train_loss"])


@pytest.mark.slow
def test_report_preset_bernoulli_trains(data, tmp_path):
    settings = {
        "seed": 3,
        "model": {"preset": "report", "likelihood": "bernoulli", "latent_dim": 2},
        "train": {"steps": 2, "checkpoint_every": 2, "batch_size": 4, "stft_weight": 0.0},
    }
    train_genre(data[0], data[1], tmp_path, settings, THREADS, _log())
    hist = pd.read_csv(tmp_path / "history.csv")
    assert len(hist) == 1 and np.isfinite(hist["test_elbo"][0])
    # the report preset takes one fixed length: it trains on whole clips, whatever window_samples says
    assert json.loads((tmp_path / "config.json").read_text())["window_samples"] == N_SAMPLES
    assert np.load(tmp_path / "epoch_samples.npy").shape == (2, 16, 4096)
    assert type(keras.models.load_model(tmp_path / "model.keras")).__name__ == "ReportVAE"


def test_configure_threads_refuses_a_change_after_start():
    threads = THREADS
    backend.configure_threads(threads)  # the same number again is fine
    keras.ops.convert_to_tensor(1.0) + 1.0  # the backend is running now
    with pytest.raises(RuntimeError, match="already"):
        backend.configure_threads(threads + 1)
    with pytest.raises(ValueError):
        backend.configure_threads(0)


def test_envelope_keeps_the_largest_magnitude():
    x = np.zeros((1, 8192), np.float32)
    x[0, 3], x[0, 5] = 0.5, -0.9  # blocks of 2 samples: sample 3 is in block 1, sample 5 in block 2
    x[0, 8191] = 0.7
    e = envelope(x)
    assert e.shape == (1, 4096)
    assert e[0, 1] == 0.5 and e[0, 2] == -0.9 and e[0, -1] == 0.7 and np.count_nonzero(e) == 3
    short = np.linspace(-1, 1, 1000, dtype=np.float32)
    es = envelope(short)
    assert es.shape == (4096,) and es[0] == -1 and es[-1] == 1 and set(np.unique(es)) <= set(short)
    odd = np.random.default_rng(0).standard_normal((2, 3, 90001)).astype(np.float32)
    eo = envelope(odd)
    assert eo.shape == (2, 3, 4096) and np.abs(eo).max() == np.abs(odd).max()


def test_windows_and_kl_schedule():
    idx = np.arange(10, 17)
    rows, offsets = window_batch(5, 0, idx, 64, 1000, 100)
    assert rows.shape == offsets.shape == (64,)
    assert set(rows) <= set(idx) and len(set(rows)) > 3  # with replacement, from the train clips only
    assert offsets.min() >= 0 and offsets.max() <= 900 and len(set(offsets)) > 30
    again = window_batch(5, 0, idx, 64, 1000, 100)
    np.testing.assert_array_equal(rows, again[0])
    np.testing.assert_array_equal(offsets, again[1])
    assert not np.array_equal(offsets, window_batch(5, 1, idx, 64, 1000, 100)[1])  # every step its own draw
    clips = np.arange(20 * 1000, dtype=np.float32).reshape(20, 1000)
    x = read_windows(clips, np.array([12, 3]), np.array([7, 900]), 100)
    assert x.shape == (2, 100) and x[0, 0] == 12 * 1000 + 7 and x[1, -1] == 3 * 1000 + 999
    assert window_batch(5, 0, idx, 4, 100, 100)[1].tolist() == [0, 0, 0, 0]  # a window as long as the clip
    train = {"kl_beta": 2.0, "kl_warmup_steps": 4}
    assert [kl_weight_for_step(t, train) for t in range(6)] == [0.0, 0.5, 1.0, 1.5, 2.0, 2.0]
    assert kl_weight_for_step(0, {"kl_beta": 2.0, "kl_warmup_steps": 0}) == 2.0


def test_loss_is_per_sample_so_the_spectral_term_counts():
    """The objective is the negative ELBO per sample plus the STFT distance: doubling the window
    leaves it about the same (it would double if summed over samples)."""
    from genrevae.model import build_model
    from genrevae.objectives import training_loss

    keras.utils.set_random_seed(0)
    model = build_model(TINY["model"], 4096)
    rng = np.random.default_rng(0)
    x = keras.ops.convert_to_tensor((0.2 * rng.standard_normal((2, 4096))).astype(np.float32))
    seed = backend.seed_pair((1, 0))

    def value(loss) -> float:
        return float(backend.to_numpy(loss))

    short, _ = training_loss(model, x[:, :2048], seed, 1.0, 0.0, [64])
    long, terms = training_loss(model, x, seed, 1.0, 0.0, [64])
    assert value(long) == pytest.approx(value(short), rel=0.2)  # summed over samples it would be 2x
    assert value(long) == pytest.approx(float(np.mean(-backend.to_numpy(terms["elbo"]))) / 4096, rel=1e-5)
    with_stft, _ = training_loss(model, x, seed, 1.0, 1.0, [64, 128])
    assert value(with_stft) - value(long) > 0.1  # the spectral term is of order 1, not 1e-5


def test_wall_clock_budget_stops_at_the_checkpoint_that_spends_it(data, tmp_path):
    shard, split = data
    settings = {**TINY, "train": {**TINY["train"], "max_seconds": 1e-6}}
    train_genre(shard, split, tmp_path, settings, THREADS, _log())
    history = pd.read_csv(tmp_path / "history.csv")
    assert list(history["step"]) == [EVERY]  # one interval runs, then the budget is spent
    assert np.load(tmp_path / "epoch_samples.npy").shape[0] == 2
    assert (tmp_path / "model.keras").exists()


# ---------------------------------------------------------------------------
# The optional adversarial phase (train.adversarial)
# ---------------------------------------------------------------------------
ADV_STEPS = 8
ADV = json.loads(json.dumps(TINY))
ADV["train"]["adversarial"] = {"steps": ADV_STEPS, "warmup_steps": 3, "scales": 2, "channels": [4, 8], "kernel_size": 5}
ADV_ROWS = [3, 6, 9, 12, 15, 18, 20]


def _model_weights(out_dir: Path) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """The weights of the saved model's decoder, and all the others."""
    model = keras.models.load_model(out_dir / "model.keras")
    decoder = {id(v) for v in model.decoder.weights}
    return [v.numpy() for v in model.weights if id(v) in decoder], [v.numpy() for v in model.weights if id(v) not in decoder]


@pytest.fixture(scope="module")
def adversarial(data, reference, tmp_path_factory):
    """The finished reference run, continued into the adversarial phase (raising its steps from 0)."""
    out = tmp_path_factory.mktemp("adversarial") / "run"
    shutil.copytree(reference, out)
    log, records = _collecting_log("test.training.adversarial")
    train_genre(data[0], data[1], out, ADV, THREADS, log)
    assert any(m.startswith("resuming from checkpoint") and f"step {STEPS} of {STEPS + ADV_STEPS}" in m for m in records), records
    return out


def test_adversarial_phase_fine_tunes_the_decoder_only(reference, adversarial):
    hist = pd.read_csv(adversarial / "history.csv")
    assert hist["step"].tolist() == ADV_ROWS  # each phase's last interval ends at the phase's end
    assert hist["phase"].tolist() == ["vae"] * CHECKPOINTS + ["adversarial"] * 3
    phase2 = hist[hist["phase"] == "adversarial"]
    for key in ("disc_loss", "gen_spectral", "gen_adversarial", "gen_feature_matching", "train_loss", "test_elbo"):
        assert np.all(np.isfinite(phase2[key])), key
    assert hist["adversarial_weight"].iloc[CHECKPOINTS:].tolist() == pytest.approx([2 / 3, 1.0, 1.0])  # ramp over 3 steps
    assert hist["disc_loss"].iloc[:CHECKPOINTS].isna().all()
    np.testing.assert_allclose(phase2["test_elbo"], phase2["test_recon"] - phase2["test_kl"], rtol=1e-6)
    # the VAE rows are the reference's own
    pd.testing.assert_frame_equal(
        hist.iloc[:CHECKPOINTS][list(pd.read_csv(reference / "history.csv").columns)].drop(columns="seconds"),
        pd.read_csv(reference / "history.csv").drop(columns="seconds"),
    )
    # the encoder (and the Gaussian's scale) stayed as the VAE left them; the decoder moved
    (dec_before, rest_before), (dec_after, rest_after) = _model_weights(reference), _model_weights(adversarial)
    assert len(dec_before) == len(dec_after) and len(rest_before) == len(rest_after) > 0  # the VAE alone, no discriminator
    for a, b in zip(rest_before, rest_after):
        np.testing.assert_array_equal(a, b)
    assert all(not np.array_equal(a, b) for a, b in zip(dec_before, dec_after))
    assert np.load(adversarial / "epoch_samples.npy").shape[0] == len(ADV_ROWS) + 1
    config = json.loads((adversarial / "config.json").read_text())
    assert config["steps_done"] == STEPS + ADV_STEPS and config["adversarial_steps_done"] == ADV_STEPS
    assert config["fingerprint"] == json.loads((reference / "config.json").read_text())["fingerprint"]
    assert len(config["adversarial_fingerprint"]) == 64
    ckpt = adversarial / "checkpoints" / f"step-{STEPS + ADV_STEPS:07d}"
    assert {"discriminator.npz", "discriminator_optimizer.npz", "generator_optimizer.npz"} <= {p.name for p in ckpt.iterdir()}


def test_adversarial_settings_and_their_fingerprints():
    from genrevae.config import sections

    base = sections(TINY, training.SECTIONS)
    adv = sections(ADV, training.SECTIONS)
    more = sections({**ADV, "train": {**ADV["train"], "adversarial": {**ADV["train"]["adversarial"], "steps": 50}}}, training.SECTIONS)
    other = sections({**ADV, "train": {**ADV["train"], "adversarial": {**ADV["train"]["adversarial"], "feature_matching_weight": 2.0}}}, training.SECTIONS)
    assert base["train"]["adversarial"]["steps"] == 0  # off by default
    fp = training.run_fingerprint(base, N_SAMPLES, "data", 1)
    # the VAE steps do not depend on the adversarial settings: runs and their checkpoints are unchanged
    assert training.run_fingerprint(adv, N_SAMPLES, "data", 1) == training.run_fingerprint(other, N_SAMPLES, "data", 1) == fp
    # the adversarial phase's own fingerprint: its settings and where it starts, not its length
    assert training.adversarial_fingerprint(fp, adv) == training.adversarial_fingerprint(fp, more)
    assert training.adversarial_fingerprint(fp, adv) != training.adversarial_fingerprint(fp, other)
    longer = sections({**ADV, "train": {**ADV["train"], "steps": STEPS + 1}}, training.SECTIONS)
    assert training.adversarial_fingerprint(fp, adv) != training.adversarial_fingerprint(fp, longer)
    assert [training.adversarial_weight_for_step(t, adv["train"]) for t in range(STEPS, STEPS + 5)] == pytest.approx([0, 1 / 3, 2 / 3, 1, 1])


def test_discriminator_outputs_and_losses():
    from genrevae import discriminator as d

    keras.utils.set_random_seed(0)
    disc = d.build_discriminator(3, [4, 8, 8], 5, 4)
    x = np.random.default_rng(0).standard_normal((2, 1000)).astype(np.float32)
    per_scale = d.scale_outputs(disc(x), 3)
    assert len(per_scale) == 3 and all(len(s) == 5 for s in per_scale)
    # 1x, 2x, 4x pooled; the score map of each scale is the last output: (batch, steps, 1)
    assert [tuple(s[-1].shape) for s in per_scale] == [(2, 1000 // 16 + 1, 1), (2, 500 // 16 + 1, 1), (2, 250 // 16 + 1, 1)]
    value = lambda t: float(backend.to_numpy(t))  # noqa: E731
    assert value(d.feature_matching_loss(per_scale, per_scale)) == 0.0
    ones = [[np.ones((2, 3, 1), np.float32)]] * 2
    assert value(d.discriminator_hinge_loss(ones, ones)) == pytest.approx(2.0)  # relu(0) + relu(2)
    assert value(d.generator_hinge_loss(ones)) == pytest.approx(-1.0)


def test_a_nan_discriminator_loss_stops_training(data, reference, tmp_path, monkeypatch):
    out = tmp_path / "nan"
    shutil.copytree(reference, out)
    monkeypatch.setattr(training._AdversarialPhase, "step", lambda self, x, seed, weight: (1.0, float("nan"), np.zeros(3)))
    with pytest.raises(RuntimeError, match=rf"discriminator loss became nan at step {STEPS + 1}/{STEPS + ADV_STEPS}.*step-{STEPS:07d} is kept"):
        train_genre(data[0], data[1], out, ADV, THREADS, _log())
    assert not (out / "model.keras").exists()


@pytest.mark.slow
def test_adversarial_steps_zero_changes_nothing(data, reference, tmp_path):
    """Adversarial settings with steps 0 train the very weights of the default config."""
    settings = json.loads(json.dumps(ADV))
    settings["train"]["adversarial"]["steps"] = 0
    train_genre(data[0], data[1], tmp_path, settings, THREADS, _log())
    for a, b in zip(_weights(reference), _weights(tmp_path)):
        np.testing.assert_array_equal(a, b)
    pd.testing.assert_frame_equal(
        pd.read_csv(reference / "history.csv").drop(columns="seconds"), pd.read_csv(tmp_path / "history.csv").drop(columns="seconds")
    )
    assert not any(p.name.startswith("discriminator") for p in (tmp_path / "checkpoints").rglob("*"))


@pytest.mark.slow
def test_adversarial_run_in_one_go_is_deterministic_and_equals_the_continued_one(data, adversarial, tmp_path):
    train_genre(data[0], data[1], tmp_path, ADV, THREADS, _log())
    for a, b in zip(_weights(adversarial), _weights(tmp_path)):
        np.testing.assert_array_equal(a, b)
    pd.testing.assert_frame_equal(
        pd.read_csv(adversarial / "history.csv").drop(columns="seconds"), pd.read_csv(tmp_path / "history.csv").drop(columns="seconds")
    )
    for name in ("discriminator.npz", "generator_optimizer.npz", "discriminator_optimizer.npz"):
        a, b = (np.load(d / "checkpoints" / f"step-{STEPS + ADV_STEPS:07d}" / name) for d in (adversarial, tmp_path))
        for key in a.files:
            np.testing.assert_array_equal(a[key], b[key], err_msg=f"{name} {key}")


@pytest.mark.slow
def test_resume_in_the_adversarial_phase_is_bit_identical(data, reference, adversarial, tmp_path, caplog):
    """A run stopped at its first adversarial checkpoint (step 15, as a kill there would leave it)
    and resumed ends exactly where the uninterrupted one does."""
    out = tmp_path / "stopped"
    shutil.copytree(reference, out)
    short = json.loads(json.dumps(ADV))
    short["train"]["adversarial"]["steps"] = EVERY
    train_genre(data[0], data[1], out, short, THREADS, _log())
    assert pd.read_csv(out / "history.csv")["step"].tolist()[-1] == STEPS + EVERY
    assert [p.name for p in (out / "checkpoints").iterdir()] == [f"step-{STEPS + EVERY:07d}"]
    with caplog.at_level(logging.INFO, logger="test.training"):
        train_genre(data[0], data[1], out, ADV, THREADS, _log())
    assert f"step {STEPS + EVERY} of {STEPS + ADV_STEPS}" in caplog.text
    for a, b in zip(_weights(adversarial), _weights(out)):
        np.testing.assert_array_equal(a, b)
    pd.testing.assert_frame_equal(
        pd.read_csv(adversarial / "history.csv").drop(columns="seconds"), pd.read_csv(out / "history.csv").drop(columns="seconds")
    )
