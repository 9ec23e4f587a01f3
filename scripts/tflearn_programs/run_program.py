"""Run one of TFlearn's own programs with `tflearn` = deepscope, capped (1 epoch, few samples).

    python scripts/tflearn_programs/run_program.py PATH/TO/tflearn/examples/images/dnn.py

Run it in an empty folder (programs write files where they run); `run_all.py` does that for every
program. TFlearn's files are read from your checkout of github.com/tflearn/tflearn and never copied
here. Caps and stand-ins live in this file only (the program's text is unchanged):
- `import tflearn...` resolves to deepscope (a meta path alias).
- a `tensorflow` stand-in (tf_standin.py): placeholders, sessions, scopes and collections on torch.
- DNN.fit / SequenceGenerator.fit: n_epoch=1, at most CAP samples (validation too).
- datasets absent offline (STANDIN=1: oxflower17, imdb): random arrays of the right shapes;
  downloaded text corpora: a small generated text; interactive figures: Agg, no waiting.
- programs that expect your own data or a pretrained model (basics/finetuning.py,
  images/vgg_network_finetuning.py): random data and a model of the same layers saved by deepscope.
- NOCAP=1: no caps (what run_tests.py uses for TFlearn's tests/).
"""
import importlib
import importlib.machinery
import builtins
import importlib.abc
import importlib.util
import os
import runpy
import sys
import types
import contextlib

import numpy as np

CAP = int(os.environ.get("CAP", "512"))
import deepscope  # noqa: E402


class Alias(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, name, path=None, target=None):
        if name == "tflearn" or name.startswith("tflearn."):
            return importlib.util.spec_from_loader(name, self)
        return None

    def create_module(self, spec):
        real = importlib.import_module("deepscope" + spec.name[len("tflearn"):])
        return real

    def exec_module(self, module):
        pass


sys.meta_path.insert(0, Alias())

# --- tensorflow stand-in (graph mode on torch: tf_standin.py) ---
import tensorboard.compat  # noqa: E402  (let TensorBoard pick its own stub before ours exists)
_ = tensorboard.compat.tf
import torch.utils.tensorboard.summary  # noqa: E402,F401
import tf_standin  # noqa: E402
tf = tf_standin.install()


def cap(a):
    if isinstance(a, dict):
        return {k: cap(v) for k, v in a.items()}
    if isinstance(a, (list, tuple)) and len(a) and not np.isscalar(a[0]) and hasattr(a[0], "__len__") and len(a) <= 8 \
            and all(hasattr(x, "shape") or isinstance(x, list) for x in a) and len({len(x) for x in a}) == 1 and len(a[0]) > CAP:
        return [cap(x) for x in a]  # several inputs
    try:
        return a[:CAP]
    except Exception:
        return a


from deepscope.models.dnn import DNN  # noqa: E402
_fit = DNN.fit


_runs_seen = set()


def capped_fit(self, X, Y, n_epoch=10, validation_set=None, *args, **kwargs):
    run_id = kwargs.get("run_id")
    if run_id is not None and type(self).__name__ == "SequenceGenerator":
        if run_id in _runs_seen:  # a training loop of generators: one round is the cap
            print("[harness] cap: one round of the generator loop")
            raise SystemExit(0)
        _runs_seen.add(run_id)
    if isinstance(validation_set, (tuple, list)) and len(validation_set) == 2:
        validation_set = (cap(validation_set[0]), cap(validation_set[1]))
    kwargs.pop("n_epoch", None)
    return _fit(self, cap(X), cap(Y), 1, validation_set, *args, **kwargs)


if not os.environ.get("NOCAP"):
    DNN.fit = capped_fit
from deepscope.models.generator import SequenceGenerator  # noqa: E402
_generate = SequenceGenerator.generate
if not os.environ.get("NOCAP"):
    SequenceGenerator.generate = lambda self, seq_length, *a, **k: _generate(self, min(seq_length, 40), *a, **k)

# --- datasets not available offline: stand-ins of the right shapes ---
rng = np.random.default_rng(0)
def _images(n, shape, classes, one_hot):
    X = rng.random((n, *shape), dtype=np.float32)
    y = rng.integers(0, classes, n)
    return X, (np.eye(classes, dtype=np.float32)[y] if one_hot else y)

def _oxflower(dirname=None, resize_pics=(224, 224), shuffle=True, one_hot=False, **kw):
    return _images(32, (*resize_pics, 3), 17, one_hot)

def _imdb(path="imdb.pkl", n_words=100000, valid_portion=0.1, maxlen=None, **kw):
    seqs = lambda n: [list(rng.integers(1, min(n_words, 10000), rng.integers(5, 80))) for _ in range(n)]
    return (seqs(400), list(rng.integers(0, 2, 400))), (seqs(100), list(rng.integers(0, 2, 100))), None

