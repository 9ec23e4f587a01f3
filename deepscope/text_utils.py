"""Character-level text helpers (TFlearn's ``data_utils`` names; ``deepscope.data_utils`` re-exports
them): text -> one-hot sequences and next-character targets, for ``SequenceGenerator``."""
from __future__ import annotations

import os
import random

import numpy as np

from ._checks import Text, check_int, fail


def chars_to_dictionary(string: str) -> dict[str, int]:
    """``{char: index}`` for every distinct character, in sorted order (stable across runs)."""
    return {c: i for i, c in enumerate(sorted(set(string)))}


def string_to_semi_redundant_sequences(string, seq_maxlen=25, redun_step=3, char_idx=None):
    """Cut ``string`` into overlapping windows and one-hot encode them (TFlearn's helper).

    Args:
        string: the text.
        seq_maxlen: characters per window.
        redun_step: a window starts every ``redun_step`` characters.
        char_idx: ``{char: index}`` (default: :func:`chars_to_dictionary` of the text).

    Returns:
        ``(X, Y, char_idx)``: ``X`` bool ``(windows, seq_maxlen, chars)``, ``Y`` bool ``(windows, chars)``
        (the character after each window).
    """
    if not isinstance(string, str):
        fail("string_to_semi_redundant_sequences string", "a str (decoded text)", type(string).__name__,
             "Read the file as text: open(path, encoding='utf-8').read().", error=TypeError)
    seq_maxlen = check_int(seq_maxlen, "string_to_semi_redundant_sequences seq_maxlen", minimum=1)
    redun_step = check_int(redun_step, "string_to_semi_redundant_sequences redun_step", minimum=1)
    if len(string) <= seq_maxlen:
        fail("string_to_semi_redundant_sequences string", f"a text longer than seq_maxlen={seq_maxlen}",
             Text(f"{len(string)} characters"))
    char_idx = chars_to_dictionary(string) if char_idx is None else char_idx
    unknown = sorted(set(string) - set(char_idx))
    if unknown:
        fail("string_to_semi_redundant_sequences char_idx", "an index for every character of the text",
             Text(f"no index for {unknown[:10]}"), "Leave char_idx=None to build it from this text.")
    codes = np.fromiter((char_idx[c] for c in string), dtype=np.int64, count=len(string))
    starts = np.arange(0, len(string) - seq_maxlen, redun_step)  # (windows,)
    windows = codes[starts[:, None] + np.arange(seq_maxlen)]  # (windows, seq_maxlen)
    X = np.zeros((len(starts), seq_maxlen, len(char_idx)), dtype=bool)
    X[np.arange(len(starts))[:, None], np.arange(seq_maxlen), windows] = True
    Y = np.zeros((len(starts), len(char_idx)), dtype=bool)
    Y[np.arange(len(starts)), codes[starts + seq_maxlen]] = True
    print(f"Vectorized text: {len(string):,} characters, {len(char_idx):,} distinct, {len(starts):,} sequences")
    return X, Y, char_idx


def textfile_to_semi_redundant_sequences(path, seq_maxlen=25, redun_step=3, to_lower_case=False,
                                         pre_defined_char_idx=None):
    """:func:`string_to_semi_redundant_sequences` of a text file (UTF-8)."""
    text = _read_text(path, "textfile_to_semi_redundant_sequences path")
    return string_to_semi_redundant_sequences(text.lower() if to_lower_case else text, seq_maxlen, redun_step,
                                              pre_defined_char_idx)


def random_sequence_from_string(string, seq_maxlen):
    """A random window of ``seq_maxlen`` characters (a seed for ``SequenceGenerator.generate``)."""
    seq_maxlen = check_int(seq_maxlen, "random_sequence_from_string seq_maxlen", minimum=1)
    if len(string) <= seq_maxlen:
        fail("random_sequence_from_string string", f"a text longer than seq_maxlen={seq_maxlen}",
             Text(f"{len(string)} characters"))
    start = random.randint(0, len(string) - seq_maxlen - 1)
    return string[start:start + seq_maxlen]


