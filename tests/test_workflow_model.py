"""End-to-end runs of the whole workflow (toy data -> model -> music, page, report) with the real
snakemake CLI, at tiny widths so they fit in CI on 2 cores."""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from workflow_helpers import TINY, copy_workflow, planned_jobs, snakemake, write_config

pytestmark = pytest.mark.workflow

PER_GENRE_RULES = {"train", "prior", "evaluate", "figures", "quality", "judge", "export"}
# What the learned prior feeds: every per-genre rule after it, and the cross-genre ones.
AFTER_PRIOR = {"evaluate", "figures", "quality", "judge", "export"}
FIGURES = [
    "samples_grid.png", "spectrograms.png", "samples_evolution.gif", "reconstructions.png", "loss_curves.png",
    "latent_space.png",
]  # fmt: skip


def _jobs(workdir: Path, snakefile: Path, *targets: str) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for rule, genre in planned_jobs(workdir, *targets, snakefile=snakefile):
        out.setdefault(rule, set()).add(genre)
    out.pop("all", None)
    return out


def _jobs_after_editing(workdir: Path, snakefile: Path, module: str) -> dict[str, set[str]]:
    """The jobs a dry run plans right after ``src/genrevae/<module>`` of the workflow copy
    ``snakefile`` belongs to was edited (a comment line added; Snakemake ignores a mere touch of a
    file whose checksum it knows); the file's content and mtime are restored afterwards."""
    path = snakefile.parent / "src" / "genrevae" / module
    before, content = path.stat(), path.read_bytes()
    try:
        path.write_bytes(content + b"\n# edited by tests/test_workflow_model.py\n")
        os.utime(path, (time.time() + 60, time.time() + 60))
        return _jobs(workdir, snakefile)
    finally:
        path.write_bytes(content)
        os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))


#: Edit a module -> the jobs that re-run (the README's rebuild promises, one row each).
REBUILDS = {
    "cli.py": {},  # wiring and help only
    "config.py": {},
    "page/render.py": {"page": {""}},
    # export lists the figures and the quality report as ancient() inputs (so that
    # `results/<genre>/generated` builds the genre's full set without re-exporting when they change)
    "figures.py": {"figures": {"jazz", "rock"}, "page": {""}},
    "figure_list.py": {"figures": {"jazz", "rock"}, "page": {""}},
    # the features are shared by the measures, the judge and the classifier; the quality stage
    # itself is the measures and the clip sets the judge hears too, not the classifier's code
    "features.py": {"quality": {"jazz", "rock"}, "judge": {"jazz", "rock"}, "fidelity": {""}, "page": {""}},
    "quality.py": {"quality": {"jazz", "rock"}, "judge": {"jazz", "rock"}, "page": {""}},
    "judge/genres.py": {"judge": {"jazz", "rock"}, "page": {""}},
    "fidelity.py": {"fidelity": {""}, "page": {""}},
    # each stage's code is what its command imports (workflow_support.command_code): the export's
    # module is the export's alone, the audio helpers are shared by everything that writes WAVs
    "export.py": {"export": {"jazz", "rock"}, "page": {""}},
    "audio.py": {
        "export": {"jazz", "rock"}, "transfer_source": {""}, "transfer": {"jazz", "rock"},
        "page": {""},
    },  # fmt: skip
    "transfer.py": {"transfer_source": {""}, "transfer": {"jazz", "rock"}, "page": {""}},
    "clip_files.py": {"transfer_source": {""}, "transfer": {"jazz", "rock"}, "page": {""}},
    "genre_model.py": {"transfer": {"jazz", "rock"}, "page": {""}},
    "clip_jobs.py": {"transfer": {"jazz", "rock"}, "page": {""}},
    # shared by the prior and everything after it: the export re-runs through prior.keras
    "generation.py": {
        rule: {"jazz", "rock"}
        for rule in ("prior", "evaluate", "figures", "quality", "judge", "export", "transfer")
    } | {"fidelity": {""}, "page": {""}},
    # the prior package: importing genrevae.prior runs all its modules, so its training loop is
    # code of the prior and of every stage that loads prior.keras
    "prior/fit.py": {
        rule: {"jazz", "rock"}
        for rule in ("prior", "evaluate", "figures", "quality", "judge", "export", "transfer")
    } | {"fidelity": {""}, "page": {""}},
}

