import json
import shlex
import sys
from pathlib import Path

SRC_DIR = Path(workflow.basedir) / "src"
# The rules run the workflow's own copy of the package, whatever else is installed.
sys.path.insert(0, str(SRC_DIR))

from genrevae.config import TOY_DATA_DIR, is_toy_data_dir, resolve_config
from genrevae.workflow_support import (
    discover_genres,
    genre_audio_files,
    select_genres,
    split_arguments,
)

config.update(resolve_config(config, Path(workflow.basedir) / "workflow/schemas/config.schema.yaml"))

DATA_DIR = Path(config["data_dir"])
USES_TOY_DATA = is_toy_data_dir(config["data_dir"])
AVAILABLE_GENRES = discover_genres(DATA_DIR, config["toy"]["genres"] if USES_TOY_DATA else None)
GENRES = select_genres(config["genres"], AVAILABLE_GENRES, DATA_DIR)
GENREVAE = f"PYTHONPATH={shlex.quote(str(SRC_DIR))} python -m genrevae"


wildcard_constraints:
    genre="[^/]+",


def package_code(*modules):
    """Source files a rule runs, as inputs: editing them re-runs exactly the rules that use them."""
    return [str(SRC_DIR / "genrevae" / f"{module}.py") for module in ("cli", "config") + modules]


def audio_files(wildcards):
    return genre_audio_files(
        DATA_DIR,
        wildcards.genre,
        AVAILABLE_GENRES,
        toy=config["toy"] if USES_TOY_DATA else None,
    )


def all_targets():
    return expand("results/{genre}/data/split.csv", genre=GENRES)
