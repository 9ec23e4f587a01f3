"""IMDB movie reviews for sentiment (TFlearn's ``imdb.load_data``): word-index sequences and labels.

Source: Stanford's ``aclImdb_v1.tar.gz`` (25,000 train / 25,000 test reviews), sha256-verified and
cached in ``ROOT/imdb``, read member by member (never extracted). TFlearn's ``imdb.pkl`` is a pickle,
which deepscope never loads, so the reviews are tokenized here the same way: lower-case words
(letters, digits, apostrophes; ``<br />`` removed), indexed by frequency in the training reviews
(1 = most frequent; words at or beyond ``n_words`` become 1, TFlearn's out-of-vocabulary index).
"""
from __future__ import annotations

import os
import re
from collections import Counter

import numpy as np

from .._checks import check_float, check_int
from ._formats import DatasetFormatError, iter_tar
from .registry import load_with_recovery

WORD = re.compile(r"[a-z0-9']+")


def tokenize(text: str) -> list[str]:
    """A review's words, as indexed (lower case, HTML line breaks removed)."""
    return WORD.findall(text.lower().replace("<br />", " "))


def load_data(path: str = "imdb.pkl", n_words: int = 100000, valid_portion: float = 0.1, maxlen: int | None = None,
              data_dir: str | os.PathLike | None = None, verbose: bool = True):
    """Load IMDB reviews as TFlearn's ``imdb.load_data`` returns them.

    Args:
        path: TFlearn's file name (unused: the archive is cached in the data folder).
        n_words: vocabulary size: indices at or above it become 1 (the unknown word); 0 pads, and the most
            frequent word is 2 (as in TFlearn's imdb.pkl).
        valid_portion: the fraction of the training reviews held out as the validation split.
        maxlen: keep the training reviews shorter than this many words (TFlearn's; the test set is not cut).
        data_dir: the cache folder.
        verbose: print download progress lines.

    Returns:
        ``(train, valid, test)``: each ``(sequences, labels)``, sequences are lists of word indices,
        labels 0 (negative) / 1 (positive).
    """
    n_words = check_int(n_words, "imdb.load_data n_words", minimum=2)
    valid_portion = check_float(valid_portion, "imdb.load_data valid_portion", 0.0, 1.0, max_inclusive=False)
    if maxlen is not None:
        maxlen = check_int(maxlen, "imdb.load_data maxlen", minimum=1)
    splits = load_with_recovery("imdb", data_dir, _parse, verbose)
    counts = Counter(w for words, _ in splits["train"] for w in words)
    # TFlearn's imdb.pkl: 0 pads, 1 is the unknown (or too rare) word, words start at 2 by frequency
    index = {w: i + 2 for i, (w, _) in enumerate(counts.most_common())}

    def encode(reviews, filter_length: bool):
        seqs = [[index.get(w, 1) if index.get(w, 1) < n_words else 1 for w in words] for words, _ in reviews]
        labels = [label for _, label in reviews]
        if maxlen is not None and filter_length:  # TFlearn: training reviews shorter than maxlen
            kept = [i for i, s in enumerate(seqs) if len(s) < maxlen]
            seqs, labels = [seqs[i] for i in kept], [labels[i] for i in kept]
        return seqs, labels

    train = encode(splits["train"], True)
    order = np.random.default_rng(0).permutation(len(train[0]))  # a fixed shuffle before the split
    n_valid = int(round(len(order) * valid_portion))
    pick = lambda idx: ([train[0][i] for i in idx], [train[1][i] for i in idx])  # noqa: E731
    return pick(order[n_valid:]), pick(order[:n_valid]), encode(splits["test"], False)


def _parse(paths) -> dict:
    splits = {"train": [], "test": []}
    pattern = re.compile(r"(?:^|/)aclImdb/(train|test)/(pos|neg)/[^/]+\.txt$")
    for name, data in iter_tar(paths[0], lambda n: pattern.search(n) is not None):
        split, polarity = pattern.search(name).groups()
        splits[split].append((name, tokenize(data.decode("utf-8", errors="replace")), int(polarity == "pos")))
    if not splits["train"] or not splits["test"]:
        raise DatasetFormatError(f"{paths[0]}: no aclImdb/train and aclImdb/test reviews in the archive")
    return {k: [(words, label) for _, words, label in sorted(v)] for k, v in splits.items()}  # (a stable order)


def prepare_data(seqs, labels, maxlen=None):
    """TFlearn's: pad word-id sequences into a ``(maxlen, n_samples)`` int64 matrix (time first) with a float32
    mask; sequences of ``maxlen`` or more words are dropped when ``maxlen`` is given.

    Returns:
        ``(x, mask, labels)``, or ``(None, None, None)`` when no sequence is left.
    """
    pairs = [(list(s), y) for s, y in zip(seqs, labels) if maxlen is None or len(s) < maxlen]
    if not pairs:
        return None, None, None
    longest = max(len(s) for s, _ in pairs)
    x = np.zeros((longest, len(pairs)), dtype=np.int64)
    mask = np.zeros((longest, len(pairs)), dtype=np.float32)
    for i, (s, _) in enumerate(pairs):
        x[: len(s), i] = s
        mask[: len(s), i] = 1.0
    return x, mask, [y for _, y in pairs]


def get_dataset_file(dataset, default_dataset, origin):
    """TFlearn's: ``dataset`` (a path); when it is the default file name and absent, downloaded from ``origin``."""
    from pathlib import Path

    from .tflearn_files import download
    if not os.path.isfile(dataset) and os.path.basename(dataset) == default_dataset:
        download(origin, Path(dataset))
    return dataset
