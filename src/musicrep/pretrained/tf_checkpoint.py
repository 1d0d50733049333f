"""Read a TensorFlow 1 checkpoint (tensor bundle) without TensorFlow.

A TF1 ``Saver`` checkpoint ``PREFIX`` is two files (the ``.meta`` graph is not needed):

``PREFIX.index``
    A LevelDB-style *SSTable*: data blocks of prefix-compressed ``key -> value`` entries, each
    block followed by a 5-byte trailer (1 byte compression type, 0 = none; 4 bytes masked
    CRC32C of block + type byte); an index block mapping the last key of each data block to
    its ``BlockHandle`` (offset, size as varints); a 48-byte footer (metaindex handle, index
    handle, zero padding, magic ``0xdb4775248b80fb57`` little-endian). Within a block an
    entry is ``varint shared, varint non_shared, varint value_len, key[shared:], value``;
    the block ends with ``uint32 restarts[n]`` and ``uint32 n``.
    The key ``""`` holds a ``BundleHeaderProto``; every other key is a tensor name whose value
    is a ``BundleEntryProto`` (protobuf): ``dtype`` (1, enum), ``shape`` (2,
    ``TensorShapeProto``: repeated ``dim`` (2) with ``size`` (1)), ``shard_id`` (3),
    ``offset`` (4), ``size`` (5), ``crc32c`` (6, fixed32, masked CRC32C of the tensor bytes).
``PREFIX.data-00000-of-00001``
    The raw little-endian tensor bytes, at ``offset`` for ``size`` bytes, C order.

Both CRCs are checked (:class:`~musicrep.errors.ConfigError` naming the file on a mismatch).
The masked CRC is ``((crc >> 15) | (crc << 17)) + 0xA282EAD8`` (mod 2**32), as in LevelDB.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

from musicrep.errors import ConfigError

_MAGIC = 0xDB4775248B80FB57
#: TensorFlow DataType enum -> NumPy dtype (the types a checkpoint of float models holds).
_DTYPES = {1: np.float32, 2: np.float64, 3: np.int32, 9: np.int64, 19: np.float16, 10: np.bool_}


def _crc32c_table() -> np.ndarray:
    poly = 0x82F63B78
    table = np.zeros(256, dtype=np.uint32)
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ poly if c & 1 else c >> 1
        table[i] = c
    return table


_TABLE = [int(v) for v in _crc32c_table()]


def crc32c(data: bytes) -> int:
    """CRC-32C (Castagnoli) of ``data`` (pure Python; the checkpoints are a few MB)."""
    crc = 0xFFFFFFFF
    table = _TABLE
    for b in data:
        crc = table[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def masked_crc32c(data: bytes) -> int:
    """LevelDB/TensorFlow masked CRC-32C."""
    crc = crc32c(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7


def _read_block(raw: bytes, offset: int, size: int, where: Path) -> bytes:
    block = raw[offset : offset + size]
    ctype = raw[offset + size]
    (stored,) = struct.unpack("<I", raw[offset + size + 1 : offset + size + 5])
    if masked_crc32c(block + bytes([ctype])) != stored:
        raise ConfigError(f"{where}: CRC mismatch in the block at byte {offset} (corrupt file)")
    if ctype != 0:
        raise ConfigError(f"{where}: compressed SSTable blocks (type {ctype}) are not supported")
    return block


def _block_entries(block: bytes) -> list[tuple[bytes, bytes]]:
    (n_restarts,) = struct.unpack("<I", block[-4:])
    end = len(block) - 4 - 4 * n_restarts
    pos, key, out = 0, b"", []
    while pos < end:
        shared, pos = _varint(block, pos)
        non_shared, pos = _varint(block, pos)
        vlen, pos = _varint(block, pos)
        key = key[:shared] + block[pos : pos + non_shared]
        pos += non_shared
        out.append((key, block[pos : pos + vlen]))
        pos += vlen
    return out


def _proto_fields(buf: bytes) -> list[tuple[int, int | bytes]]:
    """Minimal protobuf wire-format decoder: ``[(field_number, value)]``."""
    pos, out = 0, []
    while pos < len(buf):
        tag, pos = _varint(buf, pos)
        field, wire = tag >> 3, tag & 7
        if wire == 0:
            value, pos = _varint(buf, pos)
        elif wire == 1:
            value = struct.unpack("<Q", buf[pos : pos + 8])[0]
            pos += 8
        elif wire == 2:
            n, pos = _varint(buf, pos)
            value = buf[pos : pos + n]
            pos += n
        elif wire == 5:
            value = struct.unpack("<I", buf[pos : pos + 4])[0]
            pos += 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
        out.append((field, value))
    return out


def _entry(value: bytes) -> dict:
    entry: dict = {"dtype": 1, "shape": [], "shard_id": 0, "offset": 0, "size": 0, "crc32c": None}
    for field, v in _proto_fields(value):
        if field == 1:
            entry["dtype"] = v
        elif field == 2:
            for f2, dim in _proto_fields(v):  # TensorShapeProto.dim
                if f2 == 2:
                    size = dict(_proto_fields(dim)).get(1, 0)
                    entry["shape"].append(int(size))
        elif field == 3:
            entry["shard_id"] = v
        elif field == 4:
            entry["offset"] = v
        elif field == 5:
            entry["size"] = v
        elif field == 6:
            entry["crc32c"] = v
        elif field == 7:
            raise ConfigError("partitioned (sliced) checkpoint variables are not supported")
    return entry


def read_index(prefix: str | Path) -> dict[str, dict]:
    """Tensor name -> ``BundleEntryProto`` fields of the checkpoint ``prefix``."""
    where = Path(str(prefix) + ".index")
    if not where.is_file():
        raise ConfigError(f"checkpoint index {where} does not exist")
    raw = where.read_bytes()
    if len(raw) < 48 or struct.unpack("<Q", raw[-8:])[0] != _MAGIC:
        raise ConfigError(f"{where} is not a TensorFlow tensor-bundle index (bad magic)")
    footer = raw[-48:]
    pos = 0
    _, pos = _varint(footer, pos)  # metaindex offset
    _, pos = _varint(footer, pos)  # metaindex size
    idx_off, pos = _varint(footer, pos)
    idx_size, pos = _varint(footer, pos)
    entries: dict[str, dict] = {}
    for _, handle in _block_entries(_read_block(raw, idx_off, idx_size, where)):
        off, p = _varint(handle, 0)
        size, _ = _varint(handle, p)
        for key, value in _block_entries(_read_block(raw, off, size, where)):
            if key:  # key "" is the BundleHeaderProto
                entries[key.decode()] = _entry(value)
    return entries


def read_checkpoint(prefix: str | Path, names: list[str] | None = None) -> dict[str, np.ndarray]:
    """Read tensors of the TF1 checkpoint ``prefix`` (all, or ``names``), CRCs checked."""
    index = read_index(prefix)
    data_path = Path(str(prefix) + ".data-00000-of-00001")
    if not data_path.is_file():
        raise ConfigError(f"checkpoint data file {data_path} does not exist")
    data = data_path.read_bytes()
    out: dict[str, np.ndarray] = {}
    for name in names if names is not None else sorted(index):
        if name not in index:
            raise ConfigError(f"{prefix}: no tensor {name!r} in the checkpoint")
        e = index[name]
        if e["shard_id"] != 0:
            raise ConfigError(f"{prefix}: multi-shard checkpoints are not supported")
        if e["dtype"] not in _DTYPES:
            raise ConfigError(f"{prefix}: tensor {name!r} has unsupported dtype {e['dtype']}")
        buf = data[e["offset"] : e["offset"] + e["size"]]
        if e["crc32c"] is not None and masked_crc32c(buf) != e["crc32c"]:
            raise ConfigError(f"{data_path}: CRC mismatch for tensor {name!r} (corrupt file)")
        arr = np.frombuffer(buf, dtype=np.dtype(_DTYPES[e["dtype"]]).newbyteorder("<"))
        out[name] = arr.reshape(e["shape"]).copy()
    return out
