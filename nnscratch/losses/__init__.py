"""Losses with Keras's names, defaults, reductions and numerics, each with a hand-written gradient.

Classes (``base.py``, ``crossentropy.py``, ``regression.py``): ``loss.forward(y_pred, y_true)``
and ``loss.backward()`` like a layer; ``loss(y_true, y_pred, sample_weight=None)`` in Keras's
order. Functions (``functions.py``): ``sparse_categorical_crossentropy(y_true, y_pred, ...)``
and friends give the per-sample losses. ``get(identifier)`` turns a name, class, instance or
function into the Loss that training uses.
"""
from __future__ import annotations

from nnscratch.losses.base import DEFAULT_NAMES, Loss
from nnscratch.losses.crossentropy import BinaryCrossentropy, CategoricalCrossentropy, SparseCategoricalCrossentropy
from nnscratch.losses.functions import (CLASS_OF, MAE, MSE, binary_crossentropy, categorical_crossentropy, mae,
                                        mean_absolute_error, mean_squared_error, mse,
                                        sparse_categorical_crossentropy)
from nnscratch.losses.regression import MeanAbsoluteError, MeanSquaredError
from nnscratch.losses.traced import TracedLoss

EPSILON = 1e-7  # keras.config.epsilon(); the losses read nnscratch.config.epsilon()

_REGISTRY = {
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
    "categorical_crossentropy": CategoricalCrossentropy,
    "binary_crossentropy": BinaryCrossentropy,
    "mean_squared_error": MeanSquaredError,
    "mse": MeanSquaredError,
    "mean_absolute_error": MeanAbsoluteError,
    "mae": MeanAbsoluteError,
}
_CLASSES = {cls.__name__: cls for cls in set(_REGISTRY.values())}


def from_callable(fn):
    """THE hook that turns a user's plain function ``fn(y_true, y_pred)`` into a Loss.

    nnscratch has no autograd: a loss needs a backward. ``model.compile(loss=fn)`` traces a
    function built from ``nn.ops`` into one (``nn.losses.TracedLoss``); here, outside a model,
    it is refused with the ways out."""
    raise TypeError(
        f"loss: {getattr(fn, '__name__', fn)!r} is a plain function, and nnscratch has no autograd: only its own "
        "losses (names such as 'sparse_categorical_crossentropy', nn.losses classes and functions) or functions "
        "traced from nn.ops can be differentiated: pass it to model.compile(loss=...) (traced there), wrap it in "
        "nn.losses.TracedLoss(fn), or subclass nn.losses.Loss with forward(y_pred, y_true) and backward()")


def get(identifier) -> Loss:
    """A Loss from a Keras name ('sparse_categorical_crossentropy', 'mse', ...), a class name,
    a Loss class or instance, or a function form (``nn.losses.mse``)."""
    if isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, str):
        if identifier in _CLASSES:
            return _CLASSES[identifier]()
        key = identifier.lower()
        if key not in _REGISTRY:
            raise ValueError(f"unknown loss {identifier!r}; valid losses: {', '.join(sorted(_REGISTRY))}")
        return _REGISTRY[key]()
    if isinstance(identifier, type) and issubclass(identifier, Loss):
        return identifier()
    if identifier in CLASS_OF:
        return CLASS_OF[identifier]()
    if callable(identifier):
        return from_callable(identifier)
    raise TypeError(f"loss must be a string, a function or a Loss instance, received {identifier!r}")


def serialize(loss: Loss):
    return {"class_name": type(loss).__name__, "config": loss.get_config()}


def deserialize(config):
    return _CLASSES[config["class_name"]].from_config(dict(config["config"]))


__all__ = ["Loss", "TracedLoss", "SparseCategoricalCrossentropy", "CategoricalCrossentropy", "BinaryCrossentropy",
           "MeanSquaredError", "MeanAbsoluteError", "sparse_categorical_crossentropy", "categorical_crossentropy",
           "binary_crossentropy", "mean_squared_error", "mean_absolute_error", "mse", "mae", "get", "serialize",
           "deserialize", "from_callable", "DEFAULT_NAMES"]
