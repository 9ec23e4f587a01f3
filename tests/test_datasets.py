"""Tests of deepscope.datasets: real files, synthetic formats, downloads from a local server, toy data."""
from __future__ import annotations

import dataclasses
import fcntl
import functools
import gzip
import hashlib
import http.server
import io
import socket
import struct
import tarfile
import threading
import time
import zlib
from pathlib import Path

import numpy as np
import pytest

import deepscope.datasets as ds
from deepscope.datasets import _sources, cifar10, cifar100, fashion_mnist, mnist, notmnist, toy
from deepscope.datasets._download import ChecksumError, DownloadError, data_root, fetch, verify_file
from deepscope.datasets._formats import (DatasetFormatError, decode_png_gray, parse_idx, read_cifar_members,
                                         read_idx)
from deepscope.datasets._sources import DatasetSpec, FileSpec

FAST = dict(retries=2, backoff=0.01, timeout=5.0, verbose=False)


# ----------------------------------------------------------------------------- real datasets
@functools.lru_cache(maxsize=None)
def _real(name: str, root: str):
    """Load each real dataset once per test session."""
    if name == "mnist":
        return mnist.load_data(one_hot=True, data_dir=root)
    if name == "fashion":
        return fashion_mnist.load_data(data_dir=Path(root) / "fashion_mnist")
    if name == "notmnist":
        return notmnist.load_data(data_dir=root)
    with pytest.warns(UserWarning, match="subset"):
        return cifar10.load_data(data_dir=root)


def test_mnist_real(shared_datasets):
    X, Y, testX, testY = _real("mnist", str(shared_datasets))
    assert X.shape == (60000, 784) and testX.shape == (10000, 784) and X.dtype == np.float32
    assert Y.shape == (60000, 10) and Y.dtype == np.float32 and np.all(Y.sum(1) == 1)
    assert X.min() == 0.0 and X.max() == 1.0
    assert testY[:10].argmax(1).tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]
    assert np.bincount(Y.argmax(1)).tolist()[:2] == [5923, 6742]


def test_fashion_real(shared_datasets):
    X, Y, testX, testY = _real("fashion", str(shared_datasets))
    assert X.shape == (60000, 784) and Y.dtype == np.int64
    assert testY[:10].tolist() == [9, 2, 1, 1, 6, 1, 4, 6, 5, 7]
    assert np.bincount(Y).tolist() == [6000] * 10 and 0.0 <= X.min() and X.max() == 1.0


def test_notmnist_real_split(shared_datasets):
    X, Y, testX, testY = _real("notmnist", str(shared_datasets))
    counts = np.bincount(Y, minlength=10) + np.bincount(testY, minlength=10)
    assert counts.tolist() == [1872, 1873, 1873, 1873, 1873, 1872, 1872, 1872, 1872, 1872]
    assert np.bincount(testY).tolist() == [int(round(c * 0.2)) for c in counts]  # stratified
    assert X.shape[1] == 784 and X.dtype == np.float32 and 0.0 <= X.min() and X.max() <= 1.0
    again = notmnist.load_data(data_dir=shared_datasets, limit=50)  # deterministic
    assert np.array_equal(again[1], Y[:50]) and np.array_equal(again[2], testX[:50])
    other = notmnist.load_data(data_dir=shared_datasets, seed=1, limit=50)
    assert not np.array_equal(other[1], Y[:50])


def test_cifar10_subset_real(shared_datasets):
    (X, Y), (Xt, Yt) = _real("cifar10", str(shared_datasets))
    assert X.shape == (4000, 32, 32, 3) and Xt.shape == (1000, 32, 32, 3) and X.dtype == np.float32
    assert Y[:10].tolist() == [6, 9, 9, 4, 1, 1, 2, 7, 8, 3]
    assert Yt[:10].tolist() == [3, 8, 8, 0, 6, 6, 1, 6, 3, 1]
    assert 0.0 <= X.min() and X.max() <= 1.0


