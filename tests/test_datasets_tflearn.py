"""TFlearn's other dataset loaders (titanic, svhn, imdb, oxflower17), downloaded from a local HTTP
server that serves small files in the real formats; the specs point at it with those files'
checksums, so download, verification, caching and parsing all run as they would on the real data."""
from __future__ import annotations

import csv
import dataclasses
import hashlib
import http.server
import io
import tarfile
import threading

import numpy as np
import pytest

from deepscope.datasets import _sources, imdb, oxflower17, svhn, titanic
from deepscope.datasets._download import ChecksumError, DownloadError
from deepscope.datasets._sources import FileSpec

FILES: dict[str, bytes] = {}


class _Files(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        body = FILES.get(self.path.lstrip("/"))
        self.send_response(200 if body is not None else 404)
        self.send_header("Content-Length", str(len(body or b"")))
        self.end_headers()
        self.wfile.write(body or b"")


@pytest.fixture(scope="module")
def base():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Files)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


def serve(monkeypatch, base: str, name: str, files: dict[str, bytes], md5_only: bool = False) -> None:
    """Serve ``files`` and point the dataset's spec at them, with their checksums on record."""
    FILES.update(files)
    spec = _sources.DATASETS[name]
    specs = tuple(FileSpec(f, (base + f,), None if md5_only else hashlib.sha256(d).hexdigest(),
                           hashlib.md5(d).hexdigest() if md5_only else None, len(d)) for f, d in files.items())
    monkeypatch.setitem(_sources.DATASETS, name, dataclasses.replace(spec, files=specs))


def _tar(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def test_titanic_is_written_in_tflearn_layout_and_loads_with_load_csv(base, tmp_path, monkeypatch):
    table = ('"pclass","survived","name","sex","age","sibsp","parch","ticket","fare","cabin","embarked",'
             '"boat","body","home.dest"\n'
             '1,1,"Allen, Miss. Elisabeth Walton","female",29,0,0,"24160",211.3375,"B5","S","2",?,"St Louis, MO"\n'
             '3,0,"Kelly, Mr. James","male",?,0,0,"330911",7.8292,?,"Q",?,?,?\n').encode()
    serve(monkeypatch, base, "titanic", {"titanic3.csv": table})
    path = titanic.download_dataset(work_directory=tmp_path, data_dir=tmp_path / "cache", verbose=False)
    rows = list(csv.reader(open(path)))
    assert rows[0] == list(titanic.COLUMNS)
    assert rows[1] == ["1", "1", "Allen, Miss. Elisabeth Walton", "female", "29", "0", "0", "24160", "211.3375"]
    assert rows[2][4] == "0"  # a missing age
    from deepscope.data_utils import load_csv
    data, labels = load_csv(path, target_column=0, categorical_labels=True, n_classes=2)
    assert np.asarray(labels).tolist() == [[0.0, 1.0], [1.0, 0.0]] and data[0][1] == "Allen, Miss. Elisabeth Walton"


def test_svhn_reads_the_mat_files(base, tmp_path, monkeypatch):
    scipy_io = pytest.importorskip("scipy.io")
    rng = np.random.default_rng(0)
    files = {}
    for name, n in (("train_32x32.mat", 5), ("test_32x32.mat", 3)):
        buffer = io.BytesIO()
        scipy_io.savemat(buffer, {"X": rng.integers(0, 256, (32, 32, 3, n), dtype=np.uint8),
                                  "y": np.array([[10], [1], [2], [3], [9]][:n], dtype=np.uint8)})
        files[name] = buffer.getvalue()
    serve(monkeypatch, base, "svhn", files)
    X, Y, tX, tY = svhn.load_data(data_dir=tmp_path, one_hot=True, verbose=False)
    assert X.shape == (5, 32, 32, 3) and tX.shape == (3, 32, 32, 3) and X.max() <= 1.0
    assert Y.argmax(1).tolist() == [0, 1, 2, 3, 9]  # label 10 is the digit 0
    raw = scipy_io.loadmat(io.BytesIO(files["train_32x32.mat"]))["X"]
    np.testing.assert_allclose(X[2], raw[:, :, :, 2] / 255.0, atol=1e-6)


def test_imdb_tokenizes_reviews_into_frequency_indices(base, tmp_path, monkeypatch):
    reviews = {"aclImdb/train/pos/0_9.txt": b"A great great movie.<br />Great!",
               "aclImdb/train/neg/1_2.txt": b"a dull movie",
               "aclImdb/train/pos/2_8.txt": b"great fun",
               "aclImdb/test/neg/0_1.txt": b"dull dull great unknownword",
               "aclImdb/README": b"not a review"}
    serve(monkeypatch, base, "imdb", {"aclImdb_v1.tar.gz": _tar(reviews)})
    train, valid, test = imdb.load_data(n_words=4, valid_portion=0.0, data_dir=tmp_path, verbose=False)
    # frequencies in the training reviews: great 4, a 2, movie 2, dull 1, fun 1 -> great=2, a=3, movie=4, ...
    # (TFlearn's imdb.pkl: 0 pads, 1 is the unknown word, words start at 2); n_words=4 keeps indices 2 and 3
    assert sorted(zip(map(tuple, train[0]), train[1])) == sorted([((3, 2, 2, 1, 2), 1), ((3, 1, 1), 0), ((2, 1), 1)])
    assert test == ([[1, 1, 2, 1]], [0])  # dull, movie and unknown words are out of the 4-word vocabulary
    train, valid, test = imdb.load_data(valid_portion=0.0, maxlen=3, data_dir=tmp_path, verbose=False)
    assert train[0] == [[2, 6]]  # TFlearn keeps the training reviews shorter than maxlen: only "great fun"
    assert len(test[0]) == 1  # the test set is not cut


def test_oxflower17_classes_follow_the_image_numbers(base, tmp_path, monkeypatch):
    from PIL import Image

    members = {}
    for number in (1, 80, 81, 1360):
        buffer = io.BytesIO()
        Image.fromarray(np.full((20, 30, 3), number % 256, dtype=np.uint8)).save(buffer, format="JPEG")
        members[f"jpg/image_{number:04d}.jpg"] = buffer.getvalue()
    members["jpg/files.txt"] = b"list"
    serve(monkeypatch, base, "oxflower17", {"17flowers.tgz": _tar(members)}, md5_only=True)
    X, Y = oxflower17.load_data(resize_pics=(16, 12), shuffle=False, data_dir=tmp_path, verbose=False)
    assert X.shape == (4, 12, 16, 3) and Y.tolist() == [0, 0, 1, 16]
    X2, Y2 = oxflower17.load_data(resize_pics=(16, 12), one_hot=True, data_dir=tmp_path, verbose=False)
    assert Y2.shape == (4, 17) and sorted(Y2.argmax(1).tolist()) == [0, 0, 1, 16]


def test_a_tampered_download_is_refused(base, tmp_path, monkeypatch):
    serve(monkeypatch, base, "titanic", {"titanic3.csv": b"pclass,survived\n1,1\n"})
    FILES["titanic3.csv"] = b"pclass,survived\n1,0\n"  # the server now sends other bytes
    with pytest.raises((ChecksumError, DownloadError), match="titanic3.csv|checksum|sha256"):
        titanic.download_dataset(work_directory=tmp_path, data_dir=tmp_path / "cache", verbose=False)
