"""Input: the symbolic placeholder that starts a model (``nn.Input(shape=(28, 28))``)."""
from __future__ import annotations

from nnscratch.layers.base import Layer, as_int, int_dims
from nnscratch.layers.symbolic import Node, SymbolicTensor


class InputLayer(Layer):
    """The layer behind ``nn.Input``: identity, holds the declared shape."""

    def __init__(self, shape=None, batch_size=None, dtype=None, name=None, **kwargs):
        if shape is None and "input_shape" in kwargs:
            shape = kwargs.pop("input_shape")
        if shape is None:
            raise ValueError("Input: shape is required, e.g. nn.Input(shape=(28, 28))")
        if as_int(shape, floats=False) is not None:
            shape = (shape,)
        shape = int_dims(shape)  # NumPy integers as ints; 3.0 is refused below, as Keras refuses it
        if any(d is not None and (not isinstance(d, int) or isinstance(d, bool) or d <= 0) for d in shape):
            raise ValueError(f"Input: shape must contain positive integers or None, received {shape!r}")
        super().__init__(name=name, input_shape=shape, dtype=dtype, **kwargs)
        self.batch_size = batch_size
        self.build((batch_size,) + shape)

    def forward(self, x, training=False):
        self.cache = {"identity": True}
        return x

    def backward(self, dy):
        return dy

    def get_config(self):
        cfg = super().get_config()
        cfg.pop("input_shape", None)
        cfg["shape"] = list(self._declared_input_shape)
        cfg["batch_size"] = self.batch_size
        return cfg


def Input(shape=None, batch_size=None, dtype=None, name=None):
    """Create a symbolic input of per-sample ``shape`` (Keras's ``keras.Input``)."""
    layer = InputLayer(shape=shape, batch_size=batch_size, dtype=dtype, name=name)
    node = Node(layer, kind="input")
    t = SymbolicTensor((batch_size,) + layer._declared_input_shape, dtype=dtype, node=node, name=layer.name)
    node.outputs = [t]
    layer._nodes.append(node)
    return t