def test_real_files_verify_and_info(shared_datasets):
    spec = _sources.MNIST.files[3]  # t10k labels: small
    path = shared_datasets / "mnist" / spec.filename
    assert verify_file(path, spec)[0]  # known project copy (alt sha256)
    assert verify_file(path, dataclasses.replace(spec, alt_sha256=()))[0]  # via content md5
    assert not verify_file(path, dataclasses.replace(spec, alt_sha256=(), content_md5="0" * 32))[0]
    about = ds.info("mnist", shared_datasets)
    assert about["cached"] and all(f["cached"] for f in about["files"])
    assert ds.info("cifar10", shared_datasets)["files"][1]["cached"]  # the subset


# ----------------------------------------------------------------------------- synthetic files
def _idx_bytes(array: np.ndarray) -> bytes:
    return bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape) \
        + array.astype(np.uint8).tobytes()


def _write_mnist(folder: Path, n_train=6, n_test=4, compress=True) -> dict[str, bytes]:
    rng = np.random.default_rng(0)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28)),
        "train-labels-idx1-ubyte": np.arange(n_train) % 10,
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28)),
        "t10k-labels-idx1-ubyte": (np.arange(n_test) + 3) % 10,
    }
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for name, array in arrays.items():
        data = _idx_bytes(array)
        if compress:
            data, name = gzip.compress(data, mtime=0), name + ".gz"
        (folder / name).write_bytes(data)
        out[name] = data
    return out


def test_idx_roundtrip_and_errors(tmp_path):
    array = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    (tmp_path / "a.idx").write_bytes(_idx_bytes(array))
    (tmp_path / "a.gz").write_bytes(gzip.compress(_idx_bytes(array)))
    assert np.array_equal(read_idx(tmp_path / "a.idx"), array)
    assert np.array_equal(read_idx(tmp_path / "a.gz"), array)
    with pytest.raises(DatasetFormatError, match="magic"):
        parse_idx(b"\x1f\x8b\x08\x00" + bytes(20))
    with pytest.raises(DatasetFormatError, match="24 bytes of data"):
        parse_idx(_idx_bytes(array)[:-1])
    (tmp_path / "bad.gz").write_bytes(gzip.compress(_idx_bytes(array))[:-12])
    with pytest.raises(DatasetFormatError, match="bad.gz"):
        read_idx(tmp_path / "bad.gz")


def test_mnist_loader_on_local_raw_files(tmp_path, trust_synthetic_copies):
    _write_mnist(tmp_path / "mnist", compress=False)  # uncompressed IDX names are accepted
    X, Y, tX, tY = mnist.load_data(data_dir=tmp_path)
    assert X.shape == (6, 784) and Y.tolist() == [0, 1, 2, 3, 4, 5] and tY.tolist() == [3, 4, 5, 6]
    X4, Y4, _, _ = mnist.load_data(str(tmp_path / "mnist"), True, flatten=False, limit=2)  # TFlearn order
    assert X4.shape == (2, 28, 28, 1) and Y4.shape == (2, 10) and np.allclose(X4.reshape(2, -1), X[:2])
    with pytest.raises(TypeError, match="one_hot"):
        mnist.load_data(one_hot="yes", data_dir=tmp_path)


@pytest.fixture
def trust_synthetic_copies(monkeypatch):
    """Parsing tests use small synthetic files, which no checksum on record matches."""
    from deepscope.datasets import registry
    monkeypatch.setattr(registry, "_verified_once", lambda path, file: True)


