"""SequenceGenerator and the text helpers (TFlearn's lstm_generator_* programs)."""
from __future__ import annotations

import numpy as np
import pytest

import deepscope as tflearn
from deepscope.data_utils import (chars_to_dictionary, random_sequence_from_string, random_sequence_from_textfile,
                                  string_to_semi_redundant_sequences, textfile_to_semi_redundant_sequences)

TEXT = "the quick brown fox jumps over the lazy dog. " * 30


def test_semi_redundant_sequences_are_windows_and_next_characters(tmp_path):
    X, Y, char_idx = string_to_semi_redundant_sequences("abcabcabd", seq_maxlen=3, redun_step=2)
    assert char_idx == {"a": 0, "b": 1, "c": 2, "d": 3} == chars_to_dictionary("dcba")
    assert X.dtype == bool and X.shape == (3, 3, 4) and Y.shape == (3, 4)
    decode = {i: c for c, i in char_idx.items()}
    windows = ["".join(decode[i] for i in row.argmax(1)) for row in X]
    assert windows == ["abc", "cab", "bca"] and [decode[i] for i in Y.argmax(1)] == ["a", "c", "b"]
    path = tmp_path / "t.txt"
    path.write_text("AbcAbcAbd", encoding="utf-8")
    X2, _, idx2 = textfile_to_semi_redundant_sequences(path, 3, 2, to_lower_case=True)
    assert idx2 == char_idx and np.array_equal(X2, X)
    seed = random_sequence_from_textfile(path, 4)
    assert len(seed) == 4 and seed in "AbcAbcAbd"
    with pytest.raises(ValueError, match="longer than seq_maxlen"):
        string_to_semi_redundant_sequences("ab", seq_maxlen=5)
    with pytest.raises(TypeError, match="str"):
        string_to_semi_redundant_sequences(b"bytes", seq_maxlen=2)
    with pytest.raises(ValueError, match="no index"):
        string_to_semi_redundant_sequences("xyz", 1, 1, char_idx={"x": 0})


def test_sequence_generator_learns_and_generates_text():
    tflearn.set_seed(0)
    X, Y, char_idx = string_to_semi_redundant_sequences(TEXT, seq_maxlen=10, redun_step=2)
    g = tflearn.input_data([None, 10, len(char_idx)])
    g = tflearn.lstm(g, 64)
    g = tflearn.fully_connected(g, len(char_idx), activation="softmax")
    g = tflearn.regression(g, optimizer="adam", loss="categorical_crossentropy", learning_rate=0.01)
    m = tflearn.SequenceGenerator(g, dictionary=char_idx, seq_maxlen=10, clip_gradients=5.0)
    m.fit(X, Y, validation_set=0.1, batch_size=64, n_epoch=15, diagnostics=False)
    seed = random_sequence_from_string(TEXT, 10)
    text = m.generate(60, temperature=0.2, seq_seed=seed)
    assert text.startswith(seed) and len(text) == 70 and set(text) <= set(char_idx)
    words = text[10:].split()
    known = set(TEXT.split())
    assert sum(w in known for w in words[1:-1]) >= 0.7 * max(1, len(words) - 2)  # it learned the words
    with pytest.raises(ValueError, match="seq_seed"):
        m.generate(5, seq_seed="short")
    with pytest.raises(ValueError, match="unknown"):
        m.generate(5, seq_seed="ZZZZZZZZZZ")
    with pytest.raises(TypeError, match="dictionary"):
        tflearn.SequenceGenerator(g, dictionary=None)
