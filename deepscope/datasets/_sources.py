"""Where each dataset comes from, and the checksums on record for every file.

Checksum status (see the table below; every value was cross-checked against at least two
independent public sources, because nothing can be downloaded where this was written):

- MNIST (4 files): sha256 of the original ``.gz`` files, as recorded by torchvision's ports
  and several independent projects; sizes as served. The md5 of the *uncompressed* IDX
  files (published by the dataset authors / torchvision) are kept too, so re-compressed
  or uncompressed local copies are accepted when their content is identical.
- Fashion-MNIST (4 files): sha256 of the original ``.gz`` files (two independent public
  sources agree), md5 of the ``.gz`` published by Zalando / torchvision, md5 of the
  uncompressed content.
- CIFAR-10 / CIFAR-100 binary archives: sha256 recorded by TensorFlow Datasets ports and
  others; the md5 published on the authors' page (www.cs.toronto.edu/~kriz/cifar.html).
- notMNIST_small: **no checksum has ever been published**; only the size (8,458,043 bytes,
  used by the Udacity course notebooks) is on record. A download is checked by that size,
  then by parsing every image; this is weaker than a checksum and is said so by ``info()``.
- Titanic (TFlearn's quickstart): the OpenML CSV of the 1,309 passengers (titanic3), sha256 and size
  as recorded by TensorFlow Datasets; converted to TFlearn's column layout on first use.
- SVHN (cropped digits): ``train_32x32.mat`` / ``test_32x32.mat``, sha256 and sizes as recorded by
  TensorFlow Datasets.
- IMDB reviews: ``aclImdb_v1.tar.gz`` (Stanford), sha256 and size as recorded by TensorFlow Datasets
  (TFlearn's ``imdb.pkl`` is a pickle, which deepscope never loads: the texts are tokenized here).
- Oxford 17 flowers: ``17flowers.tgz``: **no sha256 is on record**; the md5 recorded by public
  ports (``b59a65d8d1a99cd66944d474e1289eab``) is checked instead, and ``info()`` says so.
- The project's own re-packed copies (``../shared/datasets``: re-gzipped IDX files, the
  ``notmnist_small.npz`` and ``cifar10_exact_subset.npz``) are listed with their sha256 as
  known-good local copies (``alt_sha256`` / ``LOCAL_ONLY``).
"""
from __future__ import annotations

from dataclasses import dataclass, field

MNIST_MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",  # the mirror torchvision uses
    "http://yann.lecun.com/exdb/mnist/",  # the authors' page (fallback)
)
FASHION_MIRRORS = ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",)
CIFAR_BASE = "https://www.cs.toronto.edu/~kriz/"
NOTMNIST_URLS = (
    "http://yaroslavvb.com/upload/notMNIST/notMNIST_small.tar.gz",
    "https://commondatastorage.googleapis.com/books1000/notMNIST_small.tar.gz",
)


@dataclass(frozen=True)
class FileSpec:
    """One file of a dataset, with everything known to verify it.

    Attributes:
        filename: the name in the cache folder (as published).
        urls: official URLs, tried in order.
        sha256: published sha256 of the file, or None when none is known.
        md5: published md5 of the file (kept for reference and as a fallback check).
        size: size in bytes as published (None if unknown).
        content_md5: md5 of the decompressed content of a ``.gz`` file, which lets a
            re-compressed or uncompressed local copy be verified.
        alt_sha256: sha256 of other known-good copies (e.g. the project's re-packed copies).
        local_only: True for files that are never downloaded, only used when present.
    """

    filename: str
    urls: tuple[str, ...] = ()
    sha256: str | None = None
    md5: str | None = None
    size: int | None = None
    content_md5: str | None = None
    alt_sha256: tuple[str, ...] = ()
    local_only: bool = False


@dataclass(frozen=True)
class DatasetSpec:
    """A downloadable dataset: its files and where it lives in the cache.

    Attributes:
        name: registry name (``'mnist'``).
        title: human name for messages.
        subdir: folder under the cache root (same names as ``../shared/datasets``).
        files: the files a download fetches.
        local: alternative local-only files (project copies, subsets), used when present.
        extra_subdirs: other folders under the root that are searched for local copies.
    """

    name: str
    title: str
    subdir: str
    files: tuple[FileSpec, ...]
    local: tuple[FileSpec, ...] = ()
    extra_subdirs: tuple[str, ...] = field(default=())


def _idx(base: tuple[str, ...], name: str, sha256: str, md5: str | None, size: int,
         content_md5: str, alt: str) -> FileSpec:
    return FileSpec(name, tuple(b + name for b in base), sha256, md5, size, content_md5, (alt,))


MNIST = DatasetSpec("mnist", "MNIST", "mnist", (
    _idx(MNIST_MIRRORS, "train-images-idx3-ubyte.gz",
         "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
         "f68b3c2dcbeaaa9fbdd348bbdeb94873", 9912422, "6bbc9ace898e44ae57da46a324031adb",
         "71524e2cd1ad2968737f7f2f2ff69cbfc32df8ccddff51593f7cb2d4e0eb5b64"),
    _idx(MNIST_MIRRORS, "train-labels-idx1-ubyte.gz",
         "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
         "d53e105ee54ea40749a09fcbcd1e9432", 28881, "a25bea736e30d166cdddb491f175f624",
         "fe03b8bd7915f70bf5aa08be480aa413fbd85afcaa58b35d230d335f284fd88e"),
    _idx(MNIST_MIRRORS, "t10k-images-idx3-ubyte.gz",
         "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
         "9fb629c4189551a2d022fa330f9573f3", 1648877, "2646ac647ad5339dbf082846283269ea",
         "5634745efa576a17e7d4cf5cd9d09123c75e6538e5114267c2d156edaf519341"),
    _idx(MNIST_MIRRORS, "t10k-labels-idx1-ubyte.gz",
         "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
         "ec29112dd5afa0611ce80d1b7f02629c", 4542, "27ae3e4e09519cfbb04c329615203637",
         "ae18e77e031ccde52407f794d123116439864147d33ac992975f85dd4dc42af6"),
))

