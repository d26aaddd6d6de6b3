"""Configuration: the JSON schema (the one home of every default), validation, and derived values.

`config.schema.yaml` beside this module holds every config key, its type, its checks and its
default (`workflow/schemas/config.schema.yaml` is a link to it). `resolve_config` validates a whole
config as the workflow gets it; `section` resolves one top-level key for code that runs without
the workflow (the package's functions, the CLI, tests and benchmarks).
"""

from __future__ import annotations

import copy
import functools
import math
import numbers
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import jsonschema
import yaml

SCHEMA_PATH = Path(__file__).resolve().with_name("config.schema.yaml")
TOY_DATA_DIR = "data/toy"


class ConfigError(ValueError):
    """A configuration value is wrong; the message names the key and what to do."""


#: A genre name: letters, digits and '_' of any script, '.' and '-', not first. It names the genre
#: folder, results/<genre>/, the entries of config `genres` and the listening page's section, and
#: it is passed to shell commands (quoted, but a name must never need quoting to be safe).
GENRE_NAME = re.compile(r"[^\W][\w.-]*", re.UNICODE)


def check_genre_name(name: str, where: str) -> str:
    """`name` if it is a valid genre name (:data:`GENRE_NAME`), else ConfigError naming `where`
    (the folder or config key it came from) and a suggested name.

    Validated, not mapped to a safe name: a genre keeps one name everywhere (its folder,
    results/<genre>/, config `genres`, the page), and a mapping would let `hip hop` and `hip_hop`
    collide and give users a second name to remember.
    """
    if GENRE_NAME.fullmatch(name):
        return name
    suggestion = re.sub(r"[^\w.-]+", "_", name).lstrip(".-")
    example = f", e.g. to {suggestion!r}," if GENRE_NAME.fullmatch(suggestion) else ""
    raise ConfigError(
        f"{where}: a genre name may hold only letters, digits, '_', '.' and '-', and may not start with "
        f"'.' or '-' (it names results/<genre>/ and is passed to shell commands); rename the folder"
        f"{example} or leave it out with config 'genres'"
    )


