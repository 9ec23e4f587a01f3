"""Parsers of the original file formats: IDX (MNIST), CIFAR binary, PNG (notMNIST), tar members.

Archives are read member by member in memory with ``tarfile``; nothing is ever extracted to
a path taken from an archive, and member names that could escape a folder are refused.
No pickle anywhere.
"""
from __future__ import annotations

import gzip
import os
import struct
import tarfile
import zlib
from pathlib import Path, PurePosixPath
from typing import Callable, Iterator

import numpy as np

_IDX_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
CIFAR_RECORD = 3072  # 3 x 32 x 32 bytes, channel-major (CHW), RGB


class DatasetFormatError(ValueError):
    """A data file is corrupt or not in the expected format."""


def _read_maybe_gzip(path: Path) -> bytes:
    with open(path, "rb") as handle:
        magic = handle.read(2)
    try:
        if magic == b"\x1f\x8b":
            with gzip.open(path, "rb") as handle:
                return handle.read()
        return Path(path).read_bytes()
    except (OSError, EOFError, zlib.error) as err:
        raise DatasetFormatError(f"{path}: cannot decompress ({err}); the file is corrupt "
                                 "or truncated") from err


def parse_idx(data: bytes, where: str = "IDX data") -> np.ndarray:
    """Parse IDX bytes (the MNIST format: magic 0x0000TTDD, big-endian sizes, then the data).

    Args:
        data: the whole (decompressed) file.
        where: name used in error messages.

    Returns:
        An array of the stored type with the stored dimensions.

    Raises:
        DatasetFormatError: bad magic number, unknown type, or a size that does not match.
    """
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise DatasetFormatError(f"{where}: not an IDX file (magic bytes {data[:4].hex()!r}, "
                                 "expected 0000TTDD)")
    dtype, ndim = data[2], data[3]
    if dtype not in _IDX_TYPES or ndim == 0:
        raise DatasetFormatError(f"{where}: unknown IDX type 0x{dtype:02x} or rank {ndim}")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DatasetFormatError(f"{where}: truncated IDX header")
    dims = struct.unpack(f">{ndim}I", data[4:header])
    item = np.dtype(_IDX_TYPES[dtype])
    expected = int(np.prod(dims, dtype=np.int64)) * item.itemsize
    if len(data) - header != expected:
        raise DatasetFormatError(f"{where}: IDX header says dims {dims} ({expected} bytes of data), "
                                 f"but the file holds {len(data) - header} bytes; it is corrupt "
                                 "or truncated")
    array = np.frombuffer(data, dtype=item, offset=header).reshape(dims)
    return array.astype(item.newbyteorder("="), copy=True)


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file, gzip-compressed or raw (detected from its first bytes)."""
    path = Path(path)
    return parse_idx(_read_maybe_gzip(path), where=str(path))


def read_idx_pair(images: Path, labels: Path) -> tuple[np.ndarray, np.ndarray]:
    """Read an images/labels IDX pair and check they agree: ``(N, H, W)`` uint8 and ``(N,)``."""
    x, y = read_idx(images), read_idx(labels)
    if x.ndim != 3 or y.ndim != 1 or x.dtype != np.uint8 or len(x) != len(y):
        raise DatasetFormatError(f"{images} / {labels}: expected images (N, H, W) uint8 and labels "
                                 f"(N,), got {x.shape} {x.dtype} and {y.shape} {y.dtype}")
    return x, y


def _safe_name(name: str, archive: Path) -> str:
    path = PurePosixPath(name)
    drive = len(name) > 1 and name[1] == ":"
    if path.is_absolute() or ".." in path.parts or "\\" in name or drive:
        raise DatasetFormatError(f"{archive}: refusing archive member with unsafe path {name!r}")
    return name


def iter_tar(archive: str | os.PathLike, want: Callable[[str], bool]) -> Iterator[tuple[str, bytes]]:
    """Yield ``(member_name, bytes)`` for regular-file members accepted by ``want``.

    Members are read in memory (never extracted); links, devices and unsafe names are
    refused or skipped. Reads sequentially, so a ``.tar.gz`` is decompressed once.

    Args:
        archive: a ``.tar``, ``.tar.gz`` ...
        want: predicate on the member name.
    """
    archive = Path(archive)
    try:
        with tarfile.open(archive, "r:*") as tar:
            for member in tar:
                name = _safe_name(member.name, archive)
                if not member.isfile() or not want(name):
                    continue
                handle = tar.extractfile(member)
                if handle is None:
                    continue
                yield name, handle.read()
    except (tarfile.TarError, OSError, EOFError, zlib.error) as err:
        raise DatasetFormatError(f"{archive}: cannot read the archive ({err}); it is corrupt "
                                 "or truncated") from err


def parse_cifar_records(data: bytes, label_bytes: int, where: str) -> tuple[np.ndarray, np.ndarray]:
    """Parse CIFAR binary records: ``label_bytes`` label bytes, then 3072 bytes CHW.

    Args:
        data: concatenated records.
        label_bytes: 1 for CIFAR-10, 2 for CIFAR-100 (coarse, fine).
        where: name for errors.

    Returns:
        ``(images, labels)``: uint8 ``(N, 32, 32, 3)`` NHWC and uint8 ``(N, label_bytes)``.
    """
    record = label_bytes + CIFAR_RECORD
    if len(data) == 0 or len(data) % record:
        raise DatasetFormatError(f"{where}: {len(data)} bytes is not a whole number of "
                                 f"{record}-byte CIFAR records; the file is corrupt or truncated")
    rows = np.frombuffer(data, dtype=np.uint8).reshape(-1, record)
    labels = rows[:, :label_bytes].copy()
    images = rows[:, label_bytes:].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)  # CHW -> HWC
    return np.ascontiguousarray(images), labels


def read_cifar_members(source: Path, names: list[str], label_bytes: int
                       ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Read CIFAR binary batches by base name from a tar archive or an extracted folder.

    Args:
        source: ``cifar-10-binary.tar.gz`` (or any tar), or a folder holding the ``.bin`` files.
        names: base names wanted, e.g. ``['data_batch_1.bin', 'test_batch.bin']``.
        label_bytes: 1 (CIFAR-10) or 2 (CIFAR-100).

    Returns:
        ``{name: (images, labels)}`` for every requested name.
    """
    found: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    if source.is_dir():
        for name in names:
            if (source / name).is_file():
                found[name] = parse_cifar_records((source / name).read_bytes(), label_bytes,
                                                  str(source / name))
    else:
        for member, data in iter_tar(source, lambda n: PurePosixPath(n).name in names):
            found[PurePosixPath(member).name] = parse_cifar_records(data, label_bytes,
                                                                    f"{source}:{member}")
    missing = [n for n in names if n not in found]
    if missing:
        raise DatasetFormatError(f"{source}: missing CIFAR batches {missing}")
    return found


