"""genrevae.judge.checkpoint, the TensorFlow-free reader of V2 checkpoints, against TensorFlow's own reader.

TensorFlow is imported here only as the reference (the rule that only genrevae.backend imports it is
about the package): the comparisons skip without it.  The musicnn checkpoints come from
``pip install --no-deps musicnn==0.1.0``; their tests are skipped without it, unless
GENREVAE_REQUIRE_MUSICNN=1 (CI sets it), which makes a missing install a failure.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from conftest import backend_threads

from genrevae.judge import MusicnnNotInstalledError
from genrevae.judge.checkpoint import (
    NUMPY_DTYPES,
    CheckpointError,
    crc32c,
    data_path,
    index_path,
    read_bundle,
    read_bundle_entries,
)
from genrevae.judge.weights import CHECKPOINT_LAYERS, checkpoint_prefix, read_checkpoint

backend_threads()

MODELS = ("MTT_musicnn", "MSD_musicnn")
SLOT_SUFFIXES = ("/Adam", "/Adam_1")


def _musicnn_prefix(model: str) -> str:
    """The installed checkpoint's prefix; skip without musicnn, fail if GENREVAE_REQUIRE_MUSICNN is set."""
    try:
        return checkpoint_prefix(model)
    except MusicnnNotInstalledError as error:
        if os.environ.get("GENREVAE_REQUIRE_MUSICNN"):
            pytest.fail(f"GENREVAE_REQUIRE_MUSICNN is set but {error}")
        pytest.skip(str(error))


def _reference_crc32c(data: bytes) -> int:
    """CRC32C bit by bit, straight from the definition (reflected polynomial 0x82F63B78)."""
    register = 0xFFFFFFFF
    for byte in data:
        register ^= byte
        for _ in range(8):
            register = (register >> 1) ^ (0x82F63B78 if register & 1 else 0)
    return register ^ 0xFFFFFFFF


def _mask(crc: int) -> int:
    """LevelDB's masking of a stored CRC (crc32c.h): rotate right by 15 bits, add 0xa282ead8."""
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def test_crc32c_matches_the_definition() -> None:
    # RFC 3720 B.4 test vectors, and the check value of the CRC catalogue
    assert crc32c(b"") == 0
    assert crc32c(b"123456789") == 0xE3069283
    assert crc32c(bytes(32)) == 0x8A9136AA
    assert crc32c(b"\xff" * 32) == 0x62A8AB43
    assert crc32c(bytes(range(32))) == 0x46DD794E
    rng = np.random.default_rng(0)
    # short inputs go byte by byte, long ones through the lanes (64+ bytes a lane), with a remainder
    for length in (1, 63, 127, 128, 129, 1000, 64 * 4096 + 4095, 64 * 4096 * 3 + 17):
        data = rng.integers(0, 256, length, dtype=np.uint8).tobytes()
        assert crc32c(data) == _reference_crc32c(data), length


@pytest.fixture(params=MODELS)
def musicnn(request: pytest.FixtureRequest) -> tuple[str, str]:
    """(model, checkpoint prefix) of each installed musicnn checkpoint."""
    return request.param, _musicnn_prefix(request.param)


def test_read_checkpoint_returns_the_networks_variables(musicnn: tuple[str, str]) -> None:
    model, _prefix = musicnn
    values = read_checkpoint(model)
    assert list(values) == sorted(values)
    assert {name.rsplit("/", 1)[0] for name in values} == set(CHECKPOINT_LAYERS)
    assert not [n for n in values if n.endswith(SLOT_SUFFIXES) or n in ("beta1_power", "beta2_power")]
    assert all(v.dtype == np.float32 and v.flags.writeable and np.isfinite(v).all() for v in values.values())
    assert values["conv2d/kernel"].shape == (7, 38, 1, 204)


