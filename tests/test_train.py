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
    assert list(hist.columns) == ["step", "train_loss", "test_elbo", "test_recon", "test_kl", "kl_weight", "seconds"]
    assert hist["step"].tolist() == [3, 6, 9, 12]
    # KL weight of each row's last step: warm-up over 6 steps to kl_beta 0.5
    assert hist["kl_weight"].tolist() == pytest.approx([0.5 * 2 / 6, 0.5 * 5 / 6, 0.5, 0.5])
    assert np.all(np.isfinite(hist.drop(columns="step").to_numpy()))
    np.testing.assert_allclose(hist["test_elbo"], hist["test_recon"] - hist["test_kl"], rtol=1e-6)
    samples = np.load(reference / "epoch_samples.npy")
    assert samples.shape == (CHECKPOINTS + 1, 16, 4096) and samples.dtype == np.float32
    assert np.abs(samples).max() <= 1.0
    assert not np.array_equal(samples[0], samples[-1])  # the decoder changed
    config = json.loads((reference / "config.json").read_text())
    assert config["n_samples"] == N_SAMPLES and config["n_train"] == 7 and config["n_test"] == 3
    assert config["settings"]["train"]["batch_size"] == 3 and config["window_samples"] == 512
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

    records = []

    class Collect(logging.Handler):
        def emit(self, record):
            records.append(record.getMessage())

    log = logging.getLogger("test.training.resume")
    log.addHandler(Collect())
    log.setLevel(logging.INFO)
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

    keras.utils.set_random_seed(0)
    model = build_model(TINY["model"], 4096)
    rng = np.random.default_rng(0)
    x = keras.ops.convert_to_tensor((0.2 * rng.standard_normal((2, 4096))).astype(np.float32))
    seed = backend.seed_pair((1, 0))

    def value(loss) -> float:
        return float(backend.to_numpy(loss))

    short, _ = training.training_loss(model, x[:, :2048], seed, 1.0, 0.0, [64])
    long, terms = training.training_loss(model, x, seed, 1.0, 0.0, [64])
    assert value(long) == pytest.approx(value(short), rel=0.2)  # summed over samples it would be 2x
    assert value(long) == pytest.approx(float(np.mean(-backend.to_numpy(terms["elbo"]))) / 4096, rel=1e-5)
    with_stft, _ = training.training_loss(model, x, seed, 1.0, 1.0, [64, 128])
    assert value(with_stft) - value(long) > 0.1  # the spectral term is of order 1, not 1e-5


def test_wall_clock_budget_stops_at_the_checkpoint_that_spends_it(data, tmp_path):
    shard, split = data
    settings = {**TINY, "train": {**TINY["train"], "max_seconds": 1e-6}}
    train_genre(shard, split, tmp_path, settings, THREADS, _log())
    history = pd.read_csv(tmp_path / "history.csv")
    assert list(history["step"]) == [EVERY]  # one interval runs, then the budget is spent
    assert np.load(tmp_path / "epoch_samples.npy").shape[0] == 2
    assert (tmp_path / "model.keras").exists()
