import json
import sys
from pathlib import Path

SRC_DIR = Path(workflow.basedir) / "src"
# The rules run the workflow's own copy of the package, whatever else is installed.
sys.path.insert(0, str(SRC_DIR))

from genrevae.config import is_toy_data_dir, resolve_config
from genrevae.workflow_support import (
    discover_genres,
    genre_audio_files,
    prepare_job_environment,
    select_genres,
    split_arguments,
)

config.update(
    resolve_config(
        config, Path(workflow.basedir) / "workflow/schemas/config.schema.yaml"
    )
)

DATA_DIR = Path(config["data_dir"])
USES_TOY_DATA = is_toy_data_dir(config["data_dir"])
AVAILABLE_GENRES = discover_genres(
    DATA_DIR, config["toy"]["genres"] if USES_TOY_DATA else None
)
GENRES = select_genres(config["genres"], AVAILABLE_GENRES, DATA_DIR)
prepare_job_environment(SRC_DIR)


def package_code(*modules):
    """The package modules a job runs, declared as inputs so that editing one re-runs its jobs."""
    return [
        str(SRC_DIR / "genrevae" / f"{module}.py")
        for module in ("cli", "config") + modules
    ]


def audio_files(wildcards):
    return genre_audio_files(
        DATA_DIR,
        wildcards.genre,
        AVAILABLE_GENRES,
        toy=config["toy"] if USES_TOY_DATA else None,
    )


def model_settings(*keys):
    """Config sections a model job needs, as one JSON string: a param, so changes re-run it."""
    return json.dumps({key: config[key] for key in keys}, sort_keys=True)


def train_mem_mb(wildcards, input, attempt):
    """Shard in memory plus TensorFlow's footprint, more on each retry."""
    return int((2000 + 4 * input.size_mb) * attempt)


def train_runtime_min(wildcards, attempt):
    return 120 * attempt


def all_targets():
    return expand("results/{genre}/generated", genre=GENRES) + [
        "results/genre_fidelity.csv",
        "results/index.html",
    ]