def test_a_changed_byte_in_a_cached_file_is_detected_on_load(tmp_path, monkeypatch):
    """A cached MNIST file with one pixel byte changed (still valid gzip and IDX) is refused by its
    checksum before parsing: in a read-only folder with an error naming it, else moved aside."""
    good = _write_mnist(tmp_path / "mnist")
    files = tuple(FileSpec(n, ("http://127.0.0.1:9/none",), hashlib.sha256(d).hexdigest()) for n, d in good.items())
    monkeypatch.setitem(_sources.DATASETS, "mnist", DatasetSpec("mnist", "MNIST", "mnist", files))
    X, _, _, _ = mnist.load_data(data_dir=tmp_path, verbose=False)
    name = files[0].filename
    raw = bytearray(gzip.decompress((tmp_path / "mnist" / name).read_bytes()))
    raw[-1] ^= 0x10  # one pixel of the last image
    (tmp_path / "mnist" / name).write_bytes(gzip.compress(bytes(raw)))
    from deepscope.datasets import registry
    with monkeypatch.context() as m:  # a folder the file cannot be moved out of (root ignores chmod)
        m.setattr(registry.os, "replace", lambda *a: (_ for _ in ()).throw(PermissionError("read-only")))
        with pytest.raises(ds.ChecksumError, match=name):
            mnist.load_data(data_dir=tmp_path, verbose=False)
    with pytest.warns(RuntimeWarning, match="moved it to"), pytest.raises(ds.DownloadError):
        mnist.load_data(data_dir=tmp_path, verbose=False)  # moved aside; the (unreachable) download fails
    assert (tmp_path / "mnist" / (name + ".corrupt")).is_file()


def _cifar_bytes(labels: list[tuple[int, ...]], seed: int) -> tuple[bytes, np.ndarray]:
    pixels = np.random.default_rng(seed).integers(0, 256, (len(labels), 3072), dtype=np.uint8)
    data = b"".join(bytes(lab) + pixels[i].tobytes() for i, lab in enumerate(labels))
    return data, pixels


def _tar(path: Path, members: dict[str, bytes]) -> None:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def test_cifar10_binary_archive_and_extracted(tmp_path, trust_synthetic_copies):
    members, first = {}, None
    for i in range(1, 6):
        data, pixels = _cifar_bytes([(i,), (i + 1,)], seed=i)
        members[f"cifar-10-batches-bin/data_batch_{i}.bin"] = data
        first = pixels if i == 1 else first
    members["cifar-10-batches-bin/test_batch.bin"] = _cifar_bytes([(7,), (8,), (9,)], 9)[0]
    members["cifar-10-batches-bin/batches.meta.txt"] = b"airplane\n"
    _tar(tmp_path / "cifar-10-binary.tar.gz", members)
    (X, Y), (Xt, Yt) = cifar10.load_data(data_dir=tmp_path, one_hot=True)
    assert X.shape == (10, 32, 32, 3) and Xt.shape == (3, 32, 32, 3)
    assert Y.argmax(1).tolist() == [1, 2, 2, 3, 3, 4, 4, 5, 5, 6] and Yt.argmax(1).tolist() == [7, 8, 9]
    chw = first[0].reshape(3, 32, 32)  # record layout: R plane, G plane, B plane
    assert np.allclose(X[0] * 255, chw.transpose(1, 2, 0)) and X[0, 1, 2, 0] * 255 == chw[0, 1, 2]
    extracted = tmp_path / "other" / "cifar-10-batches-bin"
    extracted.mkdir(parents=True)
    for name, data in members.items():
        (extracted / Path(name).name).write_bytes(data)
    (X2, _), _ = cifar10.load_data(tmp_path / "other", limit=4)  # TFlearn's dirname, extracted
    assert np.array_equal(X2, X[:4])


def test_cifar100_labels_and_corrupt_batch(tmp_path, trust_synthetic_copies):
    train, _ = _cifar_bytes([(1, 10), (2, 20), (3, 99)], 0)
    test, _ = _cifar_bytes([(19, 5)], 1)
    _tar(tmp_path / "cifar-100-binary.tar.gz", {"cifar-100-binary/train.bin": train,
                                                "cifar-100-binary/test.bin": test})
    (X, Y), (Xt, Yt) = cifar100.load_data(data_dir=tmp_path)
    assert Y.tolist() == [10, 20, 99] and Yt.tolist() == [5] and X.shape == (3, 32, 32, 3)
    (_, Yc), _ = cifar100.load_data(data_dir=tmp_path, label_mode="coarse", one_hot=True)
    assert Yc.shape == (3, 20) and Yc.argmax(1).tolist() == [1, 2, 3]
    with pytest.raises(ValueError, match="label_mode"):
        cifar100.load_data(data_dir=tmp_path, label_mode="medium")
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "train.bin").write_bytes(train[:-5])
    (bad / "test.bin").write_bytes(test)
    with pytest.raises(DatasetFormatError, match="whole number"):
        cifar100.load_data(data_dir=bad)


