"""Sequential: a plain stack of layers, each feeding the next."""
from __future__ import annotations

from nnscratch import layers as layers_mod
from nnscratch.layers.base import Layer, shape_str
from nnscratch.layers.input_layer import Input, InputLayer
from nnscratch.layers.symbolic import SymbolicTensor
from nnscratch.models.model import Model
from nnscratch.naming import unique_name


class Sequential(Model):
    """``Sequential([layer, layer, ...])`` or ``.add(layer)``.

    forward:  x_{k+1} = layer_k(x_k)                     for k = 0 .. L-1
    backward: dx_k = layer_k.backward(dx_{k+1})          for k = L-1 .. 0

    The input shape comes from ``input_shape=`` on the first layer or from a leading
    ``nn.Input(shape)``; with neither, the model is built by its first call/fit.
    """

    def __init__(self, layers=None, name=None, trainable=True):
        super().__init__(name=name or unique_name("sequential"))
        self._layers = []
        self._input_spec = None
        self.built = False
        self.input_shape = None
        self.output_shape = None
        for layer in layers or []:
            self.add(layer)

    @property
    def layers(self):
        return list(self._layers)

    def add(self, layer):
        """Append a layer (or, first, an ``nn.Input`` giving the input shape)."""
        if isinstance(layer, SymbolicTensor):
            if self._layers or self._input_spec is not None:
                raise ValueError("Sequential: nn.Input(...) can only be the first element")
            self._input_spec = (None,) + tuple(layer.shape[1:])
            self._try_build()
            return
        if isinstance(layer, InputLayer):
            self._input_spec = (None,) + tuple(layer._declared_input_shape)
            self._try_build()
            return
        if not isinstance(layer, Layer):
            raise TypeError(f"Sequential.add: expected a Layer, received {type(layer).__name__} ({layer!r})")
        if any(l is layer for l in self._layers):
            raise ValueError(f"Sequential.add: layer '{layer.name}' is already in the model")
        if not self._layers and self._input_spec is None and layer._declared_input_shape is not None:
            self._input_spec = (None,) + tuple(layer._declared_input_shape)
        self._layers.append(layer)
        self.built = False
        self._try_build()

    def pop(self):
        if not self._layers:
            raise ValueError("Sequential.pop: the model has no layers")
        layer = self._layers.pop()
        self.built = False
        self._try_build()
        return layer

    def _try_build(self):
        if self._input_spec is not None and self._layers:
            self.build(self._input_spec)

    def build(self, input_shape=None):
        """Build every layer in turn, checking that each output fits the next layer's input."""
        if input_shape is None:
            input_shape = self._input_spec
        if input_shape is None:
            raise ValueError(f"Sequential '{self.name}': the input shape is unknown; pass input_shape= to the first layer or start with nn.Input(shape)")
        if not self._layers:
            raise ValueError(f"Sequential '{self.name}': the model has no layers")
        shape = (None,) + tuple(input_shape[1:])
        prev = None
        for layer in self._layers:
            try:
                if layer.built:
                    if tuple(layer.input_shape[1:]) != tuple(shape[1:]):
                        raise ValueError(
                            f"{type(layer).__name__} '{layer.name}': expected input shape {shape_str(layer.input_shape)}, "
                            f"received {shape_str(shape)}"
                        )
                else:
                    layer.check_input_shape(shape)
                    layer.build(shape)
            except ValueError as exc:
                where = f" (output of '{prev.name}')" if prev is not None else " (the model's input)"
                raise ValueError(f"{exc}{where}") from None
            shape = layer.output_shape
            prev = layer
        self.input_shape = (None,) + tuple(input_shape[1:])
        self.output_shape = shape
        self._input_spec = self.input_shape
        self.built = True
        self.plan_backward()

    def plan_backward(self):
        """The first trainable layer needs no dx (nothing before it learns); the layers before
        it are skipped by backward altogether."""
        first = self._first_trainable()
        for i, layer in enumerate(self._layers):
            layer.need_input_grad = i > first

    def _first_trainable(self):
        return next((i for i, l in enumerate(self._layers) if l.params and l.trainable), 0)

    def forward(self, x, training=False):
        """Run every layer in order; each caches what its backward needs."""
        for layer in self._layers:
            x = layer(x, training=training)
        return x

    def backward(self, dy, from_logits=False, need_input_grad=True):
        """Backpropagate dL/dy_pred through the layers in reverse; every layer writes its
        parameter gradients. With ``from_logits=True``, dy is dL/dz at the output layer's
        pre-activation (the fused softmax/sigmoid + cross-entropy gradient).

        With ``need_input_grad=False`` (training), the layers before the first trainable
        layer are skipped and that layer returns no dx (``plan_backward``); with True every
        layer computes dx and the result is dL/dx at the model's input."""
        layers = self._layers
        first = 0 if need_input_grad else self._first_trainable()
        with self._every_input_grad(need_input_grad):
            dx = layers[-1].call_backward(dy, from_logits=from_logits)
            for layer in reversed(layers[first:-1]):
                dx = layer.call_backward(dx)
        return dx

    def get_config(self):
        return {"name": self.name, "layers": [layers_mod.serialize(l) for l in self._layers],
                "input_shape": list(self.input_shape[1:]) if self.input_shape else None}

    @classmethod
    def from_config(cls, config):
        model = cls(name=config.get("name"))
        if config.get("input_shape") is not None:
            model.add(Input(tuple(config["input_shape"])))
        for lc in config["layers"]:
            model.add(layers_mod.deserialize(lc))
        return model

    def __repr__(self):
        return f"Sequential('{self.name}', {len(self._layers)} layers)"
