"""The functional API: ``Model(inputs, outputs)`` over a graph of layers.

    x = nn.Input(shape=(4,))
    h = nn.layers.Dense(8, activation="relu")(x)
    a = nn.layers.Dense(8)(h)
    b = nn.layers.Dense(8)(h)                  # h feeds two layers: a branch
    y = nn.layers.Dense(3, activation="softmax")(nn.layers.Add()([a, b]))   # a merge
    model = nn.Model(x, y)

Calling a layer on a SymbolicTensor (``call_symbolic``) builds the layer from the symbolic
shape and returns a new SymbolicTensor that remembers the layer and its inputs: that is one
*node* of the graph. ``Model`` walks back from the outputs to list the nodes in topological
order (every layer after the layers that feed it).

    forward:   for each node in topological order:  value[node] = layer(values of its inputs)
    backward:  for each node in REVERSE order:       d_inputs = layer.backward(grad[node])
               grad[input] += d_input               (a tensor that feeds several layers gets
                                                     the SUM of their gradients: the chain rule
                                                     for a variable used more than once)

Each layer is used once per graph (no shared layers): a layer's cache holds one forward.
"""
from __future__ import annotations

from nnscratch import backend
from nnscratch import layers as layers_mod
from nnscratch.layers.input_layer import Input, InputLayer
from nnscratch.layers.symbolic import SymbolicTensor, as_list as _as_list, call_symbolic, topological_nodes
from nnscratch.models.model import Model as BaseModel
from nnscratch.naming import unique_name


