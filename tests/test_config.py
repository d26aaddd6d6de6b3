"""Config validation and the DAG-time decisions of the Snakefile (genre discovery, file lists)."""

from __future__ import annotations

import ast
import inspect
import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO_ROOT, write_tone
from genrevae.cli import build_parser
from genrevae.config import (
    SCHEMA_PATH,
    ConfigError,
    genre_config,
    load_config_file,
    load_schema,
    resolve_config,
    section,
    sections,
    typed_command_line,
)
from genrevae.toy import DEFAULT_TOY_GENRES, synthesize_clip, write_toy_genre
from genrevae.workflow_support import (
    command_code,
    discover_genres,
    genre_audio_files,
    select_genres,
    split_arguments,
    unused_genre_settings,
)


def test_defaults_match_the_report() -> None:
    config = resolve_config({})
    assert config["sample_rate"] == 3000
    assert config["n_samples"] == 90001
    assert config["data_dir"] == "data/toy"
    assert config["split"]["test_fraction"] == pytest.approx(0.3)
    # training now runs in steps on random windows; the course report's optimiser settings live
    # in config/report.yaml (see test_report_config_reproduces_its_split_without_the_leak)
    train = config["train"]
    assert (train["steps"], train["window_samples"], train["batch_size"]) == (3000, 8192, 16)
    assert train["learning_rate"] == pytest.approx(1e-3)
    assert train["checkpoint_every"] == 250 and train["kl_warmup_steps"] == 500
    assert not {"epochs", "steps_per_epoch", "kl_warmup_epochs"} & set(train)
    assert config["model"]["conv"]["bands"] == 8 and "res_blocks" not in config["model"]["conv"]
    assert config["prior"]["temperature"] == pytest.approx(1.0)


def test_shipped_config_files_are_valid() -> None:
    for path in [REPO_ROOT / "config.yaml", *sorted((REPO_ROOT / "config").glob("*.yaml"))]:
        load_config_file(path)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"sample_rat": 3000}, r"unknown config key 'sample_rat'; allowed keys here: .*sample_rate"),
        ({"train": {"epochz": 3}}, r"unknown config key 'train.epochz'"),
        ({"train": {"epochs": 3}}, r"unknown config key 'train.epochs'; allowed keys here: .*steps"),
        ({"model": {"conv": {"res_blocks": 1}}}, r"unknown config key 'model.conv.res_blocks'"),
        ({"prior": {"hidden": 0}}, r"config key 'prior.hidden': 0 is less than the minimum of 1"),
        ({"train": {"window_samples": 8}}, r"config key 'train.window_samples'"),
        ({"sample_rate": "3k"}, r"config key 'sample_rate': '3k' is not of type 'integer'"),
        ({"split": {"test_fraction": 1.5}}, r"config key 'split.test_fraction'"),
        ({"model": {"preset": "mlp"}}, r"config key 'model.preset': 'mlp' is not one of"),
        ({"model": {"preset": "seed"}}, r"^config key 'model.preset': 'seed' was renamed 'report'; write `model.preset: report`$"),
        ({"render": {"gif_fps": 3, "playback_rate": 8000}}, r"^config section 'render' was split into export \(the WAVs\), "
         r"figures \(the figures\) and audio \(playback rate, peak level\), one section per stage; move "
         r"render.gif_fps -> figures.gif_fps, render.playback_rate -> audio.playback_rate$"),
        ({"quality": {"cv_folds": 3}}, r"^config key 'quality.cv_folds' moved to 'fidelity.cv_folds'"),
        ({"genres": "jazz"}, r"config key 'genres': 'jazz' is not of type 'array'"),
        ({"min_seconds": -1}, r"config key 'min_seconds': -1 is less than the minimum of 0"),
    ],
)
def test_bad_config_names_the_key(raw: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        resolve_config(raw)


def test_explicit_n_samples_wins() -> None:
    assert resolve_config({"n_samples": 4096})["n_samples"] == 4096
    config = resolve_config({"sample_rate": 8000, "clip_seconds": 3})
    assert config["n_samples"] == 24001
    assert config["min_seconds"] == pytest.approx(2.0, abs=1e-3)
    assert resolve_config({})["min_seconds"] == pytest.approx(20.0, abs=1e-3)


def test_missing_data_dir_names_the_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"config key 'data_dir': folder .*nowhere' does not exist"):
        discover_genres(tmp_path / "nowhere")


