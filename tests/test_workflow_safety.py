"""No shell injection through genre folders, data paths or the command line (issue 24, row 1):
every path and name in every rule's `shell:` is quoted, genre names are validated, and real
Snakemake runs on hostile folder names fail cleanly or succeed without running anything."""

from __future__ import annotations

import ast
import os
import re
import string
from pathlib import Path

import pandas as pd
import pytest

from conftest import REPO_ROOT, write_tone
from genrevae.config import ConfigError, check_genre_name, resolve_config
from genrevae.workflow_support import genre_audio_files, select_genres
from workflow_helpers import snakemake, write_config

RULE_FILES = sorted((REPO_ROOT / "workflow" / "rules").glob("*.smk"))
HOSTILE = ["y$(touch PWNED)", "a;touch PWNED2", "hip hop"]


def _shell_commands(path: Path) -> list[tuple[int, str]]:
    """(line, command) of every `shell:` of a rule file: the string literals indented below it."""
    lines = path.read_text(encoding="utf-8").splitlines()
    commands = []
    for number, line in enumerate(lines):
        match = re.match(r"(\s*)shell:\s*(.*)$", line)
        if not match:
            continue
        indent, body = len(match.group(1)), [match.group(2)] if match.group(2) else []
        for following in lines[number + 1 :]:
            if following.strip() and len(following) - len(following.lstrip()) <= indent:
                break
            body.append(following)
        commands.append((number + 1, ast.literal_eval("(" + "\n".join(body) + "\n)")))
    return commands


def _unquoted(command: str) -> list[str]:
    """Placeholders of a shell command that Snakemake would paste in unquoted."""
    found = []
    for _, field, spec, _ in string.Formatter().parse(command):
        if field is None or field == "threads" or field.startswith("resources."):
            continue
        if not (spec or "").endswith("q"):
            found.append("{" + field + (":" + spec if spec else "") + "}")
    return found


def test_the_shell_parser_sees_every_rule_and_flags_a_bare_placeholder() -> None:
    commands = [command for path in RULE_FILES for _, command in _shell_commands(path)]
    rules = sum(len(re.findall(r"^rule \w+:", p.read_text(), re.MULTILINE)) for p in RULE_FILES)
    assert len(commands) == rules and all(command.startswith("python -m genrevae ") for command in commands)
    assert _unquoted("x {output} {log:q} {threads} {resources.mem_mb} {{literal}} {wildcards.genre}") == [
        "{output}",
        "{wildcards.genre}",
    ]


@pytest.mark.parametrize("path", RULE_FILES, ids=lambda p: p.name)
def test_every_placeholder_in_a_shell_command_is_quoted(path: Path) -> None:
    bare = [f"{path.name}:{line} {field}" for line, command in _shell_commands(path) for field in _unquoted(command)]
    assert not bare, "unquoted in shell: (add :q): " + ", ".join(bare)


@pytest.mark.parametrize("name", ["jazz", "Hip-Hop", "música", "r_and_b", "80s", "drum.and.bass", "ロック", "_"])
def test_valid_genre_names_pass(name: str) -> None:
    assert check_genre_name(name, "genre folder 'd/x'") == name


@pytest.mark.parametrize(
    ("name", "suggestion"),
    [
        ("hip hop", "'hip_hop'"),
        ("y$(touch PWNED)", "'y_touch_PWNED_'"),
        ("a;b", "'a_b'"),
        ("R&B", "'R_B'"),
        (".hidden", "'hidden'"),
        ("-rf", "'rf'"),
        ("Old-Time / Historic", "'Old-Time_Historic'"),
        ("tab\there", "'tab_here'"),
        ("", None),
        ("..", None),
    ],
)
def test_invalid_genre_names_name_the_folder_the_rule_and_a_new_name(name: str, suggestion: str | None) -> None:
    with pytest.raises(ConfigError) as caught:
        check_genre_name(name, f"genre folder {'d/' + name!r}")
    message = str(caught.value)
    assert message.startswith(f"genre folder {'d/' + name!r}: a genre name may hold only letters, digits, '_', '.' and '-'")
    assert "passed to shell commands" in message and "leave it out with config 'genres'" in message
    assert "\n" not in message
    if suggestion:
        assert f"rename the folder, e.g. to {suggestion}," in message
        assert check_genre_name(ast.literal_eval(suggestion), "x")  # the suggestion itself is valid
    else:
        assert "e.g." not in message


