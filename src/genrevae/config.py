"""Configuration: validation against the JSON schema, defaults, and derived values."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import jsonschema
import yaml

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "workflow" / "schemas" / "config.schema.yaml"
TOY_DATA_DIR = "data/toy"


class ConfigError(ValueError):
    """A configuration value is wrong; the message names the key and what to do."""


def load_schema(schema_path: Path = SCHEMA_PATH) -> dict[str, Any]:
    with open(schema_path, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


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


def resolve_config(raw: dict[str, Any] | None, schema_path: Path = SCHEMA_PATH) -> dict[str, Any]:
    """Validate a raw config (as Snakemake or YAML gives it) and return it with defaults filled.

    Raises ConfigError naming the first offending key. Also derives `n_samples` and
    `min_seconds` when they are null.
    """
    schema = load_schema(schema_path)
    config = _fill_defaults(schema, dict(raw or {}))
    validator = jsonschema.Draft7Validator(schema)
    errors = sorted(validator.iter_errors(config), key=lambda e: list(e.absolute_path))
    if errors:
        raise ConfigError(_describe(errors[0]))
    if config["n_samples"] is None:
        # The seed's 90,001 = 3000 * 30 + 1: librosa's rounding for a clip of exactly 30 s.
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
