"""nnscratch: a neural-network engine written from scratch on NumPy (CuPy on the GPU).

Every layer, loss and optimizer has a forward pass and a hand-written backward pass. The API
follows Keras 3, so ``import nnscratch as nn`` stands in for ``tf.keras``.
"""
from nnscratch import (activations, backend, callbacks, config, debug, initializers, layers, losses, metrics, models,
                       optimizers, ops, preprocessing, regularizers, utils, version)
from nnscratch.layers import Input
from nnscratch.models import Model, Sequential

__version__ = version.VERSION


def __getattr__(name):
    # heavier or optional submodules load on first use
    if name in ("datasets", "plot", "data", "cli", "presets", "exercises"):
        import importlib

        return importlib.import_module(f"nnscratch.{name}")
    raise AttributeError(f"module 'nnscratch' has no attribute {name!r}")


__all__ = ["Sequential", "Model", "Input", "layers", "losses", "optimizers", "activations", "initializers",
           "utils", "backend", "config", "debug", "callbacks", "metrics", "models", "regularizers", "preprocessing",
           "version", "ops"]