def test_genre_names_are_checked_where_genres_are_chosen(tmp_path: Path) -> None:
    available = ["hip hop", "jazz"]
    with pytest.raises(ConfigError, match=r"^genre folder '.*/hip hop': .*e\.g\. to 'hip_hop'"):
        select_genres([], available, tmp_path)  # every folder when config `genres` is empty
    assert select_genres(["jazz"], available, tmp_path) == ["jazz"]  # only the listed ones
    with pytest.raises(ConfigError, match=r"^genre folder '.*/hip hop': "):
        genre_audio_files(tmp_path, "hip hop", available)  # a target naming a left-out folder
    with pytest.raises(ConfigError, match=r"^config key 'genres': 'hip hop': a genre name may hold only"):
        resolve_config({"genres": ["jazz", "hip hop"]})
    assert resolve_config({"genres": ["Hip-Hop", "música"]})["genres"] == ["Hip-Hop", "música"]


def _hostile_data(root: Path, names: list[str]) -> Path:
    data = root / "d"
    for name in names:
        for i in range(2):
            write_tone(data / name / f"{i}.wav", 1.0, freq=220.0 + 50 * i)
    return data


def _pwned(workdir: Path) -> list[Path]:
    """Files an injected `touch PWNED...` made: jobs run in `workdir`; the test's working directory
    and the repository are searched too (their top level: a job's shell never changes folder)."""
    found = [p for p in workdir.rglob("PWNED*")]
    return found + [p for root in {Path.cwd(), REPO_ROOT} for p in root.glob("PWNED*")]


@pytest.mark.workflow
def test_hostile_genre_folders_fail_before_any_job_runs(tmp_path: Path) -> None:
    data = _hostile_data(tmp_path, HOSTILE)
    write_config(tmp_path)
    target = "results/y$(touch PWNED)/data/index.csv"
    rule = "a genre name may hold only letters, digits, '_', '.' and '-'"
    runs = {
        # The first folder in sorted order is named: every folder is a selected genre.
        (f"data_dir={data}", "--", target): f"genre folder '{data}/a;touch PWNED2': {rule}",
        (f"data_dir={data}",): f"genre folder '{data}/a;touch PWNED2': {rule}",
        (f"data_dir={data}", "genres=[hip hop]", "--", target): f"config key 'genres': 'hip hop': {rule}",
    }
    for args, expected in runs.items():
        result = snakemake(tmp_path, "--config", *args, check=False, timeout=300)
        output = result.stdout + result.stderr
        assert result.returncode != 0 and expected in output, output
        assert "rename the folder, e.g. to " in output, output

    # With config `genres` leaving the hostile folders out, a target naming one still fails.
    write_tone(data / "ok" / "0.wav", 1.0)
    write_config(tmp_path, genres=["ok"])
    result = snakemake(tmp_path, "--config", f"data_dir={data}", "--", target, check=False, timeout=300)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert f"genre folder '{data}/y$(touch PWNED)': {rule}" in output, output
    assert "rename the folder, e.g. to 'y_touch_PWNED_'," in output, output

    assert not _pwned(tmp_path), "a shell command ran a genre name"
    assert not (tmp_path / "results").exists(), "a job ran (or left a log such as logs/prepare/hip)"


@pytest.mark.workflow
def test_a_data_dir_path_with_shell_syntax_runs_prepare_safely(tmp_path: Path) -> None:
    data = tmp_path / "my data; $(touch PWNED) `touch PWNED3` 'q"
    for i in range(3):
        write_tone(data / "música" / f"clip {i}; $(touch PWNED4).wav", 2.0, freq=220.0 + 50 * i)
    # Not files: Snakemake cannot take them as inputs, prepare still says what they are.
    (data / "música" / "gone $(touch PWNED5).wav").symlink_to(tmp_path / "nowhere.wav")
    os.mkfifo(data / "música" / "pipe.wav")
    write_config(tmp_path, data_dir=str(data), clip_seconds=2.0, min_seconds=1.0)
    snakemake(tmp_path, "results/música/data/split.csv", timeout=600)
    index = pd.read_csv(tmp_path / "results/música/data/index.csv", keep_default_na=False).set_index("track")
    clips = [f"clip {i}; $(touch PWNED4).wav" for i in range(3)]
    assert sorted(index.index) == sorted([*clips, "gone $(touch PWNED5).wav", "pipe.wav"])
    assert set(index.loc[clips, "status"]) == {"ok"}
    assert index.loc["gone $(touch PWNED5).wav", "reason"].startswith("dangling symbolic link")
    assert index.loc["pipe.wav", "reason"] == "not a regular file (FIFO)"
    assert (tmp_path / "results/música/data/split.csv").is_file()
    assert not _pwned(tmp_path), "a shell command ran part of a path"
