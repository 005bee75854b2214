"""The plain-loop reference kernels (now ``nnscratch/kernels/reference.py``), and
``use_reference_kernels(model)``, which makes a model's Conv2D and pooling layers run them.

The loop functions are re-exported here so that ``nn.debug.reference.conv2d_naive`` keeps
working. ``use_reference_kernels`` goes through the kernel dispatcher: it sets each layer's
``kernel_tier`` to 'reference' (the layers' code does not change) and ``restore()`` sets it
back.
"""
from __future__ import annotations

from nnscratch.kernels.reference import (avgpool_naive, avgpool_naive_backward, conv2d_naive,  # noqa: F401
                                         conv2d_naive_backward, maxpool_naive, maxpool_naive_backward,
                                         output_size, same_padding)


class ReferenceKernels:
    """Returned by ``use_reference_kernels``; ``restore()`` (or leaving the ``with`` block)
    puts each layer's previous kernel tier back. ``layers``: [(layer, previous tier), ...]."""

    def __init__(self, model):
        self.layers = []
        for layer in getattr(model, "layers", [model]):
            if hasattr(layer, "kernel_tier"):  # Conv2D, MaxPooling2D, AveragePooling2D
                self.layers.append((layer, layer.kernel_tier))
                layer.kernel_tier = "reference"

    def restore(self):
        for layer, previous in self.layers:
            layer.kernel_tier = previous
        self.layers = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.restore()
        return False


def use_reference_kernels(model):
    """Make every Conv2D / MaxPooling2D / AveragePooling2D of ``model`` (or a single layer) run
    the loop kernels of ``nnscratch/kernels/reference.py``. Slow: for small inputs and for
    reading. Use as a context manager, or call ``.restore()`` on the result."""
    return ReferenceKernels(model)
