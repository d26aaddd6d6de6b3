#!/usr/bin/env python
"""Continue one checkpointed training run by more VAE steps or by adversarial steps, and measure
the reconstructions (issue 20, item 3: does `train.adversarial` pay for its compute?).

    python benchmarks/adversarial_continue.py --run RUN --shard clips.npy --split split.csv \\
        --settings settings.json --out OUT --mode adversarial --extra 250 --warmup 50
    python benchmarks/adversarial_continue.py ... --mode vae --extra 250     # the control
    python benchmarks/adversarial_continue.py ... --mode measure --model model.keras

`RUN` is a training run's folder whose newest checkpoint is copied into `OUT/run` (e.g.
`<workdir>/runs/new-jazz` of `quality_per_compute.py --keep`); `settings.json` its settings (the
`seed, sample_rate, model, train` sections, `train.steps` = the checkpoint's step; the worker log
of quality_per_compute prints them), the shard and split are copied into `OUT/data` under their
own names so the run's data fingerprint matches.  Run it with the run's `KERAS_BACKEND` and one
thread (both are in the fingerprint): the trainer must log "resuming from checkpoint".

`--mode vae` raises `train.steps` by `--extra`; `--mode adversarial` sets
`train.adversarial = {steps: --extra, warmup_steps: --warmup, **--adv}` (the schema's other
defaults);
re-running a mode with a larger `--extra` on the same `OUT` continues it.  Then, on the test clips,
the reconstructions from the posterior mean: the MR-STFT distance to the originals and the
Frechet-MFCC, segment and note ratios of `genrevae.quality.generation_quality` (the
reconstructions as the "generated" set).  Writes `OUT/result.json` and prints it.
"""

from __future__ import annotations

import argparse
import copy
import json
import logging
import shutil
import time
from pathlib import Path

import numpy as np
import pandas as pd


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--run", help="a training run's folder (its newest checkpoint is copied)")
    p.add_argument("--shard", required=True)
    p.add_argument("--split", required=True)
    p.add_argument("--settings", required=True, help="JSON file of the run's settings")
    p.add_argument("--out", required=True)
    p.add_argument("--mode", choices=["vae", "adversarial", "measure"], required=True)
    p.add_argument("--extra", type=int, default=250, help="steps added after the checkpoint's")
    p.add_argument("--warmup", type=int, default=50, help="train.adversarial.warmup_steps")
    p.add_argument("--adv", default="{}", help="more train.adversarial settings, as JSON")
    p.add_argument("--model", help="--mode measure: the model.keras to measure")
    a = p.parse_args()

    from genrevae import backend

    backend.configure_threads(1)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    log = logging.getLogger("adversarial_continue")
    out = Path(a.out)
    (out / "data").mkdir(parents=True, exist_ok=True)
    settings = json.loads(Path(a.settings).read_text())
    shard, split = (out / "data" / Path(f).name for f in (a.shard, a.split))
    for src, dst in ((a.shard, shard), (a.split, split)):
        if not dst.exists():
            shutil.copy(src, dst)
    result: dict = {"mode": a.mode, "extra": a.extra}
    if a.mode == "measure":
        model_path = Path(a.model)
    else:
        from genrevae.train import train_genre

        run = out / "run"
        if not run.exists():
            latest = sorted((Path(a.run) / "checkpoints").glob("step-*"))[-1]
            shutil.copytree(latest, run / "checkpoints" / latest.name)
        s = copy.deepcopy(settings)
        vae_steps = int(s["train"]["steps"])
        if a.mode == "vae":
            s["train"]["steps"] = vae_steps + a.extra
        else:
            s["train"]["adversarial"] = {"steps": a.extra, "warmup_steps": a.warmup, **json.loads(a.adv)}
        t0 = time.perf_counter()
        train_genre(shard, split, run, s, 1, log)
        hist = pd.read_csv(run / "history.csv")
        result.update(wall_s=time.perf_counter() - t0, history=hist.to_dict("records"),
                      train_seconds_after_checkpoint=float(hist.loc[hist["step"] > vae_steps, "seconds"].sum()))  # fmt: skip
        model_path = run / "model.keras"

    from genrevae.generation import decode_latents, posterior_means
    from genrevae.losses import multi_resolution_stft_distance
    from genrevae.model import load_model
    from genrevae.quality import generation_quality

    clips = np.load(shard, mmap_mode="r")
    table = pd.read_csv(split, keep_default_na=False)
    idx = {n: np.sort(table.loc[table["subset"] == n, "clip"].to_numpy()) for n in ("train", "test")}
    train, test = np.asarray(clips[idx["train"]], np.float32), np.asarray(clips[idx["test"]], np.float32)
    vae = load_model(model_path)
    recon = np.asarray(decode_latents(vae, posterior_means(vae, test, 8), 8, length=test.shape[1]), np.float32)
    stft = backend.to_numpy(multi_resolution_stft_distance(test, recon)).astype(np.float64)
    q = generation_quality(recon, train, test, int(settings["sample_rate"]))
    result.update(model=str(model_path), recon_stft=float(stft.mean()), recon_frechet_ratio=q["ratio"],
                  recon_segment_ratio=q["segment_ratio"], recon_note_ratio=q["note_ratio"], rms=q["rms"])  # fmt: skip
    (out / "result.json").write_text(json.dumps(result, indent=1, default=float))
    print(json.dumps({k: v for k, v in result.items() if k != "history"}, indent=1, default=float))


if __name__ == "__main__":
    main()
