import functools
import json
import sys
from pathlib import Path

SRC_DIR = Path(workflow.basedir) / "src"
# The package is always this workflow's own src/, whatever else is installed: here, for the
# Snakefile's imports, and in every job through its shell (job_shell_prefix, below).
sys.path.insert(0, str(SRC_DIR))

from genrevae.artifacts.trained_genre import TrainedGenre
from genrevae.config import (
    STAGE_SECTIONS,
    genre_config,
    is_toy_data_dir,
    resolve_config,
)
from genrevae.transfer import transfer_files
from genrevae.workflow_support import command_code as workflow_command_code
from genrevae.workflow_support import (
    discover_genres,
    genre_audio_files,
    genre_other_entries,
    job_shell_prefix,
    prefer_snakemakes_python,
    select_genres,
    split_arguments,
    unused_genre_settings,
)

config.update(
    resolve_config(
        config,
        Path(workflow.basedir) / "workflow/schemas/config.schema.yaml",
        # --config's nested values arrive as strings: typed as YAML would type them.
        command_line=workflow.config_settings.config,
    )
)

DATA_DIR = Path(config["data_dir"])
USES_TOY_DATA = is_toy_data_dir(config["data_dir"])
AVAILABLE_GENRES = discover_genres(
    DATA_DIR, config["toy"]["genres"] if USES_TOY_DATA else None
)
GENRES = select_genres(config["genres"], AVAILABLE_GENRES, DATA_DIR)
unused_genre_settings(config["genre_settings"], AVAILABLE_GENRES, DATA_DIR)
# The layout of a trained genre folder, as wildcard patterns: every rule takes the paths of a
# genre's model, prior, reports, figures, clips and transfers from this one definition.
GENRE = TrainedGenre("results/{genre}")
prefer_snakemakes_python()
# The one way jobs find the package: their shell puts this workflow's src/ first on PYTHONPATH
# (locally, on SLURM and in conda envs alike; see the function for why not an installed copy).
shell.prefix(job_shell_prefix(SRC_DIR))


def command_code(command):
    """The package files `genrevae <command>` runs (its imports, transitively, read from the
    source), declared as inputs so that editing one re-runs the stage and what consumes it.
    cli.py and config.py are not among them: they only wire settings through, and a
    help-text edit must not retrain every genre (see workflow_support.command_code)."""
    return workflow_command_code(SRC_DIR, command)


def genre_folder(wildcards):
    """The job's genre folder, results/<genre>: the model commands take it (--genre-dir) and
    open their genre's files through it; each rule still lists the files it reads as inputs.
    """
    return str(GENRE.path).format(genre=wildcards.genre)


def audio_files(wildcards):
    return genre_audio_files(
        DATA_DIR,
        wildcards.genre,
        AVAILABLE_GENRES,
        toy=config["toy"] if USES_TOY_DATA else None,
    )


def other_entries(wildcards):
    """Dangling links, FIFOs and devices in the genre folder: prepare says what each is."""
    return genre_other_entries(DATA_DIR, wildcards.genre)


@functools.lru_cache(maxsize=None)
def config_of(genre):
    """The config as `genre` uses it: its genre_settings laid over the shared sections."""
    return genre_config(config, genre)


def stage_settings(stage):
    """The config sections `genrevae <stage>` reads (genrevae.config.STAGE_SECTIONS) as the job's
    genre uses them, as one JSON string: a param, so a change to one of them re-runs the stage
    of that genre and nothing else. A job without a genre (fidelity) gets the shared sections.
    """

    def settings(wildcards):
        genre = getattr(wildcards, "genre", None)
        used = config_of(genre) if genre else config
        return json.dumps(
            {key: used[key] for key in STAGE_SECTIONS[stage]}, sort_keys=True
        )

    return settings


# --- Transfer sources: every file of transfer.dir, or else one test clip per genre ------------
TRANSFER_FILES = (
    transfer_files(Path(config["transfer"]["dir"])) if config["transfer"]["dir"] else {}
)


def transfer_sources(genre=None):
    """Source names transferred (into `genre`): the files of transfer.dir into every genre, or
    each genre's first test clip (source name = genre) into every other genre."""
    if TRANSFER_FILES:
        return sorted(TRANSFER_FILES)
    return [g for g in GENRES if g != genre] if len(GENRES) > 1 else []


