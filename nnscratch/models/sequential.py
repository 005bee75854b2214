"""Sequential: a plain stack of layers, each feeding the next."""
from __future__ import annotations

from nnscratch import backend, layers as layers_mod
from nnscratch.layers.base import Layer, backward_pass, internal_calls, shape_str
from nnscratch.layers.input_layer import Input, InputLayer
from nnscratch.layers.symbolic import SymbolicTensor
from nnscratch.models.model import Model
from nnscratch.naming import unique_name


class Sequential(Model):
    """``Sequential([layer, layer, ...])`` or ``.add(layer)``.

    forward:  x_{k+1} = layer_k(x_k)                     for k = 0 .. L-1
    backward: dx_k = layer_k.backward(dx_{k+1})          for k = L-1 .. 0

    The input shape comes from ``input_shape=`` on the first layer or from a leading
    ``nn.Input(shape)``; with neither, the model is built by its first call/fit. A layer may be
    a model (``Sequential([base_model, nn.layers.Softmax()])``): it runs as one step, and its
    weights are the same arrays in both models. Once built, ``model.inputs``/``model.outputs``
    and every ``layer.output`` are symbolic tensors, so that ``nn.Model(model.inputs,
    [l.output for l in model.layers])`` builds a feature extractor over the same layers.
    """

    def __init__(self, layers=None, name=None, trainable=True):
        super().__init__(name=name or unique_name("sequential"), trainable=trainable)
        self._layers = []
        self._symbolic = None  # (inputs, outputs, nodes recorded) once built
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
            raise TypeError(f"Sequential.add: expected a Layer or a Model, received {type(layer).__name__} ({layer!r})")
        if any(l is layer for l in self._layers):
            raise ValueError(f"Sequential.add: layer '{layer.name}' is already in the model")
        if not self._layers and self._input_spec is None and layer._declared_input_shape is not None:
            self._input_spec = (None,) + tuple(layer._declared_input_shape)
        if not self._layers and self._input_spec is None and getattr(layer, "_is_model", False) and layer.built \
                and not isinstance(layer.input_shape, list):
            self._input_spec = (None,) + tuple(layer.input_shape[1:])  # a built model first: its input shape
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
                if layer._traced():  # a custom layer with call(): build and trace it for this shape
                    layer.build_symbolic([SymbolicTensor(shape)], False)
                elif getattr(layer, "_is_model", False):
                    layer.build(shape)  # builds a nested model, or checks a built one's input shape
                elif layer.built:
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
        self._record_symbolic()

    def _record_symbolic(self):
        """Keras's symbolic view of a built Sequential: an Input and one node per layer
        (``model.inputs``, ``model.outputs``, ``layer.output``). Nodes of an earlier build are dropped."""
        if self._symbolic is not None:
            for layer, node in self._symbolic[2]:
                if node in layer._nodes:
                    layer._nodes.remove(node)
        self._symbolic = None
        t = inp = Input(tuple(self.input_shape[1:]), name=f"{self.name}_input")
        recorded = []
        try:
            for layer in self._layers:
                t = layer(t)
                recorded.append((layer, t.node))
        except (ValueError, TypeError):  # a custom call() that needs a concrete batch size: no symbolic view
            for layer, node in recorded:
                layer._nodes.remove(node)
            return
        self._symbolic = ([inp], [t], recorded)

    @property
    def inputs(self):
        if self._symbolic is None:
            raise AttributeError(f"Sequential '{self.name}' is not built yet, so it has no inputs")
        return list(self._symbolic[0])

    @property
    def outputs(self):
        if self._symbolic is None:
            raise AttributeError(f"Sequential '{self.name}' is not built yet, so it has no outputs")
        return list(self._symbolic[1])

    @property
    def input(self):
        return self.inputs[0]

    @property
    def output(self):
        return self.outputs[0]

    def plan_backward(self):
        """Nothing to store: backward plans each call (the first trainable layer computes no dx
        and the layers before it are skipped), so a layer may sit in several models."""

    def _first_trainable(self):
        if getattr(self, "_fixed_parameters", None) is not None:  # inside fit: the layers do not change
            if getattr(self, "_fixed_first", None) is None or self._fixed_first[0] is not self._fixed_parameters:
                self._fixed_first = (self._fixed_parameters, self._find_first_trainable())
            return self._fixed_first[1]
        return self._find_first_trainable()

    def _find_first_trainable(self):
        """Walking the nested layers at every step cost the batch-32 MLP 9% of its step."""
        from_layers = [i for i, l in enumerate(self._layers) if any(o.params for o in l._trainable_owners())
                       or l._adds_loss()]
        return from_layers[0] if from_layers else 0

    def forward(self, x, training=False):
        """Run every layer in order; each caches what its backward needs."""
        if not self.built and self._layers and backend.is_array(x):
            self.build((None,) + tuple(x.shape)[1:])  # built by its first call, as in Keras
        with internal_calls():  # the layers' outputs stay plain arrays inside the model
            for layer in self._layers:
                x = layer(x, training=training)
        self._last_added_losses = [v for layer in self._layers for v in layer._last_added_losses]
        return x

    def _record_state(self):
        return [layer._cache_state() for layer in self._layers]

    def _restore_state(self, state):
        for layer, st in zip(self._layers, state):
            layer._set_cache_state(st)

    def backward(self, dy, from_logits=False, need_input_grad=True):
        """Backpropagate dL/dy_pred through the layers in reverse; every layer writes its
        parameter gradients. With ``from_logits=True``, dy is dL/dz at the output layer's
        pre-activation (the fused softmax/sigmoid + cross-entropy gradient).

        With ``need_input_grad=False`` (training), the layers before the first trainable
        layer are skipped and that layer returns no dx (``plan_backward``); with True every
        layer computes dx and the result is dL/dx at the model's input."""
        layers = self._layers
        first = 0 if need_input_grad else self._first_trainable()
        last = len(layers) - 1
        if dy is None:  # no compiled loss: only add_loss terms, from the last layer that adds one
            last = max((i for i, l in enumerate(layers) if l._adds_loss()), default=-1)
            if last < 0:
                raise ValueError(f"Sequential '{self.name}': backward(None) needs a layer that adds a loss (add_loss)")
        with backward_pass():
            for i in range(last, first - 1, -1):
                layer = layers[i]
                saved, layer.need_input_grad = layer.need_input_grad, need_input_grad or i > first
                try:
                    dy = layer.call_backward(dy, from_logits=from_logits and i == len(layers) - 1)
                finally:
                    layer.need_input_grad = saved
        return dy

    def get_config(self):
        return {"name": self.name, "layers": [layers_mod.serialize(l) for l in self._layers],
                "input_shape": list(self.input_shape[1:]) if self.input_shape else None}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        custom_objects = custom_objects or {}
        model = cls(name=config.get("name"))
        if config.get("input_shape") is not None:
            model.add(Input(tuple(config["input_shape"])))
        for lc in config["layers"]:
            layer_cls = custom_objects.get(lc["class_name"]) or layers_mod.get_layer_class(lc["class_name"])
            if getattr(layer_cls, "_is_model", False):
                model.add(layer_cls.from_config(dict(lc["config"]), custom_objects=custom_objects))
            else:
                model.add(layer_cls.from_config(dict(lc["config"])))
        return model

    def __repr__(self):
        return f"Sequential('{self.name}', {len(self._layers)} layers)"


layers_mod.register(Sequential)