def test_musicnn_checkpoint_equals_tensorflows_reading(musicnn: tuple[str, str]) -> None:
    tf = pytest.importorskip("tensorflow")
    model, prefix = musicnn
    reader = tf.compat.v1.train.NewCheckpointReader(prefix)
    reference = {name: np.asarray(reader.get_tensor(name)) for name in reader.get_variable_to_shape_map()}
    everything = read_bundle(prefix)  # optimizer slots included: all 150 tensors are compared
    assert sorted(everything) == sorted(reference)
    for name, value in everything.items():
        expected = reference[name]
        assert (value.dtype, value.shape) == (expected.dtype, expected.shape), name
        assert value.tobytes() == expected.tobytes(), name
    network = read_checkpoint(model)
    slots = [n for n in reference if n.endswith(SLOT_SUFFIXES) or n in ("beta1_power", "beta2_power")]
    assert len(slots) == 86  # Adam's two slots per trainable variable, and its two beta powers
    assert sorted(network) == sorted(set(reference) - set(slots))
    assert all(network[n].tobytes() == reference[n].tobytes() for n in network)


# --- A checkpoint written by TensorFlow here: every dtype the reader maps, several index blocks -------


def _example_values() -> dict[str, np.ndarray]:
    """One tensor of every numpy-representable dtype, a scalar, an empty tensor, and many small ones."""
    rng = np.random.default_rng(1)
    values: dict[str, np.ndarray] = {}
    for code, dtype in NUMPY_DTYPES.items():
        kind = np.dtype(dtype)
        if kind == np.bool_:
            value = rng.random((3, 5)) < 0.5
        elif kind.kind == "c":
            value = rng.normal(size=(3, 5)) + 1j * rng.normal(size=(3, 5))
        elif kind.kind == "f":
            value = rng.normal(size=(3, 5))
        else:
            info = np.iinfo(kind)
            value = rng.integers(info.min, info.max, (3, 5), dtype=kind, endpoint=True)
        values[f"dtype_{code:02d}"] = np.asarray(value, dtype=kind.newbyteorder("="))
    values["scalar"] = np.float32(2.5).reshape(())
    values["empty"] = np.zeros((0, 3), np.int64)
    values["large"] = rng.normal(size=(300, 257)).astype(np.float32)  # long enough for the CRC's lanes
    # many long keys: several of the table's 256 KiB data blocks, many restart points, shared prefixes
    for i in range(1500):
        values[f"many/layer_{i:04d}/{'kernel_' * 30}"] = np.full((2,), i, np.int64)
    return values


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, np.ndarray], str]]:
    """(prefix, values by stored name, name of TF's object-graph string tensor) of checkpoints TF wrote.

    The values go through ``SaveV2``, the op under both ``tf.compat.v1.train.Saver`` and
    ``tf.train.Checkpoint``, run eagerly: no graph of 1,500 variables to build.
    """
    tf = pytest.importorskip("tensorflow")
    values = _example_values()
    folder = tmp_path_factory.mktemp("written")
    prefix = str(folder / "model.ckpt")
    names = list(values)
    tf.raw_ops.SaveV2(
        prefix=prefix, tensor_names=names, shape_and_slices=[""] * len(names), tensors=[values[n] for n in names]
    )
    # tf.train.Checkpoint adds a DT_STRING tensor (its object graph), which this reader refuses by name
    graph_prefix = tf.train.Checkpoint(v=tf.Variable(np.arange(4, dtype=np.int64))).write(str(folder / "object"))
    yield prefix, values, graph_prefix


def _data_blocks(index: bytes) -> int:
    """How many data blocks a table has: the entries of its index block (one handle per data block)."""
    footer = index[-48:]
    _, pos = _varint(footer, _varint(footer, 0)[1])  # skip the metaindex handle
    offset, pos = _varint(footer, pos)
    size, _ = _varint(footer, pos)
    block = index[offset : offset + size]
    end = size - 4 - 4 * int.from_bytes(block[-4:], "little")
    pos, count = 0, 0
    while pos < end:
        _, pos = _varint(block, pos)
        unshared, pos = _varint(block, pos)
        value_length, pos = _varint(block, pos)
        pos += unshared + value_length
        count += 1
    return count


