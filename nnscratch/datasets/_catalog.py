"""The four datasets' files, mirrors and published checksums, in one table.

Every digest here is copied from the party that publishes it (named in ``origin``):

* Keras: ``file_hash`` values in keras/src/datasets/{fashion_mnist,cifar10,cifar100}.py
  (sha256 of the files on Keras's mirrors);
* Zalando: the MD5 column of the Fashion-MNIST README;
* Debian: ``/var/lib/dpkg/info/dataset-fashion-mnist.md5sums`` of
  dataset-fashion-mnist 0.0~git20200523.55506a9-1, whose .gz files are the originals
  re-packed (same deflate stream, gzip header without the file name), so their digests
  differ from Zalando's;
* torchvision: ``resources``/``train_list`` md5s in torchvision/datasets/{mnist,cifar}.py
  (for MNIST, whose original site publishes none, and for extracted CIFAR batches);
* Toronto: the md5 published on https://www.cs.toronto.edu/~kriz/cifar.html.
"""
from __future__ import annotations

from ._sources import Checksum, DatasetSpec

_KERAS = "Keras file_hash"
_ZALANDO = "Zalando Fashion-MNIST README"
_DEBIAN = "Debian dataset-fashion-mnist md5sums"
_TV = "torchvision"
_TORONTO = "cs.toronto.edu/~kriz/cifar.html"

IDX_FILES = (
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
)

# The most items each IDX file holds (MNIST and Fashion-MNIST alike): headers are checked
# against these before any data is read.
IDX_MAX_ITEMS = {
    "train-images-idx3-ubyte.gz": 60000,
    "train-labels-idx1-ubyte.gz": 60000,
    "t10k-images-idx3-ubyte.gz": 10000,
    "t10k-labels-idx1-ubyte.gz": 10000,
}
# The number of images in each CIFAR file (the archives hold the same files).
CIFAR_IMAGES = {
    **{f"data_batch_{i}": 10000 for i in range(1, 6)}, "test_batch": 10000,  # CIFAR-10
    "train": 50000, "test": 10000,                                           # CIFAR-100
}


def _sums(*entries):
    return tuple(Checksum(a, h, o) for a, h, o in entries)


MNIST = DatasetSpec(
    name="mnist",
    title="MNIST",
    layouts=(IDX_FILES,),
    download_layout=IDX_FILES,
    mirrors=("https://ossci-datasets.s3.amazonaws.com/mnist/",),
    checksums={
        "train-images-idx3-ubyte.gz": _sums(("md5", "f68b3c2dcbeaaa9fbdd348bbdeb94873", _TV)),
        "train-labels-idx1-ubyte.gz": _sums(("md5", "d53e105ee54ea40749a09fcbcd1e9432", _TV)),
        "t10k-images-idx3-ubyte.gz": _sums(("md5", "9fb629c4189551a2d022fa330f9573f3", _TV)),
        "t10k-labels-idx1-ubyte.gz": _sums(("md5", "ec29112dd5afa0611ce80d1b7f02629c", _TV)),
    },
)

FASHION_MNIST = DatasetSpec(
    name="fashion_mnist",
    title="Fashion-MNIST",
    layouts=(IDX_FILES,),
    download_layout=IDX_FILES,
    mirrors=(
        "https://storage.googleapis.com/tensorflow/tf-keras-datasets/",
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    ),
    checksums={
        "train-images-idx3-ubyte.gz": _sums(
            ("sha256", "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84", _KERAS),
            ("md5", "8d4fb7e6c68d591d4c3dfef9ec88bf0d", _ZALANDO),
            ("md5", "cf8536b0aa1a6ac5fa3f23001093305c", _DEBIAN),
        ),
        "train-labels-idx1-ubyte.gz": _sums(
            ("sha256", "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845", _KERAS),
            ("md5", "25c81989df183df01b3e8a0aad5dffbe", _ZALANDO),
            ("md5", "10bea18fdb374794d4bb42e356e600c9", _DEBIAN),
        ),
        "t10k-images-idx3-ubyte.gz": _sums(
            ("sha256", "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073", _KERAS),
            ("md5", "bef4ecab320f06d8554ea6380940ec79", _ZALANDO),
            ("md5", "f78720b4224f21cce2f2ccf2d7a94c9a", _DEBIAN),
        ),
        "t10k-labels-idx1-ubyte.gz": _sums(
            ("sha256", "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5", _KERAS),
            ("md5", "bb300cfdad3c16e7a12a480ee83cd310", _ZALANDO),
            ("md5", "0d30e22e447f3c33dab9ed536400ac01", _DEBIAN),
        ),
    },
    install_hint="apt-get install dataset-fashion-mnist (Debian/Ubuntu), or ",
)

CIFAR10_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6)) + ("test_batch",)
CIFAR10 = DatasetSpec(
    name="cifar10",
    title="CIFAR-10",
    layouts=(
        tuple(f"cifar-10-batches-py/{b}" for b in CIFAR10_BATCHES),
        CIFAR10_BATCHES,
        ("cifar-10-python.tar.gz",),
    ),
    download_layout=("cifar-10-python.tar.gz",),
    mirrors=("https://www.cs.toronto.edu/~kriz/",),
    checksums={
        "cifar-10-python.tar.gz": _sums(
            ("sha256", "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce", _KERAS),
            ("md5", "c58f30108f718f92721af3b95e74349a", _TORONTO),
        ),
        "data_batch_1": _sums(("md5", "c99cafc152244af753f735de768cd75f", _TV)),
        "data_batch_2": _sums(("md5", "d4bba439e000b95fd0a9bffe97cbabec", _TV)),
        "data_batch_3": _sums(("md5", "54ebc095f3ab1f0389bbae665268c751", _TV)),
        "data_batch_4": _sums(("md5", "634d18415352ddfa80567beed471001a", _TV)),
        "data_batch_5": _sums(("md5", "482c414d41f54cd18b22e5b47cb7c3cb", _TV)),
        "test_batch": _sums(("md5", "40351d587109b95175f43aff81a1287e", _TV)),
    },
)

CIFAR100 = DatasetSpec(
    name="cifar100",
    title="CIFAR-100",
    layouts=(
        ("cifar-100-python/train", "cifar-100-python/test"),
        ("train", "test"),
        ("cifar-100-python.tar.gz",),
    ),
    download_layout=("cifar-100-python.tar.gz",),
    mirrors=("https://www.cs.toronto.edu/~kriz/",),
    checksums={
        "cifar-100-python.tar.gz": _sums(
            ("sha256", "85cd44d02ba6437773c5bbd22e183051d648de2e7d6b014e1ef29b855ba677a7", _KERAS),
            ("md5", "eb9058c3a382ffc7106e4002c42a8d85", _TORONTO),
        ),
        "train": _sums(("md5", "16019d7e3df5f24257cddd939b257f8d", _TV)),
        "test": _sums(("md5", "f0ef6b0ae62326f3e7ffdfab6717acfc", _TV)),
    },
)
