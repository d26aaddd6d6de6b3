"""The musicnn judge: the Keras port against the original TF1 graph shipped in the musicnn wheel,
and the front end against musicnn's own librosa code.

Needs ``pip install --no-deps musicnn==0.1.0`` (the weights and the reference graph); the tests
that need it are skipped without it, unless GENREVAE_REQUIRE_MUSICNN=1 (CI sets it), which makes
a missing install a failure.  musicnn's Python modules are never imported, here or in the port:
the reference is rebuilt from the wheel's ``.meta`` graph.
"""

from __future__ import annotations

import ast
import importlib.util
import os
import re
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import soxr
from conftest import backend_threads

from genrevae.judge import INSTALL_COMMAND, MSD_TAGS, MTT_TAGS, MusicnnNotInstalledError, judge, load_musicnn
from genrevae.judge.frontend import PATCH_FRAMES, patches
from genrevae.judge.weights import checkpoint_prefix
from genrevae.toy import synthesize_clip

backend_threads()

MODELS = ("MTT_musicnn", "MSD_musicnn")
#: Port vs original graph, max abs difference (measured on these patches: probabilities 3.0e-7, penultimate
#: embedding 1.7e-6; on 80 patches of the four toy genres, 6.0e-7 and 3.1e-6).
TOLERANCE = 1e-5


@pytest.fixture(scope="module")
def musicnn_dir() -> Path:
    """The installed musicnn package folder; skip without it, fail if GENREVAE_REQUIRE_MUSICNN is set."""
    try:
        return Path(checkpoint_prefix("MTT_musicnn")).parent
    except MusicnnNotInstalledError as error:
        if os.environ.get("GENREVAE_REQUIRE_MUSICNN"):
            pytest.fail(f"GENREVAE_REQUIRE_MUSICNN is set but {error}")
        pytest.skip(str(error))


def _toy(genre: str, seconds: float) -> tuple[np.ndarray, np.ndarray]:
    """A toy clip at 22,050 Hz and the same clip band-limited to 3 kHz (as the pipeline prepares it)."""
    full = synthesize_clip(genre, 0, 0, 22050, seconds)
    return full, soxr.resample(full, 22050, 3000, quality="HQ").astype(np.float32)


def _musicnn_patches(path: Path) -> np.ndarray:
    """``musicnn.extractor.batch_data`` on a file, with what its pinned libraries did made explicit.

    librosa < 0.10 padded frames by reflection (``pad_mode="reflect"``); numpy < 1.17 computed
    ``np.log10(10000 * audio_rep + 1)`` on the float16 ``audio_rep`` in float32 (numpy 2 keeps
    float16 and overflows, see genrevae.judge.frontend).
    """
    import librosa

    audio, sr = librosa.load(path, sr=16000)
    audio_rep = librosa.feature.melspectrogram(
        y=audio, sr=sr, hop_length=256, n_fft=512, n_mels=96, pad_mode="reflect"
    ).T  # fmt: skip
    audio_rep = audio_rep.astype(np.float16)
    audio_rep = np.log10(10000 * audio_rep.astype(np.float32) + 1)
    last_frame = audio_rep.shape[0] - PATCH_FRAMES + 1
    return np.stack([audio_rep[t : t + PATCH_FRAMES] for t in range(0, last_frame, PATCH_FRAMES)])


# librosa.load imports audioread, which imports modules Python 3.13 drops
@pytest.mark.filterwarnings("ignore:'(aifc|audioop|sunau)' is deprecated:DeprecationWarning")
@pytest.mark.parametrize("sample_rate", [3000, 16000, 22050])
def test_frontend_is_musicnns_librosa_code(tmp_path: Path, sample_rate: int) -> None:
    full = synthesize_clip("jazz", 1, 0, 22050, 6.5)  # 2 patches and a remainder at 16 kHz
    clip = full if sample_rate == 22050 else soxr.resample(full, 22050, sample_rate, quality="HQ").astype(np.float32)
    sf.write(tmp_path / "clip.wav", clip, sample_rate, subtype="FLOAT")
    reference = _musicnn_patches(tmp_path / "clip.wav")
    ours = patches(clip, sample_rate)
    assert ours.shape == reference.shape == (2, PATCH_FRAMES, 96) and ours.dtype == np.float32
    np.testing.assert_array_equal(ours, reference)  # bit for bit
    assert reference.max() > np.log10(65504.0)  # cells that float16 arithmetic would have overflowed


def test_too_loud_or_too_short_audio_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 2.976 s"):
        patches(np.zeros(8900, np.float32), 3000)
    with pytest.raises(ValueError, match="too loud for musicnn"):
        patches(40.0 * synthesize_clip("rock", 0, 0, 16000, 3.0), 16000)