def test_written_checkpoint_reads_back_equal(written: tuple[str, dict[str, np.ndarray], str]) -> None:
    prefix, values, _ = written
    assert _data_blocks(index_path(prefix).read_bytes()) >= 2
    read = read_bundle(prefix)
    assert sorted(read) == sorted(values)
    for name, expected in values.items():
        assert (read[name].dtype, read[name].shape) == (expected.dtype, expected.shape), name
        assert read[name].tobytes() == expected.tobytes(), name
    entries = read_bundle_entries(prefix)
    assert list(entries) == sorted(values, key=str.encode)
    selected = read_bundle(prefix, select=lambda n: n.startswith("dtype_01"))
    assert list(selected) == ["dtype_01"] and np.array_equal(selected["dtype_01"], values["dtype_01"])


def test_string_tensor_is_refused_by_name(written: tuple[str, dict[str, np.ndarray], str]) -> None:
    _, _, graph_prefix = written
    with pytest.raises(CheckpointError, match=r"'_CHECKPOINTABLE_OBJECT_GRAPH' has dtype DT_STRING") as error:
        read_bundle(graph_prefix)
    assert str(index_path(graph_prefix)) in str(error.value)
    value = read_bundle(graph_prefix, select=lambda n: n != "_CHECKPOINTABLE_OBJECT_GRAPH")
    assert [v.tolist() for v in value.values()] == [[0, 1, 2, 3]]


# --- Corrupt files: each error names the file and what is wrong --------------------------------------


def _copy(prefix: str, folder: Path) -> str:
    """A copy of the checkpoint at ``prefix`` (index and one data shard) under ``folder``; its prefix."""
    copy = str(folder / "copy")
    shutil.copyfile(index_path(prefix), index_path(copy))
    shutil.copyfile(data_path(prefix, 0, 1), data_path(copy, 0, 1))
    return copy


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    """A base-128 varint at ``pos``: its value and the position after it."""
    value, shift = 0, 0
    while True:
        value |= (data[pos] & 0x7F) << shift
        shift += 7
        pos += 1
        if not data[pos - 1] & 0x80:
            return value, pos


def _first_block_size(index: bytes) -> int:
    """The size of the table's first data block, which starts the file: the value of the index block's
    first entry (``0, 0, value_length, key, handle``) is its handle, offset 0 and size."""
    footer = index[-48:]
    _, pos = _varint(footer, _varint(footer, 0)[1])  # skip the metaindex handle
    index_offset, _ = _varint(footer, pos)
    shared, pos = _varint(index, index_offset)
    unshared, pos = _varint(index, pos)
    _, pos = _varint(index, pos)
    offset, pos = _varint(index, pos + unshared)
    assert (shared, offset) == (0, 0)
    return _varint(index, pos)[0]


@pytest.fixture
def musicnn_copy(tmp_path: Path) -> str:
    return _copy(_musicnn_prefix("MTT_musicnn"), tmp_path)


def test_missing_index_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match=rf"cannot read checkpoint index {tmp_path}/nothing\.index"):
        read_bundle(str(tmp_path / "nothing"))


