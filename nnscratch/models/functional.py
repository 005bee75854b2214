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

A layer may be called on several tensors (a *shared* layer: one node per call, one cache per
node, gradients summed over the calls), a model may be called like a layer, several Models may
be built over one graph (an encoder and an autoencoder sharing layers, a feature extractor over
a trained model), and ``nn.ops`` functions may be applied to symbolic tensors: all of it is run
by ``nnscratch.layers.graph.Graph``.
"""
from __future__ import annotations

from nnscratch import backend
from nnscratch import layers as layers_mod
from nnscratch.layers.base import _INTERNAL, Layer, backward_pass, public_result
from nnscratch.layers.graph import Graph
from nnscratch.layers.input_layer import Input, InputLayer
from nnscratch.layers.symbolic import SymbolicTensor, as_list as _as_list, call_symbolic, connection
from nnscratch.models.model import Model as BaseModel
from nnscratch.naming import unique_name


class Model(BaseModel):
    """A model from a graph of layers: ``Model(inputs, outputs, name=None)``.

    ``inputs`` / ``outputs`` are SymbolicTensors (or lists of them, for several inputs or
    outputs). ``model.layers`` lists every layer once, the InputLayers first, in topological
    order. ``Model()`` with no inputs in a subclass that defines ``call`` is a subclassed model
    (its call is traced, see ``nnscratch/layers/traced.py``).
    """

    _show_input_layers = True  # summary() shows the InputLayer rows, as Keras does for functional models

    def __init__(self, inputs=None, outputs=None, name=None, trainable=True, **kwargs):
        self._graph = None
        if inputs is None and outputs is None:  # a subclassed model: layers as attributes, call() traced
            super().__init__(name=name, trainable=trainable, **kwargs)
            return
        if kwargs:
            raise TypeError(f"Model: unexpected keyword argument(s) {', '.join(sorted(kwargs))}")
        super().__init__(name=name or unique_name("functional"), trainable=trainable)
        self._multi_in = isinstance(inputs, (list, tuple, dict))
        self._multi_out = isinstance(outputs, (list, tuple, dict))
        self.output_names = list(outputs) if isinstance(outputs, dict) else None
        inputs = list(inputs.values()) if isinstance(inputs, dict) else inputs
        outputs = list(outputs.values()) if isinstance(outputs, dict) else outputs
        self.inputs, self.outputs = _as_list(inputs), _as_list(outputs)
        for t in self.inputs:
            if not isinstance(t, SymbolicTensor) or not isinstance(t.layer, InputLayer):
                raise TypeError(f"Model: inputs must come from nn.Input(...), received {t!r}")
        for t in self.outputs:
            if not isinstance(t, SymbolicTensor):
                raise TypeError(f"Model: outputs must be symbolic tensors returned by layers, received {type(t).__name__}")
        self._graph = Graph(self.inputs, self.outputs)
        self._nodes = []  # this model's own calls on symbolic tensors (when used as a layer)
        self._layers = self._graph.layers()
        self._record = None
        shapes_in = [t.shape for t in self.inputs]
        shapes_out = [t.shape for t in self.outputs]
        self.input_shape = shapes_in if self._multi_in else shapes_in[0]
        self.output_shape = shapes_out if self._multi_out else shapes_out[0]
        self.built = True
        if self.output_names is None:
            self.output_names = [t.node.name for t in self.outputs]

    def connections(self):
        """{id(layer): ['dense[0][0]', ...]}: what feeds each layer's nodes in this model."""
        out = {}
        for node in self._graph.nodes[len(self.inputs):]:
            if node.kind != "op":
                out.setdefault(id(node.fn), []).extend(connection(t) for t in node.inbound)
        return out

    def plan_backward(self):
        """Nothing to store: ``backward`` plans each call from this model's own graph."""

    @property
    def layers(self):
        if self._graph is None:
            return BaseModel.layers.fget(self)
        return list(self._layers)

    def build(self, input_shape=None):
        """A functional model is built when it is created; this only checks ``input_shape``."""
        if self._graph is None:  # a subclassed model: build by tracing call() for this shape
            if input_shape is None or not self._traced():
                raise ValueError(f"Model '{self.name}': build(input_shape) needs the input shape and a call()")
            self.build_symbolic([SymbolicTensor((None,) + tuple(input_shape)[1:])], False)
            return None
        if input_shape is not None:
            given = [tuple(s)[1:] for s in _as_list(input_shape)] if self._multi_in else [tuple(input_shape)[1:]]
            expected = [tuple(t.shape)[1:] for t in self.inputs]
            if given != expected:
                raise ValueError(f"Model '{self.name}': built for inputs {expected}, received {given}")

    build.framework_build = True

    def output_layer(self):
        if self._graph is None:
            raise ValueError(f"Model '{self.name}' is a subclassed model: its output is computed by call()")
        if self._multi_out:
            raise ValueError(f"Model '{self.name}' has {len(self.outputs)} outputs; training needs a single output")
        return self.outputs[0].layer

    def fuses_loss(self):
        if self._graph is None or self.outputs[0].node.kind == "op":
            return False
        return super().fuses_loss()

    # ------------------------------------------------------------------ running
    def forward(self, x, training=False):
        """Run the nodes in topological order; ``x`` is an array or a list (one per input)."""
        if self._graph is None:
            return Layer.forward(self, x, training)
        if isinstance(x, dict):  # {input name: array}, as Keras maps them
            missing = [t.node.name for t in self.inputs if t.node.name not in x]
            if missing:
                raise ValueError(f"Model '{self.name}': no array for input(s) {missing}; received keys {sorted(x)}")
            x = [x[t.node.name] for t in self.inputs]
        xs = _as_list(x) if self._multi_in else [x]
        if len(xs) != len(self.inputs):
            raise ValueError(f"Model '{self.name}': expected {len(self.inputs)} input arrays, received {len(xs)}")
        outs, self._record = self._graph.forward(xs, training=training)
        self._last_added_losses = self._record["losses"]
        self.cache = {"record": self._record}
        return outs if self._multi_out else outs[0]

    def backward(self, dy, from_logits=False, need_input_grad=True):
        """Backpropagate dL/d(outputs) through the graph in reverse topological order.

        grads[t] accumulates dL/dt over every node that consumed t (a sum: branches and shared
        layers). With ``from_logits=True``, dy is dL/dz at the (first) output layer's
        pre-activation; a list of flags, one per output, says it per output. With ``need_input_grad=False`` (training), layers with nothing trainable
        before them do not compute dx. ``dy`` has one entry per output (None: that output does
        not reach the loss). Returns dL/dx (a list for several inputs; None where skipped)."""
        if self._graph is None:
            return BaseModel.backward(self, dy, from_logits, need_input_grad)
        if self._record is None:
            raise RuntimeError(f"Model '{self.name}': backward() called before forward()")
        dys = (list(dy.values()) if isinstance(dy, dict) else _as_list(dy)) if self._multi_out else [dy]
        if len(dys) != len(self.outputs):
            raise ValueError(f"Model '{self.name}': expected {len(self.outputs)} output gradients, received {len(dys)}")
        for t, g, fused in zip(self.outputs, dys, self._graph.logits_flags(from_logits)):
            if g is not None and not fused and tuple(g.shape[1:]) != tuple(t.shape[1:]):
                raise ValueError(f"Model '{self.name}': the gradient for output '{t.node.name}' must have shape "
                                 f"(N,{' ' + ', '.join(str(d) for d in t.shape[1:])}), received {tuple(g.shape)}")
        with backward_pass():
            dxs, _ = self._graph.backward(self._record, dys, need_input_grad=need_input_grad, from_logits=from_logits)
        return dxs if self._multi_in else dxs[0]

    def _record_state(self):
        return self._record if self._graph is not None else BaseModel._record_state(self)

    def _restore_state(self, state):
        if self._graph is None:
            return BaseModel._restore_state(self, state)
        self._record = state

    def __call__(self, x, training=False):
        if any(getattr(v, "_is_symbolic", False) for v in (list(x.values()) if isinstance(x, dict) else _as_list(x))):
            return call_symbolic(self, x)
        if self._graph is None:
            return BaseModel.__call__(self, x, training=training)
        if isinstance(x, dict):
            out = self.forward({k: backend.to_device(v) for k, v in x.items()}, training=training)
        else:
            xs = [v if backend.is_array(v) else backend.to_device(v) for v in _as_list(x)]
            out = self.forward(xs if self._multi_in else xs[0], training=training)
        return out if _INTERNAL[0] else public_result(out)  # model(x).numpy() works, as in TF
    # ------------------------------------------------------------------ config
    def get_config(self):
        """The layers (each once) and the nodes: which layer each call used and which node
        outputs fed it (shared layers and nested models included)."""
        if self._graph is None:
            return BaseModel.get_config(self)
        nodes, index = [], {}
        for i, node in enumerate(self._graph.nodes):
            index[id(node)] = i
            if node.kind == "op":
                raise ValueError(f"Model '{self.name}': get_config() does not serialize nn.ops nodes "
                                 f"({node.name}); wrap the computation in a custom layer with get_config")
            args = [[index[id(a.node)], a.index] for a in node.args]
            nodes.append({"layer": node.fn.name, "args": args, "multi_input": node.multi_input})
        # each layer's name at the top level too: a custom layer's get_config may leave it out
        layers = [{**layers_mod.serialize(layer), "name": layer.name} for layer in self._layers]
        return {"name": self.name, "layers": layers, "nodes": nodes,
                "inputs": [index[id(t.node)] for t in self.inputs], "multi_input": self._multi_in,
                "outputs": [[index[id(t.node)], t.index] for t in self.outputs], "multi_output": self._multi_out}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        """Rebuild the graph from ``get_config()``; ``custom_objects`` maps class names of custom
        layers to their classes (Keras's argument)."""
        custom_objects = dict(custom_objects or {})
        made = {}
        for lc in config["layers"]:
            name = lc.get("name", lc["config"].get("name"))
            if lc["class_name"] == "InputLayer":
                c = lc["config"]
                made[name] = Input(shape=tuple(c["shape"]), batch_size=c.get("batch_size"), name=name)
                continue
            made[name] = deserialize(lc, custom_objects)
        produced = []
        for node in config["nodes"]:
            target = made[node["layer"]]
            if isinstance(target, SymbolicTensor):  # an Input's node
                produced.append([target])
                continue
            args = [produced[i][j] for i, j in node["args"]]
            out = target(args if node["multi_input"] else args[0])
            produced.append(out if isinstance(out, list) else [out])
        ins = [produced[i][0] for i in config["inputs"]]
        outs = [produced[i][j] for i, j in config["outputs"]]
        return cls(ins if config.get("multi_input") else ins[0], outs if config.get("multi_output") else outs[0],
                   name=config.get("name"))

    def __repr__(self):
        if self._graph is None:
            return f"{type(self).__name__}('{self.name}', subclassed)"
        return f"Model('{self.name}', {len(self.inputs)} input(s), {len(self.outputs)} output(s), {len(self._layers)} layers)"


def deserialize(config, custom_objects=None):
    """A layer (or model) from ``{"class_name", "config"}``, looking in ``custom_objects`` first."""
    custom_objects = custom_objects or {}
    cls = custom_objects.get(config["class_name"]) or layers_mod.get_layer_class(config["class_name"])
    cfg = dict(config["config"])
    if getattr(cls, "_is_model", False):
        return cls.from_config(cfg, custom_objects=custom_objects)
    return cls.from_config(cfg)


layers_mod.register(Model)