class Model(BaseModel):
    """A model from a graph of layers: ``Model(inputs, outputs, name=None)``.

    ``inputs`` / ``outputs`` are SymbolicTensors (or lists of them, for several inputs or
    outputs). ``model.layers`` lists every layer, the InputLayers first, in topological order.
    Several outputs work for ``model(x)``/``predict``; fit/evaluate need a single output (one loss).
    """

    _show_input_layers = True  # summary() shows the InputLayer rows, as Keras does for functional models

    def __init__(self, inputs, outputs, name=None, trainable=True):
        super().__init__(name=name or unique_name("functional"))
        self._multi_in = isinstance(inputs, (list, tuple))
        self._multi_out = isinstance(outputs, (list, tuple))
        self.inputs, self.outputs = _as_list(inputs), _as_list(outputs)
        for t in self.inputs:
            if not isinstance(t, SymbolicTensor) or not isinstance(t.layer, InputLayer):
                raise TypeError(f"Model: inputs must come from nn.Input(...), received {t!r}")
        for t in self.outputs:
            if not isinstance(t, SymbolicTensor):
                raise TypeError(f"Model: outputs must be symbolic tensors returned by layers, received {type(t).__name__}")
        self._nodes = topological_nodes(self.inputs, self.outputs)
        # inputs first (in the order given), then every other node in topological order
        input_ids = {id(t) for t in self.inputs}
        self._nodes = self.inputs + [t for t in self._nodes if id(t) not in input_ids]
        for t in self.inputs:
            t.layer._connected_to = ["-"]
        self._layers = [t.layer for t in self._nodes]
        self._upstream_trainable = self._find_upstream_trainable()
        self.plan_backward()
        shapes_in = [t.shape for t in self.inputs]
        shapes_out = [t.layer.output_shape for t in self.outputs]
        self.input_shape = shapes_in if self._multi_in else shapes_in[0]
        self.output_shape = shapes_out if self._multi_out else shapes_out[0]
        self.built = True

    def _find_upstream_trainable(self):
        """{id(node): True if some layer before it has trainable params} (needs dx or not)."""
        up = {}
        for t in self._nodes:
            up[id(t)] = any(up[id(p)] or (p.layer.params and p.layer.trainable) for p in t.inbound)
        return up

    def plan_backward(self):
        """A layer needs dx only if some layer before it has trainable parameters."""
        self._upstream_trainable = self._find_upstream_trainable()
        for t in self._nodes:
            t.layer.need_input_grad = self._upstream_trainable[id(t)]

    @property
    def layers(self):
        return list(self._layers)

    def build(self, input_shape=None):
        """A functional model is built when it is created; this only checks ``input_shape``."""
        if input_shape is not None:
            given = [tuple(s)[1:] for s in _as_list(input_shape)] if self._multi_in else [tuple(input_shape)[1:]]
            expected = [tuple(t.shape)[1:] for t in self.inputs]
            if given != expected:
                raise ValueError(f"Model '{self.name}': built for inputs {expected}, received {given}")

    def compile(self, optimizer="rmsprop", loss=None, metrics=None, **kwargs):
        if self._multi_out:
            raise ValueError(f"Model '{self.name}' has {len(self.outputs)} outputs; compile/fit/evaluate support a "
                             "single output (one loss) for now; model(x) and predict work with several")
        super().compile(optimizer, loss, metrics, **kwargs)

    def output_layer(self):
        if self._multi_out:
            raise ValueError(f"Model '{self.name}' has {len(self.outputs)} outputs; training needs a single output")
        return self.outputs[0].layer

    # ------------------------------------------------------------------ running
    def forward(self, x, training=False):
        """Run the nodes in topological order; ``x`` is an array or a list (one per input)."""
        xs = _as_list(x) if self._multi_in else [x]
        if len(xs) != len(self.inputs):
            raise ValueError(f"Model '{self.name}': expected {len(self.inputs)} input arrays, received {len(xs)}")
        values = {}
        for t, value in zip(self.inputs, xs):
            values[id(t)] = t.layer(value, training=training)
        for t in self._nodes[len(self.inputs):]:
            args = [values[id(p)] for p in t.inbound]
            values[id(t)] = t.layer(args if t.layer._multi_input else args[0], training=training)
        outs = [values[id(t)] for t in self.outputs]
        return outs if self._multi_out else outs[0]

    def backward(self, dy, from_logits=False, need_input_grad=True):
        """Backpropagate dL/d(outputs) through the graph in reverse topological order.

        grads[t] accumulates dL/dt over every layer that consumed t (a sum: branches).
        With ``from_logits=True``, dy is dL/dz at the (single) output layer's pre-activation.
        With ``need_input_grad=False`` (training), layers with nothing trainable before them do
        not compute dx. Returns dL/dx (a list for several inputs; None where skipped)."""
        dys = _as_list(dy) if self._multi_out else [dy]
        if len(dys) != len(self.outputs):
            raise ValueError(f"Model '{self.name}': expected {len(self.outputs)} output gradients, received {len(dys)}")
        grads = {}

        def accumulate(t, g):
            grads[id(t)] = g if id(t) not in grads else grads[id(t)] + g  # new array: no aliasing writes

        for t, g in zip(self.outputs, dys):
            if not from_logits:
                accumulate(t, g)
        output_id = id(self.outputs[0])
        input_ids = {id(t) for t in self.inputs}
        with self._every_input_grad(need_input_grad):
            for t in reversed(self._nodes):
                if id(t) in input_ids:
                    continue
                layer = t.layer
                fused = from_logits and id(t) == output_id
                if id(t) not in grads and not fused:
                    continue  # the node's output does not reach the loss
                if not layer.need_input_grad and not (layer.params and layer.trainable):
                    continue  # nothing to learn here or upstream
                if fused:
                    if id(t) in grads:
                        raise ValueError(f"Model '{self.name}': the fused output '{layer.name}' also feeds other layers")
                    dx = layer.call_backward(dys[0], from_logits=True)
                else:
                    dx = layer.call_backward(grads[id(t)])
                if not layer.need_input_grad:
                    continue
                for parent, d in zip(t.inbound, _as_list(dx) if layer._multi_input else [dx]):
                    accumulate(parent, d)
        dxs = [grads.get(id(t)) for t in self.inputs]
        return dxs if self._multi_in else dxs[0]

    def __call__(self, x, training=False):
        if any(getattr(v, "_is_symbolic", False) for v in _as_list(x)):
            return call_symbolic(self, x)
        xs = [v if backend.is_array(v) else backend.to_device(v) for v in _as_list(x)]
        return self.forward(xs if self._multi_in else xs[0], training=training)

    # ------------------------------------------------------------------ config
    def get_config(self):
        """Layers in topological order, each with the names of the layers that feed it."""
        nodes = []
        for t in self._nodes:
            nodes.append({**layers_mod.serialize(t.layer), "inbound": [p.layer.name for p in t.inbound],
                          "multi_input": bool(getattr(t.layer, "_multi_input", False))})
        return {"name": self.name, "layers": nodes,
                "input_layers": [t.layer.name for t in self.inputs], "multi_input": self._multi_in,
                "output_layers": [t.layer.name for t in self.outputs], "multi_output": self._multi_out}

    @classmethod
    def from_config(cls, config):
        tensors = {}
        for node in config["layers"]:
            if node["class_name"] == "InputLayer":
                c = node["config"]
                tensors[c["name"]] = Input(shape=tuple(c["shape"]), batch_size=c.get("batch_size"), name=c["name"])
                continue
            layer = layers_mod.deserialize(node)
            missing = [n for n in node["inbound"] if n not in tensors]
            if missing:
                raise ValueError(f"Model config: layer '{layer.name}' is fed by unknown layer(s) {missing}")
            args = [tensors[n] for n in node["inbound"]]
            tensors[layer.name] = layer(args if node.get("multi_input") else args[0])
        ins = [tensors[n] for n in config["input_layers"]]
        outs = [tensors[n] for n in config["output_layers"]]
        return cls(ins if config.get("multi_input") else ins[0], outs if config.get("multi_output") else outs[0],
                   name=config.get("name"))

    def __repr__(self):
        return f"Model('{self.name}', {len(self.inputs)} input(s), {len(self.outputs)} output(s), {len(self._layers)} layers)"
