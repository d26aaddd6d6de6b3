"""The course report's way of doing the work, rebuilt as the baseline the benchmarks compare with.

Reconstructed from /work/shared/seed/music_vae_report.txt (see the report's ``load``,
``map_data``, ``train_step`` and training loop); written here from that description, not copied
from anywhere else:

* Data: ``librosa.load(path, sr=3000, offset=0.0, duration=30)`` per file, in a plain Python
  loop (``reshape(1, 90001)``; we crop/zero-pad to ``n_samples`` first so short clips do not
  crash, which the report's ``reshape`` would).
* Training: ``tf.data.Dataset.from_tensor_slices(files).map(map_data).batch(BATCH_SIZE)`` with
  ``map_data = lambda f: tf.compat.v1.py_func(load, [f], [tf.float32])``, so every epoch decodes
  and resamples every file again, one at a time, under the GIL, with no prefetch; each batch is
  turned into a NumPy array (``np.asarray(train_x)[0]``) and fed to a ``@tf.function`` train step
  without ``input_signature`` and without XLA.

To compare the input pipeline and the step compilation and nothing else, the step computes our
own loss (``genrevae.losses.elbo_terms``, KL weight 1) on our own model with the report's
Adam(3e-4, 0.9, 0.999, 1e-8): same model, same data, same batches, same threads.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Sequence

import numpy as np


def fit_length(audio: np.ndarray, n_samples: int) -> np.ndarray:
    """Crop or zero-pad a 1-D clip to exactly ``n_samples`` float32 values."""
    out = np.zeros(n_samples, dtype=np.float32)
    kept = np.asarray(audio, dtype=np.float32)[:n_samples]
    out[: kept.shape[0]] = kept
    return out


def report_load(path: str | bytes, sample_rate: int, clip_seconds: float, n_samples: int) -> np.ndarray:
    """The report's ``load(file_)``: librosa decode + resample, shaped ``(1, n_samples)``."""
    import librosa

    if isinstance(path, bytes):  # what py_func hands over
        path = path.decode()
    data_, _ = librosa.load(path, sr=sample_rate, offset=0.0, duration=clip_seconds)
    return fit_length(data_, n_samples).reshape(1, n_samples)


def report_data_loop(files: Sequence[Path], sample_rate: int, clip_seconds: float, n_samples: int) -> float:
    """Seconds to load every file the report's way, one after the other."""
    t0 = time.perf_counter()
    for path in files:
        report_load(str(path), sample_rate, clip_seconds, n_samples)
    return time.perf_counter() - t0


class ReportTrainingLoop:
    """The report's training loop on our model: librosa in tf.data via py_func, per epoch.

    ``block(batches)`` runs one "epoch" over the given batches of clip indices (files are
    looked up in ``paths``) and returns its wall time in seconds.
    """

    def __init__(self, model, paths: Sequence[str], n_samples: int, sample_rate: int, clip_seconds: float, seed: int):
        import keras
        import tensorflow as tf

        from genrevae import losses

        self.model = model
        self.paths = [str(p) for p in paths]
        self.n_samples = int(n_samples)
        self.seed = int(seed)
        self.step_count = 0
        self.optimizer = keras.optimizers.Adam(learning_rate=3e-4, beta_1=0.9, beta_2=0.999, epsilon=1e-8)
        self.optimizer.build(model.trainable_variables)
        n = self.n_samples

        def load(file_):
            return report_load(file_, sample_rate, clip_seconds, n)

        self.map_data = lambda filename: tf.compat.v1.py_func(load, [filename], [tf.float32])

        @tf.function
        def train_step(x, seed_pair):
            with tf.GradientTape() as tape:
                x = tf.reshape(x, (-1, n))  # the report's (batch, 1, n) -> our model's (batch, n)
                t = losses.elbo_terms(model, x, seed_pair, training=True)
                loss = -tf.reduce_mean(t["recon"] - t["kl"])
            gradients = tape.gradient(loss, model.trainable_variables)
            self.optimizer.apply_gradients(zip(gradients, model.trainable_variables))
            return loss

        self.train_step = train_step

    def block(self, batches: Sequence[np.ndarray]) -> float:
        import tensorflow as tf

        files = [self.paths[int(i)] for batch in batches for i in batch]
        batch_size = len(batches[0])
        t0 = time.perf_counter()
        train_dataset = tf.data.Dataset.from_tensor_slices(files).map(self.map_data).batch(batch_size)
        for train_x in train_dataset:
            train_x = np.asarray(train_x)[0]
            self.train_step(train_x, tf.constant([self.seed, self.step_count], tf.int32))
            self.step_count += 1
        return time.perf_counter() - t0

    def traces(self) -> int:
        return int(self.train_step.experimental_get_tracing_count())