def test_genre_discovery_skips_empty_folders_and_lists_what_exists(tmp_path: Path) -> None:
    write_tone(tmp_path / "jazz" / "jazz.00000.wav", 1.0)
    write_tone(tmp_path / "rock" / "rock.00000.wav", 1.0)
    (tmp_path / "blues").mkdir()  # empty genre folder
    available = discover_genres(tmp_path)
    assert available == ["jazz", "rock"]
    assert select_genres([], available, tmp_path) == ["jazz", "rock"]
    assert select_genres(["rock"], available, tmp_path) == ["rock"]
    with pytest.raises(ConfigError, match=r"genre 'blues' does not exist .*genres that do: jazz, rock"):
        select_genres(["blues"], available, tmp_path)
    with pytest.raises(ConfigError, match=r"genre 'metal' does not exist"):
        genre_audio_files(tmp_path, "metal", available)


def test_genre_files_are_every_visible_file_plus_toy_names(tmp_path: Path) -> None:
    write_tone(tmp_path / "jazz" / "jazz.00000.wav", 1.0)
    (tmp_path / "jazz" / "readme.txt").write_text("x")
    (tmp_path / "jazz" / ".jazz.00001.wav.tmp").write_text("partial")
    assert genre_audio_files(tmp_path, "jazz", ["jazz"]) == [
        str(tmp_path / "jazz" / "jazz.00000.wav"),
        str(tmp_path / "jazz" / "readme.txt"),
    ]
    toy = {"clips_per_genre": 2}
    files = genre_audio_files(tmp_path, "jazz", ["jazz"], toy=toy)
    assert [Path(f).name for f in files] == ["jazz.00000.wav", "jazz.00001.wav", "readme.txt"]


def test_split_arguments_pick_the_mode_per_genre() -> None:
    split = resolve_config({})["split"]
    assert split_arguments(split, "jazz") == ["--seed", "123", "--test-fraction", "0.3"]
    split = resolve_config({"split": {"test_count": 4, "lists": {"jazz": {"train": ["a"], "test": ["b"]}}}})["split"]
    assert split_arguments(split, "rock") == ["--seed", "123", "--test-count", "4"]
    assert split_arguments(split, "jazz") == ["--seed", "123", "--lists", '{"test": ["b"], "train": ["a"]}']


# What `snakemake --config` gives for nested values (its parse_config, YAML's base loader):
# `"train={kl_beta: 0.1, xla: true, window_samples: null}" "model={conv: {strides: [2, 4]}}" n_samples=null`.
COMMAND_LINE = {
    "train": {"kl_beta": "0.1", "xla": "true", "window_samples": "null", "learning_rate": "1e-3"},
    "model": {"conv": {"strides": ["2", "4"]}},
    "n_samples": "null",
    "data_dir": "1990",
    "genres": ["80s", "true"],
    "split": {"lists": {"jazz": {"train": ["1.wav"], "test": ["null"]}}},
}


def test_command_line_strings_are_typed_where_the_schema_expects_no_string() -> None:
    typed = typed_command_line(COMMAND_LINE, load_schema())
    assert typed["train"] == {"kl_beta": 0.1, "xla": True, "window_samples": None, "learning_rate": 1e-3}
    assert typed["model"]["conv"]["strides"] == [2, 4]
    assert typed["n_samples"] is None
    # Strings stay strings where the schema takes a string: paths, genre names, file names.
    assert typed["data_dir"] == "1990" and typed["genres"] == ["80s", "true"]
    assert typed["split"]["lists"]["jazz"] == {"train": ["1.wav"], "test": ["null"]}
    # A string that is not of the expected type stays a string, for validation to name.
    assert typed_command_line({"train": {"kl_beta": "abc", "steps": "1.5"}}, load_schema())["train"] == {
        "kl_beta": "abc",
        "steps": "1.5",
    }


