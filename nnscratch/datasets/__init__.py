"""Keras-shaped datasets read from their original files: ``nn.datasets.mnist``,
``fashion_mnist``, ``cifar10``, ``cifar100``, each with ``load_data()``.

Files are searched in: ``path=``, ``$NNSCRATCH_DATA/<dataset>/``, the cache
(``$NNSCRATCH_CACHE`` or ``~/.nnscratch/datasets``), system copies (Debian's
``dataset-fashion-mnist``), then downloaded (unless ``NNSCRATCH_OFFLINE=1``) with the
published checksums verified before the file enters the cache. Fashion-MNIST falls back
to a shipped 5,000/1,000-image sample when no full copy is available.

Every file's declared sizes are checked against the dataset's real sizes before it is read
(the bounds are in each module's docstring), so a small hostile file cannot cost gigabytes.

``CLASS_NAMES[dataset]`` gives the class names used by plots.
"""
from . import cifar10, cifar100, fashion_mnist, mnist
from ._loaders import DataInfo
from ._sources import DatasetNotFoundError

CLASS_NAMES = {
    "mnist": mnist.CLASS_NAMES,
    "fashion_mnist": fashion_mnist.CLASS_NAMES,
    "cifar10": cifar10.CLASS_NAMES,
    "cifar100": cifar100.CLASS_NAMES,
}

__all__ = ["mnist", "fashion_mnist", "cifar10", "cifar100", "CLASS_NAMES",
           "DataInfo", "DatasetNotFoundError"]
