"""Decisions the Snakefile makes at DAG-building time, kept here so they are plain, testable code."""

from __future__ import annotations

import functools
import json
import logging
import os
import re
import shlex
import sys
from pathlib import Path
from typing import Any, Mapping, Sequence

from genrevae.config import ConfigError, check_genre_name

log = logging.getLogger(__name__)


def prefer_snakemakes_python() -> None:
    """Put the directory of the Python that runs Snakemake first on the jobs' PATH, so their
    ``python`` is the one with the workflow's dependencies also when its virtual environment is
    not activated (``.venv/bin/snakemake ...``).  This chooses the interpreter only; where the
    package comes from is :func:`job_shell_prefix`'s business.  Under ``--sdm conda`` Snakemake
    activates the job's env after this, so the env's own Python comes first there."""
    os.environ["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]])


def job_shell_prefix(src_dir: Path) -> str:
    """The prefix of every job's shell command (for ``shell.prefix``): Snakemake's default strict
    mode, then PYTHONPATH with this workflow's ``src/`` first.

    This is how every job finds the package, and the only way: locally, on SLURM (whose jobs
    re-read the Snakefile and so get the same prefix) and in conda envs, whose jobs Snakemake
    strips of an inherited PYTHONPATH.  A job therefore always runs the code of the checkout
    whose files its rule declares as code inputs, never another checkout's installed or
    editable copy (two clones, a test's temporary copy, a conda env shared via
    ``--conda-prefix``).  Snakemake formats the prefix with each command, hence the doubled
    braces."""
    return f"set -euo pipefail; export PYTHONPATH={shlex.quote(str(src_dir))}${{{{PYTHONPATH:+:$PYTHONPATH}}}}; "


def _visible_entries(folder: Path) -> tuple[list[Path], list[Path]]:
    """The regular files of ``folder`` and its other entries that are not folders (dangling
    links, FIFOs, devices, sockets).  Hidden names are editor/OS droppings and our own
    atomic-write temp files.  scandir: the file type comes with the listing, no stat per file
    (a GTZAN genre has 100)."""
    files, others = [], []
    with os.scandir(folder) as entries:
        for entry in entries:
            if entry.name.startswith("."):
                continue
            if entry.is_file():
                files.append(Path(entry.path))
            elif not entry.is_dir():
                others.append(Path(entry.path))
    return sorted(files), sorted(others)


def _visible_files(folder: Path) -> list[Path]:
    return _visible_entries(folder)[0]


def discover_genres(data_dir: Path, toy_genres: Sequence[str] | None = None) -> list[str]:
    """Genres available under data_dir: the toy genres, or every sub-folder holding a file."""
    if toy_genres is not None:
        return sorted(toy_genres)
    if not data_dir.is_dir():
        raise ConfigError(
            f"config key 'data_dir': folder '{data_dir}' does not exist; point it at a GTZAN-style "
            "folder (genres_original/<genre>/<file>.wav), e.g. --config data_dir=/path/to/genres_original"
        )
    genres = []
    for folder in sorted(p for p in data_dir.iterdir() if p.is_dir() and not p.name.startswith(".")):
        if _visible_files(folder):
            genres.append(folder.name)
        else:
            log.warning("skipping empty genre folder %s", folder)
    if not genres:
        raise ConfigError(
            f"config key 'data_dir': '{data_dir}' has no genre sub-folder with files; expected "
            "<data_dir>/<genre>/<file>.wav"
        )
    return genres


def unknown_genre_error(genre: str, available: Sequence[str], data_dir: Path) -> ConfigError:
    return ConfigError(
        f"genre '{genre}' does not exist (or has no files) under data_dir '{data_dir}'; "
        f"genres that do: {', '.join(available)}"
    )


def unused_genre_settings(genre_settings: Mapping[str, Any], available: Sequence[str], data_dir: Path) -> list[str]:
    """Warn about config `genre_settings` of a genre that `data_dir` does not have, and return
    those genres' names. A warning, not an error: one config (the shipped config.yaml sets each toy
    genre's prior) must also run on a folder without those genres; but a
    misspelt genre's settings must not be ignored silently."""
    unused = [genre for genre in genre_settings if genre not in available]
    for genre in unused:
        log.warning(
            "config key 'genre_settings.%s' is not used: %s", genre, unknown_genre_error(genre, available, data_dir)
        )
    return unused


def select_genres(requested: Sequence[str], available: Sequence[str], data_dir: Path) -> list[str]:
    """The genres rule `all` builds: config `genres`, or every available genre when empty.

    Each one's name is checked (:func:`genrevae.config.check_genre_name`): a folder with another
    name is an error when selected, and can be left out by listing the others in `genres`.
    """
    for genre in requested:
        if genre not in available:
            raise unknown_genre_error(genre, available, data_dir)
    selected = list(requested) or list(available)
    for genre in selected:
        check_genre_name(genre, f"genre folder '{data_dir / genre}'")
    return selected


def genre_audio_files(
    data_dir: Path,
    genre: str,
    available: Sequence[str],
    toy: dict[str, Any] | None = None,
) -> list[str]:
    """Every file of one genre folder: the inputs that make this genre, and only it, rebuild.

    With the toy dataset the folder may not exist yet, so its files are named from the toy
    config (the toy rule makes them); any extra file a user drops in is included too.
    """
    if genre not in available:
        raise unknown_genre_error(genre, available, data_dir)
    # Also here: a target such as results/<genre>/data/index.csv may name a genre that config
    # `genres` leaves out.
    check_genre_name(genre, f"genre folder '{data_dir / genre}'")
    folder = data_dir / genre
    files = {str(p) for p in _visible_files(folder)} if folder.is_dir() else set()
    if toy is not None:
        from genrevae.toy import clip_filename

        files |= {str(folder / clip_filename(genre, i)) for i in range(toy["clips_per_genre"])}
    return sorted(files)


def genre_other_entries(data_dir: Path, genre: str) -> list[str]:
    """The entries of a genre folder that are neither files nor folders (a dangling link, a FIFO,
    a device): not rule inputs (Snakemake needs an input to exist and have a time stamp), but
    passed to prepare so that index.csv says what each one is instead of leaving it out."""
    folder = data_dir / genre
    return [str(p) for p in _visible_entries(folder)[1]] if folder.is_dir() else []


def split_arguments(split: dict[str, Any], genre: str) -> list[str]:
    """The `genrevae split` options for one genre, as a list of arguments (a rule param, so it
    triggers; the rule quotes each one with `:q`)."""
    args = ["--seed", str(split["seed"])]
    if genre in split["lists"]:
        args += ["--lists", json.dumps(split["lists"][genre], sort_keys=True)]
    elif split["test_count"] is not None:
        args += ["--test-count", str(split["test_count"])]
    else:
        args += ["--test-fraction", repr(float(split["test_fraction"]))]
    return args


#: Modules no stage's outputs depend on: the command line and the config reader only wire
#: settings through (a help-text edit must not retrain every genre; when a command changes
#: meaning, its rule's params change with it), and the package's __init__ only names it.
WIRING_MODULES = frozenset({"genrevae", "genrevae.__main__", "genrevae.cli", "genrevae.config", "genrevae.workflow_support"})


def _module_file(src_dir: Path, module: str) -> Path | None:
    base = Path(src_dir).joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


#: An import statement of the package, also inside a function: ``import genrevae.x`` or
#: ``from genrevae.x import a, b`` (a parenthesised name list may span lines).
_IMPORT = re.compile(
    r"^[ \t]*(?:import[ \t]+(genrevae(?:\.\w+)*)|from[ \t]+(genrevae(?:\.\w+)*)[ \t]+import[ \t]+(\([^)]*\)|[^\n#]+))",
    re.MULTILINE,
)


def _imported_modules(source: str, src_dir: Path) -> set[str]:
    """The ``genrevae`` modules a piece of source imports, at any depth (function-local imports
    too), with the packages that importing them runs (``genrevae.artifacts`` for
    ``genrevae.artifacts.split``).  A regular expression, not a parse: the DAG asks for every
    rule's closure at each start-up, and walking syntax trees cost ~0.5 s there."""
    found: set[str] = set()
    for plain, module, names in _IMPORT.findall(source):
        candidates = [plain] if plain else [module] + [
            f"{module}.{name.split()[0]}" for name in names.strip("()").replace("\n", " ").split(",") if name.strip()
        ]
        for name in candidates:
            if _module_file(src_dir, name) is not None:
                parts = name.split(".")
                found.update(".".join(parts[:i]) for i in range(1, len(parts) + 1))
    return found


@functools.lru_cache(maxsize=None)
def _module_imports(path: Path, src_dir: Path) -> frozenset[str]:
    return frozenset(_imported_modules(path.read_text(encoding="utf-8"), src_dir))


#: A top-level function of a module: from its ``def`` line to the next line that starts in column 0
#: with anything but a comment or a closing bracket (its decorators belong to the previous piece).
_TOP_LEVEL_DEF = re.compile(r"^def[ \t]+(\w+)\(.*?(?=^[^\s#)\]}]|\Z)", re.MULTILINE | re.DOTALL)


@functools.lru_cache(maxsize=None)
def _cli_functions(src_dir: Path) -> dict[str, str]:
    """The source of every top-level function of ``cli.py``, by name (a regular expression: a
    syntax tree of cli.py cost ~0.1 s of every DAG build)."""
    source = (src_dir / "genrevae" / "cli.py").read_text(encoding="utf-8")
    return {match.group(1): match.group(0) for match in _TOP_LEVEL_DEF.finditer(source)}


def command_code(src_dir: Path, command: str) -> list[str]:
    """The package files a ``genrevae <command>`` job runs, as code inputs of its rule.

    Read statically from the source: the imports of ``cmd_<command>`` in ``cli.py`` and of the
    ``cli`` helpers it calls, then, transitively, every ``genrevae`` module those import
    (function-local imports included), less :data:`WIRING_MODULES`.  Editing any listed file
    re-runs the stage and what consumes its outputs; editing anything else re-runs nothing.
    """
    src_dir = Path(src_dir)
    functions = _cli_functions(src_dir)
    entry = f"cmd_{command.replace('-', '_')}"
    if entry not in functions:
        raise ValueError(f"genrevae has no command {command!r} (no {entry} in cli.py)")
    todo, seen_functions, modules = [entry], set(), set()
    while todo:
        name = todo.pop()
        if name in seen_functions:
            continue
        seen_functions.add(name)
        modules |= _imported_modules(functions[name], src_dir)
        todo += [called for called in re.findall(r"\b(\w+)\(", functions[name]) if called in functions]
    pending, files = sorted(modules), set()
    while pending:
        module = pending.pop()
        path = _module_file(src_dir, module)
        if module in WIRING_MODULES or path is None or path in files:
            continue
        files.add(path)
        pending += sorted(_module_imports(path, src_dir))
    return sorted(str(path) for path in files)