def test_tar_path_traversal_refused(tmp_path):
    data, _ = _cifar_bytes([(1, 1)], 0)
    for bad in ("../../evil/train.bin", "/abs/train.bin"):
        _tar(tmp_path / "c.tar.gz", {bad: data, "test.bin": data})
        with pytest.raises(DatasetFormatError, match="unsafe path"):
            read_cifar_members(tmp_path / "c.tar.gz", ["train.bin", "test.bin"], label_bytes=2)
    assert not (tmp_path.parent / "evil").exists() and sorted(p.name for p in tmp_path.iterdir()) == [
        "c.tar.gz"]


def _png(image: np.ndarray, filters: list[int]) -> bytes:
    """A minimal greyscale PNG encoder using the given filter type per row."""
    h, w = image.shape
    img, raw, prev = image.astype(int), b"", np.zeros(w, int)
    for r in range(h):
        row, left = img[r], np.concatenate([[0], img[r, :-1]])
        upleft = np.concatenate([[0], prev[:-1]])
        ftype = filters[r % len(filters)]
        if ftype == 4:
            p = left + prev - upleft
            pa, pb, pc = abs(p - left), abs(p - prev), abs(p - upleft)
            pred = np.where((pa <= pb) & (pa <= pc), left, np.where(pb <= pc, prev, upleft))
        else:
            pred = [np.zeros(w, int), left, prev, (left + prev) // 2][ftype]
        raw += bytes([ftype]) + bytes(((row - pred) % 256).astype(np.uint8))
        prev = row

    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def test_png_decoder_all_filters():
    image = np.random.default_rng(0).integers(0, 256, (28, 28)).astype(np.uint8)
    for filters in ([0], [1], [2], [3], [4], [0, 1, 2, 3, 4]):
        assert np.array_equal(decode_png_gray(_png(image, filters)), image), filters
    broken = bytearray(_png(image, [4]))
    broken[40] ^= 0xFF
    with pytest.raises(DatasetFormatError):
        decode_png_gray(bytes(broken))


def test_notmnist_from_archive(tmp_path, trust_synthetic_copies):
    rng = np.random.default_rng(1)
    members = {}
    for letter in "ABCDEFGHIJ":
        for k in range(5):
            members[f"notMNIST_small/{letter}/f{k}.png"] = _png(
                rng.integers(0, 256, (28, 28)).astype(np.uint8), [k % 5])
    members["notMNIST_small/A/corrupt.png"] = b"\x89PNG\r\n\x1a\nnot really"
    folder = tmp_path / "notmnist_small"
    folder.mkdir()
    _tar(folder / "notMNIST_small.tar.gz", members)
    with pytest.warns(UserWarning, match="skipped 1 unreadable"):
        X, Y, tX, tY = notmnist.load_data(data_dir=tmp_path, test_fraction=0.4)
    assert len(Y) == 30 and np.bincount(tY).tolist() == [2] * 10 and X.shape == (30, 784)
    assert (folder / "notmnist_small.npz").is_file()  # decoded once, cached next to the archive
    again = notmnist.load_data(data_dir=tmp_path, test_fraction=0.4)  # now from the npz
    assert np.array_equal(again[0], X) and np.array_equal(again[3], tY)


# ----------------------------------------------------------------------------- downloads
PAYLOAD = np.random.default_rng(0).integers(0, 256, 200_000, dtype=np.uint8).tobytes()
SHA = hashlib.sha256(PAYLOAD).hexdigest()


class _Handler(http.server.BaseHTTPRequestHandler):
    hits: dict[str, int] = {}

    def log_message(self, *args):  # keep the test output quiet
        pass

    def _send(self, body: bytes, ctype="application/octet-stream", length=None, code=200):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body) if length is None else length))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        path = self.path.split("?")[0]
        count = self.hits[path] = self.hits.get(path, 0) + 1
        if path == "/good.bin":
            self._send(PAYLOAD)
        elif path == "/short.bin":  # a complete response, but of a truncated file
            self._send(PAYLOAD[:1000])
        elif path == "/wrong.bin":
            self._send(bytes(len(PAYLOAD)))
        elif path in ("/page.html", "/sneaky.bin"):
            ctype = "text/html; charset=utf-8" if path == "/page.html" else "application/octet-stream"
            self._send(b"<!DOCTYPE html><html><body>Not found</body></html>", ctype)
        elif path == "/dies.bin" or (path == "/flaky.bin" and count == 1):
            self._send(PAYLOAD[:50_000], length=len(PAYLOAD))  # promises more, then hangs up
            self.close_connection = True
        elif path == "/flaky.bin":
            self._send(PAYLOAD)
        elif path == "/slow.bin":
            self.send_response(200)
            self.send_header("Content-Length", str(len(PAYLOAD)))
            self.end_headers()
            for i in range(0, len(PAYLOAD), 40_000):
                self.wfile.write(PAYLOAD[i:i + 40_000])
                time.sleep(0.05)
        else:
            self._send(b"missing", "text/plain", code=404)