def transfer_source_input(wildcards):
    if TRANSFER_FILES:
        return {"audio": str(TRANSFER_FILES[wildcards.source])}
    return {
        "shard": f"results/{wildcards.source}/data/clips.npy",
        "split": f"results/{wildcards.source}/data/split.csv",
    }


def transfer_source_arguments(wildcards, input):
    """The source options of `genrevae transfer-source`, as arguments (the rule quotes each)."""
    if TRANSFER_FILES:
        return ["--file", input.audio]
    return ["--genre", wildcards.source, "--shard", input.shard, "--split", input.split]


def transfer_targets():
    genres = [g for g in GENRES if transfer_sources(g)]
    return expand(str(GENRE.transfer_dir), genre=genres)


def all_targets():
    return (
        expand(str(GENRE.generated_dir), genre=GENRES)
        + transfer_targets()
        + ["results/genre_fidelity.csv", "results/index.html"]
    )


# --- Resources ---------------------------------------------------------------------------------
# The models live in genrevae.resources (pure, unit-tested); here they are bound to wildcards.
from genrevae import resources


# Asked by every resource of every job: list each folder once per DAG build.
@functools.lru_cache(maxsize=None)
def _genre_clips(genre):
    """Files of one genre folder (an upper bound on its clips), known before any job ran."""
    toy = config["toy"] if USES_TOY_DATA else None
    return len(genre_audio_files(DATA_DIR, genre, AVAILABLE_GENRES, toy=toy))


def _all_clips():
    return [_genre_clips(g) for g in GENRES]


def light_mem_mb(wildcards, attempt):
    return resources.light_mem_mb(attempt)


def toy_runtime_min(wildcards, attempt):
    return resources.toy_runtime_min(config, attempt)


def data_runtime_min(wildcards, attempt):
    return resources.data_runtime_min(_genre_clips(wildcards.genre), attempt)


def prepare_mem_mb(wildcards, attempt):
    return resources.prepare_mem_mb(config, _genre_clips(wildcards.genre), attempt)


def page_runtime_min(wildcards, attempt):
    return resources.page_runtime_min(_all_clips(), attempt)


def _per_genre(model):
    """A model of (config, clips of the genre, attempt) as a Snakemake resource callable."""
    return lambda wildcards, attempt: model(
        config_of(wildcards.genre), _genre_clips(wildcards.genre), attempt
    )


train_mem_mb = _per_genre(resources.train_mem_mb)
train_runtime_min = _per_genre(resources.train_runtime_min)
prior_mem_mb = _per_genre(resources.prior_mem_mb)
evaluate_mem_mb = _per_genre(resources.evaluate_mem_mb)
evaluate_runtime_min = _per_genre(resources.evaluate_runtime_min)
figures_mem_mb = _per_genre(resources.figures_mem_mb)
figures_runtime_min = _per_genre(resources.figures_runtime_min)
export_mem_mb = _per_genre(resources.export_mem_mb)
quality_mem_mb = _per_genre(resources.quality_mem_mb)
quality_runtime_min = _per_genre(resources.quality_runtime_min)
judge_mem_mb = _per_genre(resources.judge_mem_mb)
judge_runtime_min = _per_genre(resources.judge_runtime_min)


def prior_runtime_min(wildcards, attempt):
    return resources.prior_runtime_min(config_of(wildcards.genre), attempt)


def export_runtime_min(wildcards, attempt):
    return resources.export_runtime_min(config_of(wildcards.genre), attempt)


def transfer_mem_mb(wildcards, attempt):
    return resources.transfer_mem_mb(config_of(wildcards.genre), attempt)


def transfer_runtime_min(wildcards, attempt):
    n_sources = len(transfer_sources(wildcards.genre))
    return resources.transfer_runtime_min(
        config_of(wildcards.genre), n_sources, bool(TRANSFER_FILES), attempt
    )


# The fidelity job runs every genre's model: it is sized by the largest.
def fidelity_mem_mb(wildcards, attempt):
    return max(
        resources.fidelity_mem_mb(config_of(g), _all_clips(), attempt) for g in GENRES
    )


def fidelity_runtime_min(wildcards, attempt):
    return max(
        resources.fidelity_runtime_min(config_of(g), _all_clips(), attempt)
        for g in GENRES
    )
