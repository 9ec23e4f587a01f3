"""``SequenceGenerator``: TFlearn's model for generating sequences (text, character by character)."""
from __future__ import annotations

import numpy as np
import torch

from .._checks import Text, check_float, check_int, fail
from ..utils import evaluation_pass
from .dnn import DNN


class SequenceGenerator(DNN):
    """A ``DNN`` that learns the next element of a sequence and generates new sequences.

    The network takes one-hot windows ``[None, seq_maxlen, len(dictionary)]`` and outputs the
    probability of the next element (softmax over the dictionary), as built with
    ``string_to_semi_redundant_sequences``.

    Args:
        network: the output of ``regression(...)``.
        dictionary: ``{element: index}`` (e.g. the ``char_idx`` of ``string_to_semi_redundant_sequences``).
        seq_maxlen: the window length the network reads.
        clip_gradients, tensorboard_verbose, tensorboard_dir, checkpoint_path, max_checkpoints,
        session: as in ``DNN`` (TFlearn's SequenceGenerator does not clip by default: 0.0).
    """

    def __init__(self, network, dictionary=None, seq_maxlen=25, clip_gradients=0.0, tensorboard_verbose=0,
                 tensorboard_dir=None, checkpoint_path=None, max_checkpoints=None, session=None, **dnn_kwargs):
        super().__init__(network, clip_gradients=clip_gradients, tensorboard_verbose=tensorboard_verbose,
                         tensorboard_dir=tensorboard_dir, checkpoint_path=checkpoint_path,
                         max_checkpoints=max_checkpoints, session=session, **dnn_kwargs)
        if not isinstance(dictionary, dict) or not dictionary:
            fail("SequenceGenerator dictionary", "a non-empty {element: index} dict (the char_idx of "
                 "string_to_semi_redundant_sequences)", type(dictionary).__name__, error=TypeError)
        indices = sorted(dictionary.values())
        if indices != list(range(len(dictionary))):
            fail("SequenceGenerator dictionary", "indices 0 .. n-1, each once", Text(f"{indices[:10]} ..."))
        self.dic = dict(dictionary)
        self.rev_dic = {i: c for c, i in dictionary.items()}
        self.seq_maxlen = check_int(seq_maxlen, "SequenceGenerator seq_maxlen", minimum=1)

    def generate(self, seq_length, temperature=0.5, seq_seed=None, display=False):
        """Generate ``seq_length`` new elements after ``seq_seed``.

        Args:
            seq_length: how many elements to generate.
            temperature: sampling temperature: near 0 repeats the likeliest continuations, 1 samples
                the network's probabilities, above 1 is more surprising.
            seq_seed: the start (at least ``seq_maxlen`` elements; a str for text).
            display: print each new element as it comes.

        Returns:
            The seed followed by the generated elements (a str when the seed is a str, else a list).
        """
        seq_length = check_int(seq_length, "generate seq_length", minimum=0)
        temperature = check_float(temperature, "generate temperature", minimum=0.0, min_inclusive=False)
        if seq_seed is None or len(seq_seed) < self.seq_maxlen:
            fail("generate seq_seed", f"a seed of at least seq_maxlen={self.seq_maxlen} elements "
                 "(e.g. random_sequence_from_string(text, seq_maxlen))",
                 None if seq_seed is None else Text(f"{len(seq_seed)} elements"))
        unknown = sorted({c for c in seq_seed if c not in self.dic}, key=str)
        if unknown:
            fail("generate seq_seed", "elements of the dictionary", Text(f"unknown {unknown[:10]}"))
        text = isinstance(seq_seed, str)
        window = [self.dic[c] for c in seq_seed[-self.seq_maxlen:]]
        generated = list(seq_seed)
        generator = np.random.default_rng(int(torch.randint(0, 2 ** 31 - 1, (1,))))  # follows torch's seed
        x = torch.zeros(1, self.seq_maxlen, len(self.dic), device=self.device)  # (1, seq_maxlen, dictionary)
        with evaluation_pass(self.net):
            for _ in range(seq_length):
                x.zero_()
                x[0, torch.arange(self.seq_maxlen), torch.tensor(window)] = 1.0
                probs = self.net(x)[0].double().cpu().numpy()  # (dictionary,)
                index = sample(probs, temperature, generator)
                generated.append(self.rev_dic[index])
                window = window[1:] + [index]
                if display:
                    print(self.rev_dic[index], end="", flush=True)
        return "".join(generated) if text else generated


def sample(probabilities: np.ndarray, temperature: float, generator: np.random.Generator) -> int:
    """An index drawn from ``probabilities`` reshaped by ``temperature`` (``p^(1/T)``, renormalized)."""
    logits = np.log(np.clip(probabilities, 1e-12, None)) / temperature
    weights = np.exp(logits - logits.max())
    return int(generator.choice(len(weights), p=weights / weights.sum()))


def reverse_dictionary(dic: dict) -> dict:
    """``{value: key}`` of a dict (TFlearn's, for index -> character maps)."""
    return {value: key for key, value in dic.items()}
