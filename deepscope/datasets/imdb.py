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
        n_words: vocabulary size; rarer words become index 1.
        valid_portion: the fraction of the training reviews held out as the validation split.
        maxlen: drop reviews longer than this many words (None: keep all).
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
    index = {w: i + 1 for i, (w, _) in enumerate(counts.most_common())}

    def encode(reviews):
        seqs = [[index.get(w, 1) if index.get(w, 1) < n_words else 1 for w in words] for words, _ in reviews]
        labels = [label for _, label in reviews]
        if maxlen is not None:
            kept = [i for i, s in enumerate(seqs) if len(s) <= maxlen]
            seqs, labels = [seqs[i] for i in kept], [labels[i] for i in kept]
        return seqs, labels

    train = encode(splits["train"])
    order = np.random.default_rng(0).permutation(len(train[0]))  # a fixed shuffle before the split
    n_valid = int(round(len(order) * valid_portion))
    pick = lambda idx: ([train[0][i] for i in idx], [train[1][i] for i in idx])  # noqa: E731
    return pick(order[n_valid:]), pick(order[:n_valid]), encode(splits["test"])


def _parse(paths) -> dict:
    splits = {"train": [], "test": []}
    pattern = re.compile(r"(?:^|/)aclImdb/(train|test)/(pos|neg)/[^/]+\.txt$")
    for name, data in iter_tar(paths[0], lambda n: pattern.search(n) is not None):
        split, polarity = pattern.search(name).groups()
        splits[split].append((name, tokenize(data.decode("utf-8", errors="replace")), int(polarity == "pos")))
    if not splits["train"] or not splits["test"]:
        raise DatasetFormatError(f"{paths[0]}: no aclImdb/train and aclImdb/test reviews in the archive")
    return {k: [(words, label) for _, words, label in sorted(v)] for k, v in splits.items()}  # (a stable order)