def load_schema(schema_path: Path = SCHEMA_PATH) -> dict[str, Any]:
    # libyaml's safe loader where PyYAML was built with it: the same data, ~5x faster to parse
    # (every DAG build reads the schema).
    with open(schema_path, encoding="utf-8") as handle:
        return yaml.load(handle, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def _fill_defaults(schema: dict[str, Any], value: Any) -> Any:
    """Return `value` with every missing key that has a schema default filled in, recursively."""
    if schema.get("type") != "object" or not isinstance(value, dict):
        return value
    filled = dict(value)
    for key, sub_schema in schema.get("properties", {}).items():
        if key not in filled and "default" in sub_schema:
            filled[key] = copy.deepcopy(sub_schema["default"])
        if key in filled:
            filled[key] = _fill_defaults(sub_schema, filled[key])
    return filled


def _key_path(error: jsonschema.ValidationError) -> str:
    return ".".join(str(part) for part in error.absolute_path) or "(top level)"


def _describe(error: jsonschema.ValidationError) -> str:
    if error.validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        unknown = sorted(set(error.instance) - set(allowed))
        where = _key_path(error)
        prefix = "" if where == "(top level)" else where + "."
        return (
            f"unknown config key {', '.join(repr(prefix + k) for k in unknown)}; "
            f"allowed keys here: {', '.join(allowed)}"
        )
    return f"config key '{_key_path(error)}': {error.message}"


def _is_integer(checker: Any, value: Any) -> bool:
    # Draft 7 counts 3.0 as an integer; numpy's integers count too (Python callers pass them).
    if isinstance(value, float):
        return value.is_integer()
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_array(checker: Any, value: Any) -> bool:
    return isinstance(value, (list, tuple))  # Python callers pass tuples where YAML gives lists


_Validator = jsonschema.validators.extend(
    jsonschema.Draft7Validator,
    type_checker=jsonschema.Draft7Validator.TYPE_CHECKER.redefine_many({"integer": _is_integer, "array": _is_array}),
)


def _non_finite(value: Any, path: str) -> str | None:
    """The key path of the first NaN or infinity in `value` (JSON Schema cannot exclude them)."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            found = _non_finite(item, f"{path}.{key}" if path else str(key))
            if found:
                return found
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            found = _non_finite(item, f"{path}.{i}")
            if found:
                return found
    elif isinstance(value, numbers.Real) and not isinstance(value, numbers.Integral) and not math.isfinite(value):
        return f"config key '{path}': {value!r} is not a finite number"
    return None


#: Values that were renamed: given under the old name they get an error that names the new one
#: (the report's model was `preset: seed`, but "seed" means a random seed everywhere else).
RENAMED_VALUES: dict[tuple[str, ...], dict[str, str]] = {("model", "preset"): {"seed": "report"}}


#: Keys that moved when `render` and `quality` were split so that each section drives one stage.
MOVED_KEYS: dict[str, str] = {
    **{f"render.{k}": f"export.{k}" for k in ("n_generated", "n_interpolations", "interpolation_steps", "interpolation")},
    "render.n_reconstructions": "export.n_reconstructions (and figures.n_reconstructions)",
    "render.batch_size": "export.batch_size (and figures.batch_size)",
    "render.figure_dpi": "figures.dpi",
    **{f"render.{k}": f"figures.{k}" for k in ("gif_dpi", "gif_fps")},
    **{f"render.{k}": f"audio.{k}" for k in ("playback_rate", "peak_dbfs")},
    **{f"quality.{k}": f"features.{k}" for k in ("n_mfcc", "n_fft", "hop_length", "n_mels", "onset_hop_length", "segment_seconds")},
    "quality.fidelity_n_generated": "fidelity.n_generated",
    **{f"quality.{k}": f"fidelity.{k}" for k in ("classifier_c", "classifier_noise_class", "cv_folds")},
}
#: Sections that no longer exist, and where their keys went.
SPLIT_SECTIONS = {"render": "export (the WAVs), figures (the figures) and audio (playback rate, peak level)"}


def _moved_key(instance: Any) -> str | None:
    if not isinstance(instance, Mapping):
        return None
    for name, where in SPLIT_SECTIONS.items():
        if name in instance:
            moved = [f"{key} -> {new}" for key, new in MOVED_KEYS.items() if key.split(".")[0] == name
                     and isinstance(instance[name], Mapping) and key.split(".")[1] in instance[name]]  # fmt: skip
            detail = f"; move {', '.join(moved)}" if moved else ""
            return f"config section '{name}' was split into {where}, one section per stage{detail}"
    for key, new in MOVED_KEYS.items():
        section_name, leaf = key.split(".")
        if isinstance(instance.get(section_name), Mapping) and leaf in instance[section_name]:
            return f"config key '{key}' moved to '{new}' (one section per stage); write it there"
    return None


def _renamed_value(instance: Any) -> str | None:
    for path, renames in RENAMED_VALUES.items():
        value = instance
        for key in path:
            value = value.get(key) if isinstance(value, Mapping) else None
        if isinstance(value, str) and value in renames:
            key = ".".join(path)
            return f"config key '{key}': {value!r} was renamed {renames[value]!r}; write `{key}: {renames[value]}`"
    return None


def _check(validator: jsonschema.protocols.Validator, instance: Any) -> None:
    """Raise ConfigError naming the first offending key of `instance`."""
    renamed = _moved_key(instance) or _renamed_value(instance)
    if renamed:
        raise ConfigError(renamed)
    errors = sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path))
    if errors:
        problem = ConfigError(_describe(errors[0]))
        problem.key_path = list(errors[0].absolute_path)  # for resolve_config's --config hint
        raise problem
    problem = _non_finite(instance, "")
    if problem:
        raise ConfigError(problem)


@functools.lru_cache(maxsize=None)
def _section_schema(name: str) -> tuple[dict[str, Any], jsonschema.protocols.Validator]:
    """The schema of top-level key `name`, and a validator of `{name: value}` (so that errors
    name the whole path: model.conv.bands, not conv.bands)."""
    properties = load_schema()["properties"]
    if name not in properties:
        raise ConfigError(f"unknown config section {name!r}; sections: {', '.join(sorted(properties))}")
    return properties[name], _Validator({"type": "object", "properties": {name: properties[name]}})


def _lay_over(base: Any, given: Any) -> Any:
    """`given` laid over `base` (a fresh copy): nested mappings merged key by key, anything else replaced."""
    if isinstance(base, dict) and isinstance(given, Mapping):
        for key, value in given.items():
            base[key] = _lay_over(base[key], value) if key in base else copy.deepcopy(value)
        return base
    return copy.deepcopy(given)


#: The config sections each model stage reads, by command name: the one list that the rule's
#: ``--settings`` (workflow/rules/common.smk, ``stage_settings``), the command's help and its
#: check (:func:`stage_sections`) and the record train writes (model/config.json) all read.
STAGE_SECTIONS: dict[str, tuple[str, ...]] = {
    "train": ("seed", "sample_rate", "model", "train"),
    "prior": ("seed", "prior"),
    "evaluate": ("seed", "evaluate"),
    "figures": ("seed", "sample_rate", "figures", "prior"),
    "quality": ("seed", "sample_rate", "features", "quality", "prior"),
    "judge": ("seed", "sample_rate", "quality", "prior", "judge"),
    "export": ("seed", "sample_rate", "export", "audio", "prior"),
    "fidelity": ("seed", "sample_rate", "features", "fidelity", "prior"),
}


#: Keys of the sections a genre may set for itself (config `genre_settings`: model, train and
#: prior, the schema says which) that stay shared all the same, and why.
SHARED_KEYS: dict[tuple[str, str], str] = {
    ("prior", "temperature"): "the fidelity stage generates every genre's clips at one temperature",
}


def _check_genre_settings(config: Mapping[str, Any], schema: Mapping[str, Any], command_line: Mapping[str, Any] | None) -> dict[str, Any]:
    """config `genre_settings` with each genre's sections checked as that genre will use them.

    The schema has checked the shape (genre -> model/train/prior mappings); here each genre's
    name is checked, its values typed as --config's are (:func:`typed_command_line`), and each
    section laid over the shared one and validated by the section's own schema, so that a wrong
    value is named under the genre at DAG build, not when its job starts.
    """
    checked: dict[str, Any] = {}
    for genre, own in (config["genre_settings"] or {}).items():
        check_genre_name(genre, f"config key 'genre_settings': {genre!r}")
        own = dict(own)
        for name in list(own):
            if command_line and name in command_line.get("genre_settings", {}).get(genre, {}):
                own[name] = typed_command_line(own[name], schema["properties"][name])
            for (section_name, key), why in SHARED_KEYS.items():
                if section_name == name and isinstance(own[name], Mapping) and key in own[name]:
                    raise ConfigError(
                        f"config key 'genre_settings.{genre}.{name}.{key}': {name}.{key} is shared by every genre "
                        f"({why}); set it at the top level, not per genre"
                    )
            try:
                section(name, _lay_over(copy.deepcopy(config[name]), own[name]))
            except ConfigError as error:
                raise ConfigError(f"config key 'genre_settings.{genre}': {error}") from None
        checked[genre] = own
    return checked


def genre_config(config: Mapping[str, Any], genre: str) -> dict[str, Any]:
    """The resolved `config` as genre `genre` uses it: its `genre_settings` entry (if any) laid
    over the shared model, train and prior sections. A genre without one gets `config` itself
    (a shallow copy), so that its stages' settings, and their params, stay what they were."""
    out = dict(config)
    for name, own in (config.get("genre_settings") or {}).get(genre, {}).items():
        out[name] = _lay_over(copy.deepcopy(config[name]), own)
    return out


def stage_sections(stage: str, given: Mapping[str, Any] | None) -> dict[str, Any]:
    """The settings of model stage ``stage`` (a key of :data:`STAGE_SECTIONS`), resolved once:
    exactly its sections, each with the schema's defaults under what ``given`` holds.  A section
    the stage does not read is refused by name, so no stage is sent (and no record keeps)
    settings that were never used."""
    names = STAGE_SECTIONS[stage]
    if not isinstance(given, Mapping):
        raise ConfigError(f"genrevae {stage} --settings: expected a JSON object with {', '.join(names)}")
    unused = sorted(set(given) - set(names))
    if unused:
        raise ConfigError(
            f"genrevae {stage} --settings: {', '.join(unused)} {'is' if len(unused) == 1 else 'are'} not read by this "
            f"stage (it reads {', '.join(names)}); remove {'it' if len(unused) == 1 else 'them'}"
        )
    return sections(given, names)  # nothing else is left in `given` to carry over


def section(name: str, given: Any = None) -> Any:
    """The config section `name` (a top-level key of the schema) with its schema defaults filled in.

    `given` (None: nothing given) is laid over a deep copy of the defaults, nested mappings
    merged key by key, so the result has the defaults' keys in schema order. The result is
    validated against the section's schema: a wrong value or an unknown key raises ConfigError
    naming it (`model.conv.bands: ...`). For a scalar key (`seed`, `sample_rate`, ...) the result
    is `given`, or the default when `given` is None.
    """
    sub_schema, validator = _section_schema(name)
    value = _fill_defaults(sub_schema, copy.deepcopy(sub_schema.get("default")))
    if given is not None:
        value = _lay_over(value, given)
    _check(validator, {name: value})
    return value


def sections(settings: Mapping[str, Any] | None, names: Iterable[str]) -> dict[str, Any]:
    """`settings` (top-level keys) with each of `names` resolved by :func:`section`, in that order,
    followed by its other keys unchanged."""
    settings = dict(settings or {})
    resolved = {name: section(name, settings.get(name)) for name in names}
    resolved.update((key, value) for key, value in settings.items() if key not in resolved)
    return resolved


#: Schema types a string from the command line is typed into when it reads as one in YAML.
_YAML_TYPED = ("number", "integer", "boolean", "null")


def typed_command_line(value: Any, schema: Mapping[str, Any]) -> Any:
    """`value` (given with `snakemake --config`) with its strings typed as YAML would type them
    wherever `schema` expects a number, integer, boolean or null and not a string.

    Snakemake types a top-level `--config key=value` itself (int, float, bool), but parses a
    nested one (`train={kl_beta: 0.1}`) with YAML's base loader, which leaves every leaf a string,
    and gives `null` as the string 'null' at any depth. Only keys whose schema type excludes
    string are converted, so paths and genre names stay strings; a string that is not of the
    expected type stays a string, for validation to name.
    """
    if isinstance(value, Mapping):
        properties = schema.get("properties", {})
        extra = schema.get("additionalProperties")
        out = {}
        for key, item in value.items():
            sub_schema = properties.get(key, extra if isinstance(extra, Mapping) else None)
            out[key] = typed_command_line(item, sub_schema) if sub_schema is not None else item
        return out
    if isinstance(value, (list, tuple)):
        items = schema.get("items")
        return [typed_command_line(item, items) for item in value] if isinstance(items, Mapping) else value
    if isinstance(value, str):
        types = schema.get("type", [])
        types = [types] if isinstance(types, str) else list(types)
        if types and "string" not in types:
            try:
                parsed = yaml.safe_load(value)
            except yaml.YAMLError:
                return value
            if any(_Validator.TYPE_CHECKER.is_type(parsed, t) for t in types if t in _YAML_TYPED):
                return parsed
            if "number" in types:  # 1e-3, which YAML 1.1 reads as a string, as Snakemake's top level does
                try:
                    return float(value)
                except ValueError:
                    pass
    return value


def _given_nested(command_line: Mapping[str, Any], path: list[Any]) -> bool:
    """True when the key at `path` (below the top level) was given with --config."""
    value: Any = command_line
    for part in path:
        if isinstance(value, Mapping) and part in value:
            value = value[part]
        elif isinstance(value, (list, tuple)) and isinstance(part, int) and part < len(value):
            value = value[part]
        else:
            return False
    return len(path) > 1


def resolve_config(
    raw: dict[str, Any] | None,
    schema_path: Path = SCHEMA_PATH,
    command_line: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Validate a raw config (as Snakemake or YAML gives it) and return it with defaults filled.

    `command_line` is what `snakemake --config` gave (already merged into `raw`): its strings are
    typed by :func:`typed_command_line` first. The entries of `genres` are checked by
    :func:`check_genre_name`. Raises ConfigError naming the first offending key. Also derives
    `n_samples` and `min_seconds` when they are null.
    """
    schema = load_schema(schema_path)
    raw = copy.deepcopy(dict(raw or {}))
    if command_line:
        raw = _lay_over(raw, typed_command_line(command_line, schema))
    config = _fill_defaults(schema, raw)
    if isinstance(config.get("genres"), list):
        for genre in config["genres"]:
            if isinstance(genre, str):
                check_genre_name(genre, f"config key 'genres': {genre!r}")
    try:
        _check(_Validator(schema), config)
    except ConfigError as error:
        if command_line and _given_nested(command_line, getattr(error, "key_path", [])):
            raise ConfigError(
                f"{error} (given with --config, where nested values are read as YAML, e.g. "
                "\"train={kl_beta: 0.1}\"; they can also be set in a file given with --configfile)"
            ) from None
        raise
    config["genre_settings"] = _check_genre_settings(config, schema, command_line)
    if config["n_samples"] is None:
        # The report's 90,001 = 3000 * 30 + 1: librosa's rounding for a clip of exactly 30 s.
        config["n_samples"] = int(round(config["sample_rate"] * config["clip_seconds"])) + 1
    if config["min_seconds"] is None:
        # "Far too short": under two thirds of the clip would be zero padding's to invent.
        clip_seconds = config["n_samples"] / config["sample_rate"]
        config["min_seconds"] = round(config["clip_offset_seconds"] + 2 / 3 * clip_seconds, 3)
    return config


def is_toy_data_dir(data_dir: str | Path, workdir: Path | None = None) -> bool:
    """True when data_dir points at the embedded toy dataset that the workflow generates."""
    base = workdir or Path.cwd()
    return (base / data_dir).resolve() == (base / TOY_DATA_DIR).resolve()


def load_config_file(path: Path) -> dict[str, Any]:
    """Read and resolve a YAML config file (used by the CLI and tests)."""
    try:
        with open(path, encoding="utf-8") as handle:
            raw = yaml.safe_load(handle) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"{path} must hold a mapping of config keys, not {type(raw).__name__}")
    return resolve_config(raw)