def _patch(module, name, fn):
    try:
        mod = importlib.import_module(module)
        if not hasattr(mod, name) or os.environ.get("STANDIN"):
            setattr(mod, name, fn)
    except ImportError:
        mod = types.ModuleType(module)
        setattr(mod, name, fn)
        sys.modules[module] = mod
        parent, _, child = module.rpartition(".")
        setattr(importlib.import_module(parent), child, mod)

_patch("deepscope.datasets.oxflower17", "load_data", _oxflower)
_patch("deepscope.datasets.imdb", "load_data", _imdb)

# interactive figures: no screen here (the stand-in for closing the window)
import matplotlib  # noqa: E402
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
plt.waitforbuttonpress = lambda *a, **k: True
plt.show = lambda *a, **k: None
builtins.tf = tf  # TFlearn's star imports export `tf` (programs use tf.float32 after them)

# `six` (Python 2 compatibility, which two text programs import for urllib): a stand-in when it is not installed
try:
    import six  # noqa: F401
except ImportError:
    import urllib as _urllib
    _six = types.ModuleType("six")
    _six.moves = types.ModuleType("six.moves")
    _six.moves.urllib = _urllib
    _six.string_types, _six.PY2, _six.PY3 = (str,), False, True
    sys.modules.update({"six": _six, "six.moves": _six.moves, "six.moves.urllib": _urllib})

# urllib downloads of text corpora: a small local text
import urllib.request  # noqa: E402
def _urlretrieve(url, path, *a, **k):
    words = "the quick brown fox jumps over the lazy dog and then some more words follow here".split()
    with open(path, "w") as f:
        for i in range(3000):
            f.write(" ".join(rng.choice(words, 8)) + ("\n" if i % 3 == 0 else " "))
    return path, None
urllib.request.urlretrieve = _urlretrieve

ARGS = {"lstm_generator_textfile.py": ["corpus.txt"]}


def _vgg_finetuning_standins(program):
    """examples/images/vgg_network_finetuning.py expects your images (a 'path class' list) and TFlearn's
    pretrained vgg16.tflearn: 8 random images, and a VGG-16 of the same layers saved by deepscope."""
    from PIL import Image
    os.makedirs("/path/to/your/file/with", exist_ok=True)
    os.makedirs("/path/to/your/vgg_model", exist_ok=True)
    lines = []
    for i in range(10):
        Image.fromarray((rng.random((64, 64, 3)) * 255).astype("uint8")).save(f"img{i}.png")
        lines.append(f"{os.path.abspath(f'img{i}.png')} {i % 10}")
    open("/path/to/your/file/with/images", "w").write("\n".join(lines) + "\n")
    source = open(program).read()
    vgg16 = source[source.index("def vgg16"):source.index("model_path =")]
    namespace = {"tflearn": importlib.import_module("tflearn")}
    exec(vgg16, namespace)  # the program's own vgg16(), to write a pretrained file of the same layers
    import deepscope as t
    net = namespace["vgg16"](t.input_data(shape=[None, 224, 224, 3]), 1000)
    t.DNN(t.regression(net)).save("/path/to/your/vgg_model/vgg16.tflearn")


def _finetuning_standins():
    """examples/basics/finetuning.py expects your dataset and a pretrained 'cifar10_cnn' model."""
    builtins.your_dataset = lambda: _images(64, (32, 32, 3), 10, True)
    import deepscope as t
    from deepscope.layers.conv import conv_2d, max_pool_2d
    from deepscope.layers.core import dropout, fully_connected, input_data
    net = input_data(shape=[None, 32, 32, 3])
    net = conv_2d(net, 32, 3, activation='relu'); net = max_pool_2d(net, 2); net = dropout(net, 0.75)
    net = conv_2d(net, 64, 3, activation='relu'); net = conv_2d(net, 64, 3, activation='relu')
    net = max_pool_2d(net, 2); net = dropout(net, 0.5)
    net = fully_connected(net, 512, activation='relu'); net = dropout(net, 0.5)
    net = fully_connected(net, 10, activation='softmax')
    t.DNN(t.regression(net)).save("cifar10_cnn")
if __name__ == "__main__":
    program = sys.argv[1]
    args = ARGS.get(os.path.basename(program), [])
    if "corpus.txt" in args:
        _urlretrieve(None, "corpus.txt")
    if program.endswith("basics/finetuning.py"):
        _finetuning_standins()
    if program.endswith("vgg_network_finetuning.py"):
        _vgg_finetuning_standins(program)
    sys.argv = [program, *args]
    runpy.run_path(program, run_name="__main__")
