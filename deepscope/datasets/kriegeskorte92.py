"""The 92 object images of Kriegeskorte et al. (2008) with human IT, monkey IT, early visual and
behavioural RDMs: real neural data for comparing a network with the brain (RSA).

::

    from deepscope.datasets import kriegeskorte92
    data = kriegeskorte92.load_data()
    data.images            # (92, 175, 175, 3) uint8, objects on grey
    data.human_it          # (4, 2, 92, 92): subjects x sessions
    data.human_it_subjects_rdms()   # (4, 92, 92): sessions averaged per subject

The data come as three ``.npz`` files (``stimuli.npz``, ``rdms.npz``, ``model_rdms.npz``),
converted without changing any value from the MATLAB files that the RSA toolbox ships as demo data
(github.com/rsagroup/rsatoolbox, ``demos/92imageData/``). Each file is checked against its sha256
before it is read (once per process), and read without pickle. No licence is stated for the data
at the source: use it for research; the project does not redistribute the images.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ._download import ChecksumError, data_root

SUBDIR = "kriegeskorte92"
SHA256 = {
    "stimuli.npz": "6471ad67ee4911dc8d073375efb784020798e329e02a7288f7f14b5cfccb3140",
    "rdms.npz": "cd37f318d76e0615c08e74098ec799e67c66408a031cfc45495ec9466e0e4974",
    "model_rdms.npz": "9da781a114f732f0ee0f4108869afd880c41f316e5701c54be08115cbc7105c3",
}
SOURCE = ("https://github.com/rsagroup/rsatoolbox/tree/f1f83cadb7243492a1aae7460466e0f0140b20ac/"
          "demos/92imageData (MATLAB files; convert them to the three .npz files)")
_VERIFIED: dict[tuple, bool] = {}  # (path, size, mtime) -> checked this process


@dataclass
class Kriegeskorte92:
    """The data set. Stimulus ``i`` is row and column ``i`` of every RDM.

    Attributes:
        images: ``(92, 175, 175, 3)`` uint8 RGB.
        category: ``(92,)`` category names (12 human bodypart, 12 human face, 12 nonhuman
            bodypart, 12 nonhuman face, 23 natural inanimate, 21 artificial inanimate).
        human_it: ``(4, 2, 92, 92)`` human IT fMRI RDMs, subjects x sessions.
        human_it_subjects: ``(4,)`` subject codes.
        monkey_it: ``(92, 92)`` monkey IT RDM (674 neurons).
        human_evc: ``(92, 92)`` human early visual cortex RDM.
        behaviour: ``(16, 92, 92)`` similarity-judgement RDMs, one per person.
        models: model RDMs (not brain data): ``animacy``, ``hmax``, ``v1``, ``silhouette``, ...
        folder: where the files were read.
    """

    images: np.ndarray
    category: np.ndarray
    human_it: np.ndarray
    human_it_subjects: np.ndarray
    monkey_it: np.ndarray
    human_evc: np.ndarray
    behaviour: np.ndarray
    models: dict = field(default_factory=dict)
    folder: Path | None = None

    def human_it_subjects_rdms(self) -> np.ndarray:
        """``(4, 92, 92)``: each subject's human IT RDM, averaged over the two sessions."""
        return self.human_it.astype(np.float64).mean(axis=1)

    @property
    def animate(self) -> np.ndarray:
        """``(92,)`` bool: images 0-47 are animate, 48-91 inanimate."""
        return np.arange(len(self.images)) < 48


def find_folder(data_dir: str | os.PathLike | None = None) -> Path | None:
    """The folder holding the three files: ``<root>/kriegeskorte92`` or ``<root>`` itself."""
    root = data_root(data_dir)
    for folder in (root / SUBDIR, root):
        if all((folder / name).is_file() for name in SHA256):
            return folder
    return None


def verify(path: Path) -> None:
    """Check ``path`` against its sha256 on record (once per process unless it changes)."""
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if _VERIFIED.get(key):
        return
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    if digest.hexdigest() != SHA256[path.name]:
        raise ChecksumError(f"{path}: sha256 {digest.hexdigest()} does not match the one on record "
                            f"({SHA256[path.name]}); the file is damaged or not the published one. "
                            "Replace it with a good copy.")
    _VERIFIED[key] = True


def _read(path: Path) -> dict:
    verify(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}
    except (OSError, ValueError) as error:
        raise ChecksumError(f"{path}: cannot read the npz ({error})") from error


def load_data(data_dir: str | os.PathLike | None = None) -> Kriegeskorte92:
    """Load the 92-image data set from a local copy (checked against its sha256).

    Args:
        data_dir: the datasets folder (default: ``$DEEPSCOPE_DATA``, the folder set-up recorded, or
            ``~/.deepscope/datasets``: ``deepscope datasets where``);
            the files may be in its ``kriegeskorte92/`` subfolder or in it directly.

    Returns:
        :class:`Kriegeskorte92`.

    Raises:
        FileNotFoundError: the files are not there (the message says where to get them).
        ChecksumError: a file is damaged.
    """
    folder = find_folder(data_dir)
    if folder is None:
        where = data_root(data_dir) / SUBDIR
        raise FileNotFoundError(
            f"kriegeskorte92: expected {', '.join(SHA256)} in {where} (or give data_dir=FOLDER / set "
            f"DEEPSCOPE_DATA=FOLDER), found none or only some. They are the RSA toolbox's demo data: {SOURCE}.")
    stimuli, rdms, models = (_read(folder / name) for name in SHA256)
    return Kriegeskorte92(
        images=stimuli["images"], category=stimuli["category"], human_it=rdms["human_it"],
        human_it_subjects=rdms["human_it_subjects"], monkey_it=rdms["monkey_it"], human_evc=rdms["human_evc"],
        behaviour=rdms["behaviour"], models={k: v.astype(np.float64) for k, v in models.items()}, folder=folder)