@pytest.mark.parametrize(
    ("cut", "message"),
    [
        (lambda b: b[:10], r"10 bytes, shorter than a table footer"),
        (lambda b: b[: len(b) // 2], r"not a LevelDB table \(magic number"),
        (lambda b: b[:-1], r"not a LevelDB table \(magic number"),
        (lambda b: b[200:], r"index block at bytes \d+\.\.\d+ runs past the end of the table"),
        (lambda b: b"\x00" * len(b), r"not a LevelDB table"),
    ],
    ids=["tiny", "half", "last-byte", "head-cut", "zeroed"],
)
def test_truncated_or_garbled_index_names_the_file(
    musicnn_copy: str, cut: Callable[[bytes], bytes], message: str
) -> None:
    index = index_path(musicnn_copy)
    index_path(musicnn_copy).write_bytes(cut(index.read_bytes()))
    with pytest.raises(CheckpointError, match=message) as error:
        read_bundle(musicnn_copy)
    assert f"corrupt checkpoint index {index}:" in str(error.value)


def test_flipped_bit_in_a_block_fails_its_checksum(musicnn_copy: str) -> None:
    data = bytearray(index_path(musicnn_copy).read_bytes())
    size = _first_block_size(bytes(data))
    data[size // 2] ^= 0x10
    index_path(musicnn_copy).write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match=r"copy\.index: table: data block 0 at byte 0 fails its checksum"):
        read_bundle_entries(musicnn_copy)


def test_compressed_block_is_refused_clearly(musicnn_copy: str) -> None:
    data = bytearray(index_path(musicnn_copy).read_bytes())
    size = _first_block_size(bytes(data))
    data[size] = 1  # Snappy, with a checksum that matches: only the compression byte is wrong
    data[size + 1 : size + 5] = _mask(_reference_crc32c(bytes(data[: size + 1]))).to_bytes(4, "little")
    index_path(musicnn_copy).write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match=r"copy\.index: table: data block 0 at byte 0 is Snappy-compressed"):
        read_bundle_entries(musicnn_copy)


def test_truncated_data_shard_names_the_file(musicnn_copy: str) -> None:
    shard = data_path(musicnn_copy, 0, 1)
    shard.write_bytes(shard.read_bytes()[:1000])
    with pytest.raises(CheckpointError, match=rf"{shard}: tensor '[^']+' needs bytes \d+\.\.\d+, the file has 1000$"):
        read_bundle(musicnn_copy)


def test_flipped_bit_in_a_tensor_fails_its_checksum(musicnn_copy: str) -> None:
    entry = read_bundle_entries(musicnn_copy)["conv2d/kernel"]
    shard = data_path(musicnn_copy, 0, 1)
    data = bytearray(shard.read_bytes())
    data[entry.offset + entry.size // 3] ^= 0x01
    shard.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match=rf"{shard}: tensor 'conv2d/kernel' fails its checksum"):
        read_bundle(musicnn_copy)
    # the other tensors are intact and still read
    assert "conv2d/bias" in read_bundle(musicnn_copy, select=lambda n: n != "conv2d/kernel")


def test_missing_data_shard_names_the_file(musicnn_copy: str) -> None:
    shard = data_path(musicnn_copy, 0, 1)
    shard.unlink()
    with pytest.raises(CheckpointError, match=rf"cannot read checkpoint data {shard}"):
        read_bundle(musicnn_copy)


def test_header_versions_are_checked_as_tensorflow_does() -> None:
    """The header parser against headers serialized by TensorFlow's own generated protobuf class."""
    pytest.importorskip("tensorflow")
    from tensorflow.core.protobuf.tensor_bundle_pb2 import BundleHeaderProto

    from genrevae.judge.checkpoint import _parse_header

    header = BundleHeaderProto(num_shards=3, endianness=BundleHeaderProto.BIG)
    header.version.producer = 1
    parsed = _parse_header(header.SerializeToString(), "header")
    assert (parsed.num_shards, parsed.big_endian) == (3, True)
    header.version.bad_consumers.extend([0, 1])  # packed on the wire
    with pytest.raises(ValueError, match=r"header: bundle format version 1 needs a reader"):
        _parse_header(header.SerializeToString(), "header")
    del header.version.bad_consumers[:]
    header.version.min_consumer = 2
    with pytest.raises(ValueError, match=r"needs a reader of version >= 2 \(this one reads version 1\)"):
        _parse_header(header.SerializeToString(), "header")
    with pytest.raises(ValueError, match=r"header: 0 data shards"):
        _parse_header(BundleHeaderProto(num_shards=0).SerializeToString(), "header")