def test_missing_weights_name_the_install_command(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    command = re.escape(f"`{INSTALL_COMMAND}`")
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(MusicnnNotInstalledError, match=f"no musicnn package.*{command}"):
        checkpoint_prefix("MSD_musicnn")
    spec = importlib.machinery.ModuleSpec("musicnn", None, is_package=True)
    spec.submodule_search_locations = [str(tmp_path)]  # the package without its checkpoint files
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: spec)
    with pytest.raises(MusicnnNotInstalledError, match=f"no checkpoint in {re.escape(str(tmp_path))}.*{command}"):
        checkpoint_prefix("MSD_musicnn")
    with pytest.raises(ValueError, match="unknown musicnn model 'MSD_vgg'"):
        checkpoint_prefix("MSD_vgg")


def test_tags_are_musicnns_own(musicnn_dir: Path) -> None:
    tree = ast.parse((musicnn_dir / "configuration.py").read_text())
    assignments = [node for node in tree.body if isinstance(node, ast.Assign)]
    shipped = {target.id: ast.literal_eval(node.value) for node in assignments for target in node.targets}
    assert MTT_TAGS == tuple(shipped["MTT_LABELS"]) and MSD_TAGS == tuple(shipped["MSD_LABELS"])


def _penultimate_tensor(graph_def) -> str:
    """The tensor the output layer reads when not training: dense_1's input, through dropout_1's pass-through."""
    nodes = {n.name: n for n in graph_def.node}
    merge = nodes[nodes["model/dense_1/MatMul"].input[0]]
    identity = nodes[merge.input[0]]  # the training=False branch of the dropout's cond
    switch = nodes[identity.input[0]]
    assert (merge.op, identity.op, switch.op) == ("Merge", "Identity", "Switch")
    return f"{switch.input[0]}:0"


