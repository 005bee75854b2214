"""CIFAR-100, read from the original "python version" pickles (Keras-shaped arrays).

``load_data(label_mode='fine')`` returns ``(x_train, y_train), (x_test, y_test)``: uint8
images (50000, 32, 32, 3) and (10000, 32, 32, 3), labels of shape (n, 1): the 100 fine
classes (0-99) or, with ``label_mode='coarse'``, the 20 superclasses (0-19). Keras's
docstring promises uint8 labels; its code actually returns int64 for CIFAR-100. We return
uint8, as documented, for all four datasets.

The files may be ``cifar-100-python/{train,test}``, ``train``/``test`` directly, or the
archive ``cifar-100-python.tar.gz`` (read in memory).

Bounds (checked before the bytes they cover are read; see ``_formats`` and ``_tar``): ``train``
holds at most 50000 images in at most 160.1 MB (313.7 MB for a Python 3 protocol-2 re-pickle),
``test`` 10000 in 32.1 MB (62.8 MB); in the archive every member's declared size is checked
first, the members not read may hold 1 MiB in all, and at most 193.3 MB are decompressed.
"""
from __future__ import annotations

from . import _catalog, _loaders, _sources

SPEC = _catalog.CIFAR100
# The order of the 'fine_label_names' / 'coarse_label_names' lists in the archive's
# 'meta' file (alphabetical).
CLASS_NAMES = (
    "apple", "aquarium_fish", "baby", "bear", "beaver", "bed", "bee", "beetle", "bicycle",
    "bottle", "bowl", "boy", "bridge", "bus", "butterfly", "camel", "can", "castle",
    "caterpillar", "cattle", "chair", "chimpanzee", "clock", "cloud", "cockroach", "couch",
    "crab", "crocodile", "cup", "dinosaur", "dolphin", "elephant", "flatfish", "forest", "fox",
    "girl", "hamster", "house", "kangaroo", "keyboard", "lamp", "lawn_mower", "leopard", "lion",
    "lizard", "lobster", "man", "maple_tree", "motorcycle", "mountain", "mouse", "mushroom",
    "oak_tree", "orange", "orchid", "otter", "palm_tree", "pear", "pickup_truck", "pine_tree",
    "plain", "plate", "poppy", "porcupine", "possum", "rabbit", "raccoon", "ray", "road",
    "rocket", "rose", "sea", "seal", "shark", "shrew", "skunk", "skyscraper", "snail", "snake",
    "spider", "squirrel", "streetcar", "sunflower", "sweet_pepper", "table", "tank",
    "telephone", "television", "tiger", "tractor", "train", "trout", "tulip", "turtle",
    "wardrobe", "whale", "willow_tree", "wolf", "woman", "worm",
)
COARSE_CLASS_NAMES = (
    "aquatic_mammals", "fish", "flowers", "food_containers", "fruit_and_vegetables",
    "household_electrical_devices", "household_furniture", "insects", "large_carnivores",
    "large_man-made_outdoor_things", "large_natural_outdoor_scenes",
    "large_omnivores_and_herbivores", "medium_mammals", "non-insect_invertebrates", "people",
    "reptiles", "small_mammals", "trees", "vehicles_1", "vehicles_2",
)
LABEL_MODES = {"fine": 100, "coarse": 20}


def load_data(label_mode="fine", path=None, verify=None, return_info=False):
    """Load CIFAR-100 with 'fine' (100 classes) or 'coarse' (20 classes) labels.

    ``path``, ``verify`` and ``return_info`` as in ``mnist.load_data``.
    """
    if label_mode not in LABEL_MODES:
        raise ValueError(f'label_mode must be one of "fine", "coarse". Received: label_mode={label_mode!r}')
    located = _sources.locate(SPEC, path=path, verify=verify)
    (train, test), info = _loaders.load_cifar(
        SPEC, located,
        train_batches=["train"], test_batches=["test"],
        archive_prefix="cifar-100-python",
        label_key=f"{label_mode}_labels", num_classes=LABEL_MODES[label_mode],
    )
    _loaders.record(info)
    return (train, test, info) if return_info else (train, test)


def last_source():
    """DataInfo of the last successful ``load_data()`` call, or None."""
    return _loaders.last_info(SPEC.name)