#: Change a config section -> the jobs that re-run: each section drives its own stage.
SECTION_REBUILDS = {
    ("export", "n_generated", 3): {"export": {"jazz", "rock"}, "page": {""}},
    ("figures", "gif_fps", 3): {"figures": {"jazz", "rock"}, "page": {""}},
    ("quality", "n_generated", 3): {"quality": {"jazz", "rock"}, "judge": {"jazz", "rock"}, "page": {""}},  # the same clips
    ("judge", "min_real_accuracy", 0.75): {"judge": {"jazz", "rock"}, "page": {""}},
    ("fidelity", "n_generated", 3): {"fidelity": {""}, "page": {""}},
    ("features", "n_mfcc", 12): {"quality": {"jazz", "rock"}, "fidelity": {""}, "page": {""}},
    ("audio", "peak_dbfs", -3.0): {
        "export": {"jazz", "rock"}, "transfer_source": {""}, "transfer": {"jazz", "rock"}, "page": {""},
    },  # fmt: skip
}


def test_main_command_then_everything_then_the_report(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    # A copy of the workflow: the rebuild checks below edit its code, never the source tree's.
    snakefile = copy_workflow(tmp_path_factory.mktemp("workflow"))

    def run(*args: str) -> None:
        snakemake(tmp_path, *args, snakefile=snakefile)

    def planned() -> dict[str, set[str]]:
        return _jobs(tmp_path, snakefile)

    write_config(tmp_path, **TINY)

    # The project's main command builds jazz's full set of artifacts and nothing of rock.
    run("results/jazz/generated")
    jazz = tmp_path / "results/jazz"
    metrics = json.loads((jazz / "metrics.json").read_text())
    assert metrics["test"]["iwae_nats"] >= metrics["test"]["elbo_nats"] - 1e-3
    assert np.isfinite(metrics["train"]["elbo_nats"])
    learned = metrics["test"]["learned_prior"]  # evaluate got the fitted prior
    assert learned["iwae_nats"] >= learned["elbo_nats"] - 1e-3
    assert all(np.isfinite(v) for v in learned.values())
    prior_report = json.loads((jazz / "prior/prior.json").read_text())
    assert prior_report["settings"]["hidden"] == TINY["prior"]["hidden"] and prior_report["history"][-1]["step"] == 20
    assert set(prior_report["report"]["test"]) >= {"standard_normal", "var", "learned"}
    assert (jazz / "prior/prior.keras").stat().st_size > 1000
    for name in FIGURES:
        assert (jazz / "figures" / name).stat().st_size > 1000
    quality = json.loads((jazz / "generation_quality.json").read_text())
    assert quality["genre"] == "jazz" and quality["prior"] == "learned"
    assert set(quality["controls"]) == {"phase_randomised", "reconstructions", "gaussian_prior"}
    judge = json.loads((jazz / "judge.json").read_text())  # musicnn on the same clip sets
    assert judge["genre"] == "jazz" and judge["verdict"]["judged_as"] == "jazz"
    assert set(judge["embedding"]["controls"]) == set(quality["controls"])
    assert judge["n_clips"] == {**quality["n_clips"], **{name: c["n_clips"] for name, c in quality["controls"].items()}}
    assert judge["embedding"]["n_patches"]["test"] == quality["n_clips"]["test"]  # one 3 s patch per 3 s clip
    manifest = pd.read_csv(jazz / "generated/manifest.csv")
    assert {"sample", "gaussian_sample", "original", "reconstruction", "interpolation"} <= set(manifest["kind"])
    n = TINY["export"]["n_generated"]
    for kind in ("sample", "gaussian_sample"):  # the learned prior's and N(0, I)'s, with the same seeds
        assert manifest.loc[manifest["kind"] == kind, "seed"].tolist() == list(range(123, 123 + n))
    for name in manifest["file"]:
        audio, rate = sf.read(str(jazz / "generated" / name))
        assert rate == 3000 and audio.shape == (9001,) and np.abs(audio).max() <= 1.0
    history = pd.read_csv(jazz / "model/history.csv")
    assert list(history["step"]) == [2, 4]  # train.steps 4, checkpoint_every 2
    assert (jazz / "model/checkpoints/step-0000004").is_dir()
    assert list((jazz / "model/tensorboard").glob("events.out.tfevents.*"))
    assert not (tmp_path / "results/rock").exists() and not (tmp_path / "results/transfer").exists()
    # Every TensorFlow job logs its start-up time (benchmarks/bench.py splits start-up from work).
    for rule in sorted(PER_GENRE_RULES):
        log_text = (tmp_path / f"results/logs/{rule}/jazz.log").read_text()
        seconds = float(re.search(r"start-up took ([0-9.]+) s", log_text).group(1))
        assert 0.1 < seconds < 600, (rule, seconds)

    # Everything: the other genre, genre fidelity and the listening page.
    run()
    fidelity = pd.read_csv(tmp_path / "results/genre_fidelity.csv")
    assert sorted(fidelity["genre"]) == ["jazz", "rock"]
    assert fidelity["fidelity"].between(0, 1).all()
    page = (tmp_path / "results/index.html").read_text()
    assert "jazz/generated/playback/sample_00_seed123.wav" in page and "<audio" in page
    assert "jazz/generated/playback/gaussian_00_seed123.wav" in page  # the N(0, I) baseline beside it
    # Transfers: each genre's first test clip re-played by the other genre's model, on the page.
    for genre, source in (("jazz", "rock"), ("rock", "jazz")):
        folder = tmp_path / f"results/{genre}/transfer"
        assert {p.name for p in folder.iterdir() if not p.name.startswith(".")} == {f"{source}.json", f"{source}.wav", "playback"}
        record = json.loads((folder / f"{source}.json").read_text())
        assert record["genre"] == genre and record["strength"] == 0.0
        audio, rate = sf.read(str(folder / f"{source}.wav"))
        assert rate == 3000 and audio.shape == (9001,) and np.abs(audio).max() > 0
        origin = json.loads((tmp_path / f"results/transfer/sources/{source}.json").read_text())
        assert origin["genre"] == source and origin["description"].startswith(f"test clip {source}.")
        assert f"{genre}/transfer/playback/{source}.wav" in page
        assert (tmp_path / f"results/thumbnails/{genre}/transfer/{source}.png").is_file()
    assert 'id="transfers"' in page and (tmp_path / "results/thumbnails/jazz/generated/sample_00_seed123.png").is_file()
    assert planned() == {}

    # Editing a module re-runs the stages that run it and what reads their outputs, nothing else.
    for module, expected in REBUILDS.items():
        assert _jobs_after_editing(tmp_path, snakefile, module) == expected, module
    retrain = _jobs_after_editing(tmp_path, snakefile, "train.py")
    assert retrain["train"] == {"jazz", "rock"} and "prepare" not in retrain
    # the genre folder's one reader and writer is code of training and of every stage after it
    layout = _jobs_after_editing(tmp_path, snakefile, "artifacts/trained_genre.py")
    assert layout == retrain, layout

    # A stage's config section re-runs that stage and what reads its outputs; a training one
    # re-trains and so refits the prior; a prior one refits the prior and redoes what uses it.
    for (name, key, value), expected in SECTION_REBUILDS.items():
        write_config(tmp_path, **{**TINY, name: {**TINY.get(name, {}), key: value}})
        assert planned() == expected, (name, key)
    write_config(tmp_path, **{**TINY, "train": {**TINY["train"], "steps": 6}})
    jobs = planned()
    assert jobs["train"] == {"jazz", "rock"} and jobs["prior"] == {"jazz", "rock"} and "prepare" not in jobs
    write_config(tmp_path, **{**TINY, "prior": {**TINY["prior"], "steps": 30}})
    jobs = planned()
    assert "train" not in jobs and jobs["prior"] == {"jazz", "rock"}
    assert {rule: jobs.get(rule) for rule in AFTER_PRIOR} == dict.fromkeys(AFTER_PRIOR, {"jazz", "rock"})
    assert jobs["fidelity"] == {""} and jobs["page"] == {""}
    # One genre's own settings (genre_settings) re-run that genre's stages and the cross-genre ones.
    write_config(tmp_path, **{**TINY, "genre_settings": {"rock": {"prior": {"steps": 30}}}})
    jobs = planned()
    assert "train" not in jobs and jobs["prior"] == {"rock"}
    assert {rule: jobs.get(rule) for rule in AFTER_PRIOR} == dict.fromkeys(AFTER_PRIOR, {"rock"})
    assert jobs["fidelity"] == {""} and jobs["page"] == {""}
    write_config(tmp_path, **{**TINY, "genre_settings": {"jazz": {"train": {"steps": 6}}}})
    jobs = planned()
    assert jobs["train"] == {"jazz"} and jobs["prior"] == {"jazz"} and "prepare" not in jobs

    # The report builds from the finished run.
    write_config(tmp_path, **TINY)
    run("--report", str(tmp_path / "report.html"))
    assert (tmp_path / "report.html").stat().st_size > 100_000

    # Transfer settings re-run the transfers and the page, nothing else; a folder of one's own
    # files (any rate and channels) replaces the test clips, and a changed file re-runs only them.
    write_config(tmp_path, **{**TINY, "transfer": {"strength": 0.5}})
    assert planned() == {"transfer": {"jazz", "rock"}, "page": {""}}
    mine = tmp_path / "mine"
    mine.mkdir()
    tone = 0.3 * np.sin(2 * np.pi * 330 * np.arange(5 * 44100) / 44100)
    sf.write(str(mine / "song one.flac"), np.stack([tone, 0.5 * tone], axis=1), 44100)
    write_config(tmp_path, **{**TINY, "transfer": {"dir": str(mine)}})
    assert planned() == {"transfer_source": {""}, "transfer": {"jazz", "rock"}, "page": {""}}
    run()
    for genre in ("jazz", "rock"):
        audio, rate = sf.read(str(tmp_path / f"results/{genre}/transfer/song_one.wav"))
        assert rate == 3000 and abs(audio.shape[0] - 5 * 3000) <= 1
        assert not (tmp_path / f"results/{genre}/transfer/rock.wav").exists()
    page = (tmp_path / "results/index.html").read_text()
    assert "jazz/transfer/playback/song_one.wav" in page and "rock/transfer/playback/jazz.wav" not in page
    assert planned() == {}
    sf.write(str(mine / "song one.flac"), np.stack([tone, tone], axis=1), 44100)
    assert planned() == {"transfer_source": {""}, "transfer": {"jazz", "rock"}, "page": {""}}


def test_report_preset_end_to_end(tmp_path: Path) -> None:
    config = {
        **TINY,
        "toy": {"genres": ["jazz"], "clips_per_genre": 4, "duration": 2.0},
        "clip_seconds": 1.0,
        "model": {"preset": "report", "likelihood": "bernoulli", "latent_dim": 2},
    }
    write_config(tmp_path, **config)
    snakemake(tmp_path, "results/jazz/metrics.json")
    metrics = json.loads((tmp_path / "results/jazz/metrics.json").read_text())
    assert metrics["latent_dims"] == 2
    assert metrics["test"]["iwae_nats"] >= metrics["test"]["elbo_nats"] - 1e-3
    # the learned prior of a latent vector: a mixture over one-frame sequences
    assert metrics["test"]["learned_prior"]["iwae_nats"] >= metrics["test"]["learned_prior"]["elbo_nats"] - 1e-3
    assert json.loads((tmp_path / "results/jazz/prior/prior.json").read_text())["report"]["test"]["frames"] == 1
    model_config = json.loads((tmp_path / "results/jazz/model/config.json").read_text())
    assert model_config["n_samples"] == 3001
