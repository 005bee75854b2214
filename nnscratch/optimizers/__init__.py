"""nnscratch.optimizers: Keras 3's update rules, written out by hand."""
from nnscratch.naming import lookup
from nnscratch.optimizers import schedules
from nnscratch.optimizers.adagrad import Adagrad
from nnscratch.optimizers.adam import Adam, Adamax
from nnscratch.optimizers.base import Optimizer
from nnscratch.optimizers.rmsprop import RMSprop
from nnscratch.optimizers.sgd import SGD

_REGISTRY = {"sgd": SGD, "rmsprop": RMSprop, "adam": Adam, "adamax": Adamax, "adagrad": Adagrad}
_CLASSES = {cls.__name__: cls for cls in _REGISTRY.values()}


def get(identifier) -> Optimizer:
    """An optimizer from a Keras alias ('sgd', 'rmsprop', 'adam', 'adamax', 'adagrad'), a class
    name, or an Optimizer instance (passed through)."""
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, str):
        if identifier in _CLASSES:
            return _CLASSES[identifier]()
        return lookup("optimizer", _REGISTRY, identifier)()
    raise TypeError(f"optimizer must be a string or an Optimizer instance, received {identifier!r}")


def serialize(optimizer):
    return {"class_name": type(optimizer).__name__, "config": optimizer.get_config()}


def deserialize(config):
    cls = lookup("optimizer class", _CLASSES, config["class_name"], plural="optimizer classes")
    return cls.from_config(dict(config["config"]))


__all__ = ["Optimizer", "SGD", "RMSprop", "Adam", "Adamax", "Adagrad", "schedules", "get", "serialize", "deserialize"]