FASHION_MNIST = DatasetSpec("fashion_mnist", "Fashion-MNIST", "fashion_mnist", (
    _idx(FASHION_MIRRORS, "train-images-idx3-ubyte.gz",
         "08dc20ab1689590a0bcd66e874647b6ee8464e2d501b5a3f1f78831db19a3fdc",
         "8d4fb7e6c68d591d4c3dfef9ec88bf0d", 26421880, "f4a8712d7a061bf5bd6d2ca38dc4d50a",
         "a26751d72d89606ffbfdd4dd5d16911f01e93a7ff4783c95da7307a073d79fa7"),
    _idx(FASHION_MIRRORS, "train-labels-idx1-ubyte.gz",
         "b0197879cbda89f3dc7b894f9fd52b858e68ea4182b6947c9d8c2b67e5f18dcc",
         "25c81989df183df01b3e8a0aad5dffbe", 29515, "9018921c3c673c538a1fc5bad174d6f9",
         "a578f3c9ec239359c0d23abadc5d55e4a4fb20df357215637b7a2f127b006a74"),
    _idx(FASHION_MIRRORS, "t10k-images-idx3-ubyte.gz",
         "78dcbbfb5a27efaf1b6c1d616caca68560be8766c5bffcb2791df9273a534229",
         "bef4ecab320f06d8554ea6380940ec79", 4422102, "8181f5470baa50b63fa0f6fddb340f0a",
         "78cb45a589ec14266eab4ac0cb2e9e10a4c076ae2d337fe86383d761bff83f32"),
    _idx(FASHION_MIRRORS, "t10k-labels-idx1-ubyte.gz",
         "42bd18137a62d5998cdeae52bf3a0676ac6b706f5cf8439b47bb5b151ae3dccf",
         "bb300cfdad3c16e7a12a480ee83cd310", 5148, "15d484375f8d13e6eb1aabb0c3f46965",
         "ae04cd950ab214637dd08f56319057c2ae10cbb660f742681f426479e3d51363"),
))

CIFAR10 = DatasetSpec("cifar10", "CIFAR-10", "cifar10", (
    FileSpec("cifar-10-binary.tar.gz", (CIFAR_BASE + "cifar-10-binary.tar.gz",),
             "c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd",
             "c32a1d4ab5d03f1284b67883e8d87530", 170052171),
), local=(
    FileSpec("cifar10_exact_subset.npz",
             sha256="5e81f99fe5af185b32d0cb5efbf72c956a858f8e684fdfba6995f9e197878f5c",
             local_only=True),
), extra_subdirs=("cifar10_subset",))

CIFAR100 = DatasetSpec("cifar100", "CIFAR-100", "cifar100", (
    FileSpec("cifar-100-binary.tar.gz", (CIFAR_BASE + "cifar-100-binary.tar.gz",),
             "58a81ae192c23a4be8b1804d68e518ed807d710a4eb253b1f2a199162a40d8ec",
             "03b5dce01913d631647c71ecec9e9cb8", 168513733),
))

NOTMNIST = DatasetSpec("notmnist", "notMNIST_small", "notmnist_small", (
    # No published checksum exists for this archive: size only (see the module docstring).
    FileSpec("notMNIST_small.tar.gz", NOTMNIST_URLS, None, None, 8458043),
), local=(
    FileSpec("notmnist_small.npz",
             sha256="ab60aedc9bd716259dd5def74fea03a8bb9a9d6d727da28f60e2da46c7f8e347",
             local_only=True),
))

TITANIC = DatasetSpec("titanic", "Titanic passengers", "titanic", (
    FileSpec("titanic3.csv", ("https://www.openml.org/data/get_csv/16826755/phpMYEkMl",),
             "c617db2c7470716250f6f001be51304c76bcc8815527ab8bae734bdca0735737", None, 117743),
))

SVHN_BASE = "http://ufldl.stanford.edu/housenumbers/"
SVHN = DatasetSpec("svhn", "SVHN (cropped digits)", "svhn", (
    FileSpec("train_32x32.mat", (SVHN_BASE + "train_32x32.mat",),
             "435e94d69a87fde4fd4d7f3dd208dfc32cb6ae8af2240d066de1df7508d083b8", None, 182040794),
    FileSpec("test_32x32.mat", (SVHN_BASE + "test_32x32.mat",),
             "cdce80dfb2a2c4c6160906d0bd7c68ec5a99d7ca4831afa54f09182025b6a75b", None, 64275384),
))

IMDB = DatasetSpec("imdb", "IMDB movie reviews", "imdb", (
    FileSpec("aclImdb_v1.tar.gz", ("http://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz",),
             "c40f74a18d3b61f90feba1e17730e0d38e8b97c05fde7008942e91923d1658fe", None, 84125825),
))

OXFLOWER17 = DatasetSpec("oxflower17", "Oxford 17 category flowers", "oxflower17", (
    FileSpec("17flowers.tgz", ("https://www.robots.ox.ac.uk/~vgg/data/flowers/17/17flowers.tgz",),
             None, "b59a65d8d1a99cd66944d474e1289eab"),
))

DATASETS: dict[str, DatasetSpec] = {
    spec.name: spec for spec in (MNIST, FASHION_MNIST, NOTMNIST, CIFAR10, CIFAR100, TITANIC, SVHN, IMDB, OXFLOWER17)
}