def _original(model: str, inputs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Tag probabilities and penultimate embedding of musicnn's own graph (the wheel's .meta and checkpoint)."""
    import tensorflow as tf
    from tensorflow.core.protobuf import meta_graph_pb2

    prefix = checkpoint_prefix(model)
    meta = meta_graph_pb2.MetaGraphDef()
    meta.ParseFromString(Path(prefix, ".meta").read_bytes())
    for node in meta.graph_def.node:  # TF 1.12's shape annotations do not import under TF 2
        if "_output_shapes" in node.attr:
            del node.attr["_output_shapes"]
    penultimate = _penultimate_tensor(meta.graph_def)
    assert penultimate == "model/batch_normalization_10/batchnorm/add_1:0"
    graph = tf.Graph()
    with graph.as_default():
        saver = tf.compat.v1.train.import_meta_graph(meta, clear_devices=True)
        assert graph.get_tensor_by_name("model/Sigmoid:0").op.inputs[0].name == "model/dense_1/BiasAdd:0"
        with tf.compat.v1.Session(graph=graph) as session:
            saver.restore(session, prefix)
            feed = {"model/Placeholder:0": inputs, "model/Placeholder_2:0": False}  # x, is_training
            return session.run(["model/Sigmoid:0", penultimate], feed)


@pytest.mark.slow
@pytest.mark.parametrize("model", MODELS)
def test_port_matches_the_original_graph(musicnn_dir: Path, model: str) -> None:
    full, band = _toy("rock", 7.0)
    silence = np.zeros((1, PATCH_FRAMES, 96), np.float32)
    inputs = np.concatenate([patches(full, 22050), patches(band, 3000), silence])
    probabilities, penultimate = _original(model, inputs)
    port = load_musicnn(model)(inputs, training=False)
    probability_error = np.max(np.abs(np.asarray(port["probabilities"]) - probabilities))
    embedding_error = np.max(np.abs(np.asarray(port["penultimate"]) - penultimate))
    assert probability_error < TOLERANCE and embedding_error < TOLERANCE, (probability_error, embedding_error)
    # not a vacuous match: the embedding is large and the tags differ between the patches
    assert np.abs(penultimate).max() > 1.0 and np.ptp(probabilities, axis=0).max() > 0.1


def test_judge_rows_are_patches_of_each_clip(musicnn_dir: Path) -> None:
    _, band = _toy("classical", 9.0)  # 3 patches
    clips = [band, band[: 3000 * 4]]  # any lengths: 3 and 1 patches
    verdict = judge(clips, 3000, "MSD_musicnn", batch_size=3)
    assert verdict.tags == MSD_TAGS and verdict.n_clips == 2
    assert verdict.probabilities.shape == (4, 50) and verdict.embeddings.shape == (4, 200)
    np.testing.assert_array_equal(verdict.clip, [0, 0, 0, 1])
    direct = load_musicnn("MSD_musicnn")(patches(band, 3000), training=False)
    np.testing.assert_allclose(verdict.embeddings[:3], np.asarray(direct["penultimate"]), atol=1e-6)
    per_clip = verdict.clip_probabilities()
    np.testing.assert_allclose(per_clip, [verdict.probabilities[:3].mean(0), verdict.probabilities[3]], rtol=1e-6)
    mean = verdict.mean_probabilities()  # each clip counts alike, however many patches it has
    np.testing.assert_allclose([mean[tag] for tag in MSD_TAGS], per_clip.mean(axis=0))
    assert verdict.top_tags(3) == sorted(mean.items(), key=lambda item: -item[1])[:3]
    # a 1-D array is one clip; a 2-D array is one clip per row
    assert judge(band, 3000, "MSD_musicnn").n_clips == 1
    assert judge(np.stack([band, band]), 3000, "MSD_musicnn").n_clips == 2
    assert not any(name == "musicnn" or name.startswith("musicnn.") for name in sys.modules)


# ---------------------------------------------------------------- the judge stage
def test_every_genre_tag_is_a_tag_of_its_model() -> None:
    from genrevae.judge.genres import GENRE_TAGS, genre_key, genre_tags
    from genrevae.judge.tags import TAGS

    for genre, pairs in GENRE_TAGS.items():
        assert genre == genre_key(genre) and pairs, genre
        for model, tag in pairs:
            assert tag in TAGS[model], (genre, model, tag)
    assert genre_tags("Hip-Hop") == genre_tags("hip_hop") == genre_tags("hiphop") != ()
    assert genre_tags("reggae") == () and genre_tags("chiptune") == ()


def test_a_clip_is_judged_as_the_genre_of_its_most_probable_tag() -> None:
    from genrevae.judge.genres import GENRE_TAGS, assign_genres, genre_scores
    from genrevae.judge.tags import TAGS

    mtt, msd = np.full((3, 50), 0.05), np.full((3, 50), 0.05)
    msd[0, MSD_TAGS.index("jazz")] = 0.4
    msd[1, MSD_TAGS.index("hard rock")] = 0.3  # any tag of a genre counts ...
    mtt[1, MTT_TAGS.index("classical")] = 0.2
    mtt[2, MTT_TAGS.index("techno")] = 0.9
    msd[2, MSD_TAGS.index("jazz")] = 0.8
    scores = genre_scores({"MTT_musicnn": mtt, "MSD_musicnn": msd}, TAGS)
    assert scores.shape == (3, len(GENRE_TAGS))
    assert assign_genres(scores) == ["jazz", "rock", "electronic"]
    # ... and only of the models given
    assert assign_genres(genre_scores({"MSD_musicnn": msd}, TAGS)) == ["jazz", "rock", "jazz"]


@pytest.mark.slow
def test_judge_genre_tells_real_music_from_noise_with_its_controls(musicnn_dir: Path) -> None:
    """On toy jazz: other real jazz clips are far closer to the test clips in musicnn's embedding
    than phase-randomised ones (its spectrum, no music) and than toy disco; every share is a share."""
    from genrevae.judge.genre_report import judge_genre
    from genrevae.features import phase_randomise

    def clips(genre: str, seeds: range) -> np.ndarray:
        return np.stack([
            soxr.resample(synthesize_clip(genre, 0, s, 22050, 9.0), 22050, 3000, quality="HQ") for s in seeds
        ]).astype(np.float32)  # fmt: skip

    train, test, more = clips("jazz", range(0, 4)), clips("jazz", range(4, 7)), clips("jazz", range(7, 10))
    controls = {"phase_randomised": phase_randomise(train, 0), "disco": clips("disco", range(3))}
    report = judge_genre("jazz", more, train, test, 3000, {"tag_models": ["MSD_musicnn"]}, controls)
    embedding, verdict = report["embedding"], report["verdict"]
    assert embedding["n_patches"] == {"generated": 9, "test": 9, "phase_randomised": 12, "disco": 9, "train": 12}
    assert embedding["ratio"] < embedding["controls"]["phase_randomised"]["ratio"] / 3
    assert embedding["ratio"] < embedding["controls"]["disco"]["ratio"] / 3
    assert verdict["judged_as"] == "jazz" and verdict["genre_tags"] == [["MSD_musicnn", "jazz"]]
    for share in (verdict["real_test_accuracy"], verdict["generated_share"], *verdict["controls"].values()):
        assert 0.0 <= share <= 1.0
    assert verdict["trusted"] == (verdict["real_test_accuracy"] >= 0.5)
    assert sum(verdict["assigned"]["test"].values()) == 3
    assert {row[0] for rows in report["top_tags"].values() for row in rows} == {"MSD_musicnn"}