def decode_png_gray(data: bytes) -> np.ndarray:
    """Decode an 8-bit, non-interlaced PNG to a grey ``(H, W)`` uint8 array (first channel).

    Enough for notMNIST's 28x28 greyscale glyphs; other PNG variants raise.

    Raises:
        DatasetFormatError: not a PNG, a CRC or zlib error, or an unsupported variant.
    """
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise DatasetFormatError("not a PNG file")
    pos, idat, header = 8, [], None
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if len(body) != length or data[pos + 8 + length:pos + 12 + length] != struct.pack(
                ">I", zlib.crc32(kind + body) & 0xFFFFFFFF):
            raise DatasetFormatError(f"PNG chunk {kind!r} is truncated or fails its CRC")
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
        pos += 12 + length
    if header is None or not idat:
        raise DatasetFormatError("PNG without IHDR or IDAT")
    width, height, depth, color, _, _, interlace = header
    channels = {0: 1, 2: 3, 4: 2, 6: 4}.get(color)
    if depth != 8 or channels is None or interlace:
        raise DatasetFormatError(f"unsupported PNG (bit depth {depth}, color type {color}, "
                                 f"interlace {interlace})")
    try:
        raw = zlib.decompress(b"".join(idat))
    except zlib.error as err:
        raise DatasetFormatError(f"PNG data does not decompress ({err})") from err
    stride = width * channels
    if len(raw) != height * (stride + 1):
        raise DatasetFormatError("PNG data has the wrong size")
    return _unfilter(raw, height, stride, channels)[:, ::channels].copy()


def _unfilter(raw: bytes, height: int, stride: int, bpp: int) -> np.ndarray:
    rows = np.frombuffer(raw, dtype=np.uint8).reshape(height, stride + 1)
    out = np.zeros((height, stride), dtype=np.uint8)
    prev = np.zeros(stride, dtype=np.int32)
    for r in range(height):
        kind, line = rows[r, 0], rows[r, 1:].astype(np.int32)
        if kind == 0:
            cur = line
        elif kind == 2:
            cur = (line + prev) & 255
        elif kind in (1, 3, 4):
            cur = _unfilter_row(kind, line.tolist(), prev.tolist(), bpp)
        else:
            raise DatasetFormatError(f"unknown PNG filter type {kind}")
        out[r] = cur
        prev = np.asarray(cur, dtype=np.int32)
    return out


def _unfilter_row(kind: int, line: list, up: list, bpp: int) -> np.ndarray:
    cur = [0] * len(line)
    for i, value in enumerate(line):
        left = cur[i - bpp] if i >= bpp else 0
        if kind == 1:
            pred = left
        elif kind == 3:
            pred = (left + up[i]) >> 1
        else:  # Paeth
            upleft = up[i - bpp] if i >= bpp else 0
            p = left + up[i] - upleft
            pa, pb, pc = abs(p - left), abs(p - up[i]), abs(p - upleft)
            pred = left if pa <= pb and pa <= pc else (up[i] if pb <= pc else upleft)
        cur[i] = (value + pred) & 255
    return np.asarray(cur, dtype=np.int32)
