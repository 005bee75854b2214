"""The functional API's symbolic tensors: ``nn.Input(shape)`` and every layer called on one.

A SymbolicTensor holds a shape and no data. Calling a layer on it (``call_symbolic``) builds the
layer from the symbolic shape and returns a new SymbolicTensor that remembers the layer and its
inputs: that is one *node* of the graph. ``topological_nodes`` walks back from the outputs and
lists the nodes so that every layer comes after the layers that feed it; the functional
``Model`` (nnscratch/models/functional.py) runs them forward in that order and backward in
reverse.
"""
from __future__ import annotations

from nnscratch.layers.base import shape_str


class SymbolicTensor:
    """A placeholder with a shape (batch axis None) and the layer that produced it.

    It holds no data: layers called on it return new SymbolicTensors (the functional API),
    and ``Sequential([nn.Input(shape), ...])`` reads the shape from it."""

    _is_symbolic = True

    def __init__(self, shape, dtype=None, layer=None, inbound=(), name=None):
        self.shape = tuple(shape)
        self.dtype = dtype
        self.layer = layer  # the layer whose output this is
        self.inbound = tuple(inbound)  # SymbolicTensors that fed that layer
        self.name = name

    @property
    def ndim(self):
        return len(self.shape)

    def record_call(self, layer, inputs):
        """``layer(inputs)`` with this tensor among the inputs: one node of the graph (Layer.__call__
        hands symbolic inputs here, so the layers need not know about graphs)."""
        return call_symbolic(layer, inputs)

    def __repr__(self):
        src = f", from '{self.layer.name}'" if self.layer is not None else ""
        return f"<SymbolicTensor shape={shape_str(self.shape)}{src}>"


def as_list(x):
    return list(x) if isinstance(x, (list, tuple)) else [x]


def call_symbolic(layer, inputs):
    """``layer(symbolic_tensor_or_list)``: build ``layer`` for the symbolic shape(s) and return
    its symbolic output. Records the node (``layer._inbound``, ``layer._connected_to``)."""
    if getattr(layer, "_is_model", False):
        raise TypeError(f"calling model '{layer.name}' on a symbolic input (a model used as a layer) is not "
                        "supported; add its layers to the functional graph instead")
    multi = isinstance(inputs, (list, tuple))
    tensors = as_list(inputs)
    for t in tensors:
        if not isinstance(t, SymbolicTensor):
            raise TypeError(f"{type(layer).__name__} '{layer.name}': expected symbolic inputs (from nn.Input or "
                            f"another layer), received {type(t).__name__}")
    if layer._inbound:
        raise ValueError(f"{type(layer).__name__} '{layer.name}' is already used in a functional graph; shared "
                         "layers are not supported (each layer's cache holds one forward): create a new layer")
    where = " (called on " + ", ".join(f"the output of '{t.layer.name}'" for t in tensors) + ")"
    try:
        if multi:
            shapes = [(None,) + tuple(t.shape)[1:] for t in tensors]
            if not hasattr(layer, "min_inputs"):
                raise TypeError(f"{type(layer).__name__} '{layer.name}' takes one input, received a list of {len(tensors)}")
            if not layer.built:
                layer.check_input_shape(shapes)
                layer.build(shapes)
        else:
            if hasattr(layer, "min_inputs"):
                raise TypeError(f"{type(layer).__name__} '{layer.name}' expects a list of inputs, received one tensor")
            shape = (None,) + tuple(tensors[0].shape)[1:]
            if not layer.built:
                layer.check_input_shape(shape)
                layer.build(shape)
            elif tuple(layer.input_shape[1:]) != shape[1:]:
                raise ValueError(f"{type(layer).__name__} '{layer.name}': built for input shape "
                                 f"{shape_str(layer.input_shape)}, received {shape_str(shape)}")
    except (ValueError, TypeError) as exc:
        raise type(exc)(f"{exc}{where}") from None
    layer._inbound = tensors
    layer._multi_input = multi
    layer._connected_to = [f"{t.layer.name}[0][0]" for t in tensors]
    return SymbolicTensor(layer.output_shape, layer=layer, inbound=tensors, name=layer.name)


def topological_nodes(inputs, outputs):
    """The SymbolicTensors between inputs and outputs, each after the tensors that feed it."""
    order, state = [], {}  # state: 1 = on the stack, 2 = done

    def visit(t):
        if state.get(id(t)) == 2:
            return
        if state.get(id(t)) == 1:
            raise ValueError(f"the graph has a cycle through layer '{t.layer.name}'")
        state[id(t)] = 1
        for parent in t.inbound:
            visit(parent)
        state[id(t)] = 2
        order.append(t)

    for t in outputs:
        visit(t)
    input_ids = {id(t) for t in inputs}
    for t in order:
        if not t.inbound and id(t) not in input_ids:
            raise ValueError(f"graph disconnected: the output depends on input '{t.layer.name}', which is not in "
                             f"Model(inputs=...) ({', '.join(i.layer.name for i in inputs)})")
    for t in inputs:
        if id(t) not in {id(n) for n in order}:
            raise ValueError(f"input '{t.layer.name}' is not connected to any output")
    return order