@pytest.fixture(scope="module")
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", _Handler.hits
    httpd.shutdown()
    httpd.server_close()


def _spec(base: str, *paths: str, **kw) -> FileSpec:
    return FileSpec("data.bin", tuple(base + p for p in paths), kw.pop("sha256", SHA), **kw)


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if not p.name.endswith(".lock"))


def test_download_good_file_then_cached(server, tmp_path):
    base, hits = server
    hits.clear()
    path = fetch(_spec(base, "/good.bin"), tmp_path / "c", **FAST)
    assert path.read_bytes() == PAYLOAD and _leftovers(tmp_path / "c") == ["data.bin"]
    assert fetch(_spec(base, "/good.bin"), tmp_path / "c", **FAST) == path and hits["/good.bin"] == 1


def test_download_wrong_checksum_and_truncated(server, tmp_path):
    base, _ = server
    with pytest.raises(ChecksumError) as err:
        fetch(_spec(base, "/wrong.bin"), tmp_path, **FAST)
    message = str(err.value)
    assert "data.bin" in message and f"{base}/wrong.bin" in message and SHA in message
    assert hashlib.sha256(bytes(len(PAYLOAD))).hexdigest() in message
    with pytest.raises(ChecksumError, match=r"1000 bytes; 200000 expected"):
        fetch(_spec(base, "/short.bin", size=len(PAYLOAD)), tmp_path, **FAST)
    assert _leftovers(tmp_path) == []  # no temp file, nothing that looks complete


def test_download_rejects_html(server, tmp_path):
    base, _ = server
    for path in ("/page.html", "/sneaky.bin"):
        with pytest.raises(DownloadError, match="HTML page") as err:
            fetch(_spec(base, path), tmp_path, **FAST)
        assert not err.value.unreachable
    assert _leftovers(tmp_path) == []


def test_download_server_dies_mid_way(server, tmp_path):
    base, hits = server
    hits.clear()
    with pytest.raises(DownloadError, match="truncated download: got 50000 of 200000"):
        fetch(_spec(base, "/dies.bin"), tmp_path, **FAST)
    assert hits["/dies.bin"] == 2 and _leftovers(tmp_path) == []  # retried; no partial file left
    path = fetch(_spec(base, "/flaky.bin"), tmp_path, **FAST)  # first attempt dies, retry works
    assert path.read_bytes() == PAYLOAD and hits["/flaky.bin"] == 2