def random_sequence_from_textfile(path, seq_maxlen):
    """A random window of a text file (UTF-8)."""
    return random_sequence_from_string(_read_text(path, "random_sequence_from_textfile path"), seq_maxlen)


def _read_text(path, where: str) -> str:
    if not os.path.isfile(path):
        fail(where, "an existing text file", str(path), error=FileNotFoundError)
    with open(path, encoding="utf-8", errors="replace") as f:
        return f.read()


class VocabularyProcessor:
    """Documents -> fixed-length rows of word ids (TFlearn's, after TensorFlow's ``learn.preprocessing``).

    Words are found by TensorFlow's tokenizer regex; id 0 is the unknown word and the padding; a word seen fewer
    than ``min_frequency`` times while fitting is unknown.

    Args:
        max_document_length: the row length (longer documents are cut, shorter padded with 0).
        min_frequency: the fewest times a word must appear to get its own id.
        vocabulary: a ``{word: id}`` dict to use as it is (then ``fit`` adds nothing).
        tokenizer_fn: ``documents -> iterator of word lists`` (default: the regex tokenizer).
    """

    TOKENIZER = r"[A-Z]{2,}(?![a-z])|[A-Z][a-z]+(?=[A-Z])|[\'\w\-]+"

    def __init__(self, max_document_length, min_frequency=0, vocabulary=None, tokenizer_fn=None):
        self.max_document_length = check_int(max_document_length, "VocabularyProcessor max_document_length",
                                             minimum=1)
        self.min_frequency = check_int(min_frequency, "VocabularyProcessor min_frequency", minimum=0)
        self.vocabulary_ = dict(vocabulary) if vocabulary is not None else {"<UNK>": 0}
        self._frozen = vocabulary is not None
        self._tokenizer = tokenizer_fn or self._tokenize

    @classmethod
    def _tokenize(cls, documents):
        import re
        pattern = re.compile(cls.TOKENIZER)
        for document in documents:
            yield pattern.findall(str(document))

    def fit(self, raw_documents, unused_y=None):
        """Learn the vocabulary of ``raw_documents`` (ids in order of first appearance). Returns self."""
        if self._frozen:
            return self
        counts: dict[str, int] = {}
        for words in self._tokenizer(raw_documents):
            for word in words:
                counts[word] = counts.get(word, 0) + 1
        self.vocabulary_ = {"<UNK>": 0}
        for word, count in counts.items():
            if count >= max(self.min_frequency, 1):
                self.vocabulary_.setdefault(word, len(self.vocabulary_))
        return self

    def fit_transform(self, raw_documents, unused_y=None):
        """``fit`` then ``transform`` (the documents are read twice: give a list, not an iterator)."""
        documents = list(raw_documents)
        return self.fit(documents).transform(documents)

    def transform(self, raw_documents):
        """Yield one int64 row of ``max_document_length`` word ids per document."""
        for words in self._tokenizer(raw_documents):
            row = np.zeros(self.max_document_length, dtype=np.int64)
            for i, word in enumerate(words[: self.max_document_length]):
                row[i] = self.vocabulary_.get(word, 0)
            yield row

    def reverse(self, documents):
        """Yield each row of ids back as words joined by spaces (0 reads ``<UNK>``)."""
        words = {i: w for w, i in self.vocabulary_.items()}
        for row in documents:
            yield " ".join(words.get(int(i), "<UNK>") for i in row)

    def save(self, filename):
        """Write the settings and vocabulary as JSON (atomically)."""
        import json
        from ._io import atomic_write_bytes
        state = {"max_document_length": self.max_document_length, "min_frequency": self.min_frequency,
                 "vocabulary": self.vocabulary_}
        atomic_write_bytes(filename, json.dumps(state).encode())

    @classmethod
    def restore(cls, filename):
        """A processor read back from :meth:`save`'s JSON."""
        import json
        try:
            state = json.loads(open(filename, encoding="utf-8").read())
            processor = cls(state["max_document_length"], state["min_frequency"], state["vocabulary"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            fail("VocabularyProcessor.restore filename", "a file written by VocabularyProcessor.save",
                 Text(f"{filename!r} ({type(exc).__name__}: {str(exc)[:120]})"))
        processor._frozen = False
        return processor