def test_resolve_config_types_command_line_values_merged_over_a_file() -> None:
    from_file = {"train": {"steps": 7, "kl_beta": 0.5}, "data_dir": "1990"}
    merged = {"train": {"steps": 7, "kl_beta": "0.1"}, "data_dir": "1990"}  # as Snakemake merges them
    config = resolve_config(merged, command_line={"train": {"kl_beta": "0.1"}})
    assert (config["train"]["kl_beta"], config["train"]["steps"], config["data_dir"]) == (0.1, 7, "1990")
    assert resolve_config(from_file)["train"]["kl_beta"] == 0.5
    # Only what came from the command line is typed: a quoted string in a file stays an error.
    with pytest.raises(ConfigError, match=r"^config key 'train.kl_beta': '0.1' is not of type 'number'$"):
        resolve_config({"train": {"kl_beta": "0.1"}})


@pytest.mark.parametrize(
    ("command_line", "message"),
    [
        ({"train": {"kl_beta": "abc"}}, "config key 'train.kl_beta': 'abc' is not of type 'number'"),
        ({"model": {"conv": {"strides": ["2", "x"]}}}, "config key 'model.conv.strides.1': 'x' is not of type 'integer'"),
        ({"train": {"kl_beta": "-1"}}, "config key 'train.kl_beta': -1 is less than the minimum of 0"),
    ],
)
def test_a_bad_nested_command_line_value_points_to_configfile(command_line: dict, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        resolve_config(command_line, command_line=command_line)
    text = str(caught.value)
    assert text.startswith(message + " (given with --config, where nested values are read as YAML")
    assert "--configfile" in text and "\n" not in text


def test_the_configfile_hint_is_only_for_what_the_command_line_gave() -> None:
    with pytest.raises(ConfigError) as caught:  # a bad file value, a good command-line one
        resolve_config({"train": {"kl_beta": "0.1", "steps": "x"}}, command_line={"train": {"kl_beta": "0.1"}})
    assert str(caught.value) == "config key 'train.steps': 'x' is not of type 'integer'"
    with pytest.raises(ConfigError) as caught:  # a top-level value: Snakemake typed it already
        resolve_config({"seed": "x"}, command_line={"seed": "x"})
    assert str(caught.value) == "config key 'seed': 'x' is not of type 'integer'"


def test_report_config_reproduces_its_split_without_the_leak() -> None:
    config = load_config_file(REPO_ROOT / "config" / "report.yaml")
    lists = config["split"]["lists"]["jazz"]
    assert len(lists["train"]) == 13 and len(lists["test"]) == 11
    assert not set(lists["train"]) & set(lists["test"])
    assert "jazz.00045.wav" in lists["train"]
    seed_train = [0, 52, 19, 39, 71, 12, 75, 85, 3, 45, 24, 46, 88]
    seed_test = [4, 43, 56, 55, 45, 31, 11, 13, 70, 37, 21, 78]
    assert lists["train"] == [f"jazz.{i:05d}.wav" for i in seed_train]
    assert lists["test"] == [f"jazz.{i:05d}.wav" for i in seed_test if i != 45]
    assert config["model"]["preset"] == "report" and config["model"]["likelihood"] == "bernoulli"
    assert config["model"]["latent_dim"] == 2
    # the report's 20 epochs of 13 clips at batch 10 (2 steps each), on whole clips, Adam(3e-4)
    train = config["train"]
    assert (train["steps"], train["batch_size"], train["window_samples"]) == (40, 10, None)
    assert train["learning_rate"] == pytest.approx(3e-4) and train["stft_weight"] == 0


# ---------------------------------------------------------------------------
# genrevae.config.section: the schema is the one home of every default
# ---------------------------------------------------------------------------


def test_section_fills_every_default_from_the_schema() -> None:
    config = resolve_config({})
    for name in load_schema()["properties"]:
        if name not in ("n_samples", "min_seconds"):  # derived by resolve_config
            assert section(name) == config[name], name
    assert section("model")["conv"]["bands"] == 8 and section("seed") == 123 and section("n_samples") is None
    assert section("seed", 7) == 7
    assert section("model") is not section("model") and section("model")["conv"] is not section("model")["conv"]


def test_section_merges_nested_settings_in_schema_order() -> None:
    given = {"conv": {"strides": [4], "bands": 4}, "likelihood": "bernoulli"}
    model = section("model", given)
    defaults = section("model")
    assert model["likelihood"] == "bernoulli" and model["preset"] == defaults["preset"]
    assert model["conv"] == {**defaults["conv"], "bands": 4, "strides": [4]}
    assert list(model) == list(defaults) and list(model["conv"]) == list(defaults["conv"])
    assert given == {"conv": {"strides": [4], "bands": 4}, "likelihood": "bernoulli"}  # not modified
    assert section("train", {"window_samples": None})["window_samples"] is None  # null is a value
    settings = sections({"note": "kept", "train": {"steps": 5}}, ("seed", "train"))
    assert list(settings) == ["seed", "train", "note"] and settings["train"]["steps"] == 5


@pytest.mark.parametrize(
    ("name", "given", "message"),
    [
        ("model", {"conv": {"bands": 1}}, r"config key 'model.conv.bands': 1 is less than the minimum of 2"),
        ("model", {"conv": {"strides": []}}, r"config key 'model.conv.strides'"),
        ("model", {"conv": {"dilations": [1, 0]}}, r"config key 'model.conv.dilations.1'"),
        ("model", {"preset": "mlp"}, r"config key 'model.preset': 'mlp' is not one of"),
        ("train", {"steps": -1}, r"config key 'train.steps': -1 is less than the minimum of 0"),
        ("train", {"window_samples": 8}, r"config key 'train.window_samples'"),
        ("train", {"stft_sizes": [2]}, r"config key 'train.stft_sizes.0'"),
        ("evaluate", {"iw_samples": 0}, r"config key 'evaluate.iw_samples'"),
        ("export", {"interpolation_steps": 1}, r"config key 'export.interpolation_steps'"),
        ("fidelity", {"cv_folds": 1}, r"config key 'fidelity.cv_folds'"),
        ("fidelity", {"classifier_noise_class": "yes"}, r"config key 'fidelity.classifier_noise_class'"),
        ("prior", {"var_order": -1}, r"config key 'prior.var_order'"),
        ("prior", {"temperature": float("nan")}, r"config key 'prior.temperature': nan is not a finite number"),
        ("prior", {"max_seconds": float("inf")}, r"config key 'prior.max_seconds': inf is not a finite number"),
        ("prior", "fast", r"config key 'prior': 'fast' is not of type 'object'"),
        ("seed", -1, r"config key 'seed': -1 is less than the minimum of 0"),
    ],
)
def test_section_names_a_bad_value(name: str, given, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        section(name, given)


def test_section_names_an_unknown_key() -> None:
    with pytest.raises(ConfigError, match=r"unknown config key 'model.conv.res_blocks'; allowed keys here: .*bands"):
        section("model", {"conv": {"res_blocks": 1}})
    with pytest.raises(ConfigError, match=r"unknown config key 'train.epochs'; allowed keys here: .*steps"):
        section("train", {"epochs": 3})
    with pytest.raises(ConfigError, match=r"unknown config section 'modle'; sections: .*model"):
        section("modle")


def test_the_schema_lives_in_the_package_and_the_workflow_links_to_it() -> None:
    import genrevae

    assert SCHEMA_PATH == Path(genrevae.__file__).resolve().parent / "config.schema.yaml"
    catalog = REPO_ROOT / "workflow" / "schemas" / "config.schema.yaml"
    assert catalog.is_symlink() and catalog.resolve() == SCHEMA_PATH
    assert 'genrevae = ["config.schema.yaml"]' in (REPO_ROOT / "pyproject.toml").read_text()


@pytest.mark.slow
def test_section_and_the_toy_command_work_outside_the_workflow(tmp_path: Path) -> None:
    code = "import json; from genrevae.config import section; print(json.dumps([section('model'), section('toy')]))"
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [section("model"), section("toy")]
    # the toy command's --seed defaults to the schema's toy.seed
    command = [sys.executable, "-m", "genrevae", "toy", "--out", "toy", "--genre", "jazz", "--clips", "1",
               "--sample-rate", "8000", "--duration", "0.5"]  # fmt: skip
    result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    expected = write_toy_genre(tmp_path / "expected", "jazz", 1, section("toy")["seed"], 8000, 0.5)[0]
    assert (tmp_path / "toy" / "jazz" / "jazz.00000.wav").read_bytes() == expected.read_bytes()


def test_toy_defaults_come_from_the_schema() -> None:
    toy = section("toy")
    assert DEFAULT_TOY_GENRES == tuple(toy["genres"])
    for function in (write_toy_genre, synthesize_clip):
        parameters = inspect.signature(function).parameters
        assert (parameters["sample_rate"].default, parameters["duration"].default) == (toy["sample_rate"], toy["duration"])
    args = build_parser().parse_args(["toy", "--out", "toy", "--genre", "jazz"])
    assert (args.clips, args.seed, args.sample_rate, args.duration) == (None, None, None, None)  # cmd_toy: toy.*


def _defined_names(tree: ast.AST) -> list[tuple[str, ast.AST]]:
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign):
            out += [(t.id, node.value) for t in node.targets if isinstance(t, ast.Name)]
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
            out.append((node.target.id, node.value))
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            out.append((node.name, node))
    return out


def test_no_module_keeps_its_own_copy_of_the_defaults() -> None:
    removed = {"merge_settings", "resolve_settings", "resolve_model_settings", "resolve_render_settings",
               "resolve_quality_settings", "validate_prior_settings", "PRIOR_SETTING_KEYS"}  # fmt: skip
    files = sorted((REPO_ROOT / "src" / "genrevae").rglob("*.py"))
    assert len(files) > 20
    offenders = []
    for path in files:
        for name, value in _defined_names(ast.parse(path.read_text(encoding="utf-8"))):
            if (name.startswith("DEFAULT_") and isinstance(value, ast.Dict)) or name in removed:
                offenders.append(f"{path.relative_to(REPO_ROOT)}: {name}")
    assert not offenders, "defaults belong in src/genrevae/config.schema.yaml only: " + ", ".join(offenders)


def test_command_code_is_what_a_command_imports_transitively(tmp_path: Path) -> None:
    pkg = tmp_path / "genrevae"
    (pkg / "sub").mkdir(parents=True)
    files = {
        "__init__.py": "",
        "config.py": "",
        "cli.py": "from genrevae.config import section\n"
        "def _helper():\n    from genrevae import helped\n"
        "def cmd_make_it(args):\n    from genrevae.stage import run\n    _helper()\n"
        "def cmd_other(args):\n    import genrevae.unused\n",
        "stage.py": "import numpy\nfrom genrevae.config import section\n"
        "def run():\n    from genrevae.sub.leaf import x\n",
        "helped.py": "",
        "unused.py": "",
        "sub/__init__.py": "",
        "sub/leaf.py": "from genrevae.stage import run\n",  # a cycle ends
    }
    for name, text in files.items():
        (pkg / name).write_text(text)
    found = {Path(p).relative_to(pkg).as_posix() for p in command_code(tmp_path, "make-it")}
    assert found == {"stage.py", "helped.py", "sub/__init__.py", "sub/leaf.py"}
    with pytest.raises(ValueError, match="no command 'nope'"):
        command_code(tmp_path, "nope")


def test_each_stage_depends_on_its_own_modules_only() -> None:
    def code(command: str) -> set[str]:
        return {Path(p).relative_to(REPO_ROOT / "src" / "genrevae").as_posix() for p in command_code(REPO_ROOT / "src", command)}

    every = ("toy", "prepare", "split", "train", "prior", "evaluate", "figures", "quality", "export",
             "fidelity", "page", "transfer-source", "transfer")  # fmt: skip
    for command in every:
        assert code(command) and not code(command) & {"cli.py", "config.py", "__init__.py", "workflow_support.py"}, command
    assert {"export.py", "audio.py", "generation.py", "model.py", "artifacts/split.py"} <= code("export")
    # drawing figures or measuring quality does not go through the export's module (or WAV code)
    for command in ("figures", "quality", "fidelity", "evaluate", "prior", "train"):
        assert not code(command) & {"export.py", "audio.py", "page/__init__.py", "prepare.py", "split.py"}, command
    assert "figures.py" in code("figures") and "quality.py" not in code("figures")
    # the one list of figures is read by both; the page never imports the plotting code
    assert "figure_list.py" in code("figures") & code("page") and "figures.py" not in code("page")
    # the classifier uses the features, not the quality stage; the measures and the judge use both
    assert "features.py" in code("fidelity") and "quality.py" not in code("fidelity")
    assert all({"features.py", "quality.py"} <= code(command) for command in ("quality", "judge"))
    assert not code("page") & {"model.py", "train.py", "export.py"}  # the page never loads a model
    prior_package = {p.relative_to(REPO_ROOT / "src" / "genrevae").as_posix() for p in (REPO_ROOT / "src/genrevae/prior").rglob("*.py")}
    assert not code("train") & (prior_package | {"generation.py", "evaluate.py"})
    # importing genrevae.prior runs every module of the package: each is code of whatever loads a prior --
    # except the flow-matching candidate, which only the benchmark imports, so editing it re-runs nothing
    for command in ("prior", "evaluate", "figures", "quality", "export", "fidelity", "transfer"):
        assert code(command) >= prior_package - {"prior/flow.py"}, command
        assert "prior/flow.py" not in code(command), command
    assert code("toy") >= {p.relative_to(REPO_ROOT / "src" / "genrevae").as_posix() for p in (REPO_ROOT / "src/genrevae/toy").rglob("*.py")}


def test_genre_settings_lay_one_genres_sections_over_the_shared_ones() -> None:
    config = resolve_config({"prior": {"steps": 300}, "genre_settings": {"rock": {"prior": {"scheduled_sampling": 0.5}}}})
    rock, jazz = genre_config(config, "rock"), genre_config(config, "jazz")
    assert rock["prior"]["scheduled_sampling"] == 0.5 and rock["prior"]["steps"] == 300  # the shared value kept
    assert jazz == config and jazz["prior"]["scheduled_sampling"] == 0.0
    assert config["prior"]["scheduled_sampling"] == 0.0  # the shared section is not changed
    assert rock["train"] == config["train"] and rock["export"] == config["export"]


@pytest.mark.parametrize(
    ("genre_settings", "message"),
    [
        ({"rock": {"prior": {"steps": 0}}}, r"'genre_settings.rock': config key 'prior.steps': 0 is less than the minimum of 1"),
        ({"rock": {"prior": {"stepz": 3}}}, r"'genre_settings.rock': unknown config key 'prior.stepz'"),
        ({"rock": {"export": {"n_generated": 3}}}, r"unknown config key 'genre_settings.rock.export'; allowed keys here: model, prior, train"),
        ({"rock": {"prior": {"temperature": 0.7}}}, r"'genre_settings.rock.prior.temperature': prior.temperature is shared by every genre"),
        ({"hip hop": {}}, r"config key 'genre_settings': 'hip hop': a genre name may hold only"),
        ({"rock": {"model": {"conv": {"bands": "x"}}}}, r"'genre_settings.rock': config key 'model.conv.bands': 'x' is not of type 'integer'"),
    ],
)
def test_genre_settings_are_checked_as_the_genre_uses_them(genre_settings: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        resolve_config({"genre_settings": genre_settings})


def test_null_genre_settings_are_none() -> None:
    assert resolve_config({"genre_settings": None})["genre_settings"] == {}
    config = resolve_config({"genre_settings": {"rock": {"prior": {"steps": 5}}}}, command_line={"genre_settings": "null"})
    assert config["genre_settings"] == {} and genre_config(config, "rock") == config


def test_genre_settings_from_the_command_line_are_typed() -> None:
    command_line = {"genre_settings": {"rock": {"prior": {"steps": "300", "dropout": "0.1"}, "train": {"kl_beta": "1e-1"}}}}
    config = resolve_config({}, command_line=command_line)
    assert config["genre_settings"] == {"rock": {"prior": {"steps": 300, "dropout": 0.1}, "train": {"kl_beta": 0.1}}}


def test_genre_settings_of_a_genre_that_does_not_exist_are_named(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    assert unused_genre_settings({"rock": {}}, ["jazz", "rock"], tmp_path) == []
    assert not caplog.records
    assert unused_genre_settings({"rokc": {}, "jazz": {}}, ["jazz", "rock"], tmp_path) == ["rokc"]
    assert "config key 'genre_settings.rokc' is not used: genre 'rokc' does not exist" in caplog.text
    assert "genres that do: jazz, rock" in caplog.text