def test_download_falls_back_to_next_mirror(server, tmp_path):
    base, _ = server
    path = fetch(_spec(base, "/missing.bin", "/good.bin"), tmp_path, **FAST)
    assert path.read_bytes() == PAYLOAD


def test_concurrent_downloaders_share_one_verified_file(server, tmp_path):
    base, hits = server
    hits.clear()
    results, errors = [], []

    def worker():
        try:
            results.append(fetch(_spec(base, "/slow.bin"), tmp_path, **FAST))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors and len(results) == 3 and len(set(results)) == 1
    assert hits["/slow.bin"] == 1 and results[0].read_bytes() == PAYLOAD
    assert _leftovers(tmp_path) == ["data.bin"]


def test_waits_for_lock_held_by_another_process(server, tmp_path):
    base, hits = server
    hits.clear()
    (tmp_path / ".data.bin.123.part").write_bytes(b"left by a killed download")
    with open(tmp_path / "data.bin.lock", "a+b") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)  # another "process" is downloading
        box = []
        thread = threading.Thread(target=lambda: box.append(fetch(_spec(base, "/good.bin"),
                                                                  tmp_path, **FAST)))
        thread.start()
        time.sleep(0.2)
        assert thread.is_alive() and not box  # waiting
        (tmp_path / "data.bin").write_bytes(PAYLOAD)  # the other one finishes
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
        thread.join(10)
    assert box == [tmp_path / "data.bin"] and "/good.bin" not in hits


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_offline_error_names_files_urls_and_folder(tmp_path, monkeypatch):
    url = f"http://127.0.0.1:{_closed_port()}/mnist/"
    files = tuple(dataclasses.replace(f, urls=(url + f.filename,)) for f in _sources.MNIST.files)
    monkeypatch.setitem(_sources.DATASETS, "mnist", dataclasses.replace(_sources.MNIST, files=files))
    monkeypatch.setattr("deepscope.datasets._download.time.sleep", lambda s: None)
    with pytest.raises(DownloadError) as err:
        mnist.load_data(data_dir=tmp_path, verbose=False)
    message = str(err.value)
    assert err.value.unreachable and "offline" in message and str(tmp_path / "mnist") in message
    for f in files:
        assert f.filename in message and f.urls[0] in message and f.sha256 in message
    assert "DEEPSCOPE_DATA" in message


def test_corrupt_cached_file_is_reverified_and_downloaded_again(server, tmp_path, monkeypatch):
    base, _ = server
    good = _write_mnist(tmp_path / "served")
    served = {f"/served/{name}": data for name, data in good.items()}
    monkeypatch.setattr(_Handler, "do_GET", lambda self: self._send(served[self.path]))
    files = tuple(FileSpec(n, (f"{base}/served/{n}",), hashlib.sha256(d).hexdigest())
                  for n, d in good.items())
    monkeypatch.setitem(_sources.DATASETS, "mnist", DatasetSpec("mnist", "MNIST", "mnist", files))
    cache = tmp_path / "cache" / "mnist"
    cache.mkdir(parents=True)
    (cache / files[1].filename).write_bytes(gzip.compress(b"\x00\x00\x08\x01garbage"))
    with pytest.warns(RuntimeWarning, match="does not match the checksums on record.*corrupt"):
        X, Y, _, _ = mnist.load_data(data_dir=tmp_path / "cache", verbose=False)
    assert Y.tolist() == [0, 1, 2, 3, 4, 5] and (cache / (files[1].filename + ".corrupt")).exists()
    assert len(ds.download("mnist", tmp_path / "cache", verbose=False)) == 4


def test_data_root_and_registry(tmp_path, monkeypatch):
    from deepscope.datasets import _download
    monkeypatch.setattr(_download, "ENVIRONMENT_CONFIG", tmp_path / "venv" / "deepscope.json")
    monkeypatch.setenv("DEEPSCOPE_DATA", str(tmp_path / "env"))
    assert data_root() == tmp_path / "env" and data_root(tmp_path / "x") == tmp_path / "x"
    monkeypatch.delenv("DEEPSCOPE_DATA")
    assert data_root() == Path.home() / ".deepscope" / "datasets"
    (tmp_path / "venv").mkdir()
    (tmp_path / "shared").mkdir()
    _download.record_data_dir(tmp_path / "shared")  # what make does: every shell of this environment finds it
    assert data_root() == tmp_path / "shared" and "recorded by set-up" in _download.data_source()[1]
    monkeypatch.setenv("DEEPSCOPE_DATA", str(tmp_path / "env"))
    assert data_root() == tmp_path / "env"  # the variable still wins
    monkeypatch.delenv("DEEPSCOPE_DATA")
    assert ds.list_datasets() == ["cifar10", "cifar100", "fashion_mnist", "imdb", "mnist", "notmnist", "oxflower17",
                                  "svhn", "titanic"]
    assert ds.info("oxflower17", tmp_path)["files"][0]["checksum"].startswith("md5")
    about = ds.info("cifar100", tmp_path)
    assert not about["cached"] and about["files"][0]["urls"][0].endswith("cifar-100-binary.tar.gz")
    assert ds.info("notmnist", tmp_path)["files"][0]["checksum"].startswith("size only")
    with pytest.raises(ValueError, match="'mnist'"):
        ds.info("imagenet")
    for spec in _sources.DATASETS.values():  # the table is well formed
        for f in spec.files:
            assert f.urls and (f.sha256 is None or len(f.sha256) == 64)


# ----------------------------------------------------------------------------- toy data
def test_logic_gates_exact():
    X, Y = toy.logic_gate("or")
    assert X == [[0., 0.], [0., 1.], [1., 0.], [1., 1.]] and Y == [[0.], [1.], [1.], [1.]]
    expected = {"and": [0, 0, 0, 1], "nand": [1, 1, 1, 0], "nor": [1, 0, 0, 0],
                "xor": [0, 1, 1, 0], "xnor": [1, 0, 0, 1]}
    for name, ys in expected.items():
        assert ds.logic_gate(name)[1] == [[float(v)] for v in ys]
    assert toy.logic_gate("NOT") == ([[0.], [1.]], [[1.], [0.]])
    X[0][0] = 5.0
    assert toy.logic_gate("or")[0][0] == [0., 0.]  # fresh lists each call
    with pytest.raises(ValueError, match="'xor'"):
        toy.logic_gate("implies")


@pytest.mark.parametrize("make", [toy.spirals, toy.circles, toy.moons, toy.blobs,
                                  toy.xor_quadrants, toy.checkerboard])
def test_toy_2d_sets(make):
    X, Y = make(n_samples=101, noise=0.1, seed=3)
    assert X.shape == (101, 2) and X.dtype == np.float32 and Y.dtype == np.int64
    assert np.isfinite(X).all()
    X2, Y2 = make(n_samples=101, noise=0.1, seed=3)
    assert np.array_equal(X, X2) and np.array_equal(Y, Y2)
    assert not np.array_equal(make(n_samples=101, noise=0.1, seed=4)[0], X)
    if make is not toy.checkerboard:  # balanced by construction
        counts = np.bincount(Y)
        assert counts.max() - counts.min() <= 1


def test_toy_labels_follow_the_rule():
    X, Y = toy.xor_quadrants(n_samples=200, noise=0.0)
    assert np.array_equal(Y, (X[:, 0] * X[:, 1] < 0).astype(np.int64))
    X, Y = toy.circles(n_samples=200, noise=0.0, factor=0.5)
    assert np.allclose(np.linalg.norm(X, axis=1), np.where(Y == 0, 1.0, 0.5), atol=1e-5)
    X, Y = toy.noisy_line(n_samples=500, slope=3.0, intercept=-1.0, noise=0.0)
    assert X.shape == (500, 1) and Y.dtype == np.float32 and np.allclose(Y, 3 * X - 1, atol=1e-5)
    with pytest.raises(ValueError, match="noise"):
        toy.moons(noise=-1.0)
