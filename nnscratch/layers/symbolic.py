"""Symbolic tensors and graph nodes: what ``nn.Input(shape)``, ``layer(tensor)`` and ``nn.ops.f(tensor)`` build.

A SymbolicTensor holds a shape and a dtype, no data. Calling a layer (or a model) on one, or an
``nn.ops`` function, records a :class:`Node`: the callable, its positional arguments (symbolic
tensors, Variables created by ``add_weight``, or constants) and its keyword attributes, and
returns the node's symbolic output(s). The same layer may be called several times (a *shared*
layer): each call is its own node. ``topological_nodes`` lists the nodes between some inputs and
outputs so that each comes after the nodes that feed it; ``graph.Graph`` runs them forward in
that order and backward in reverse, keeping one cache per node.

There is no autograd: every node's backward is hand-written (a layer's ``backward``, an op's
``Op.backward``). Anything that would need a gradient nobody wrote (NumPy functions on a
symbolic tensor, ``float(t)``, ``if t:``) raises :class:`NoBackwardError` while tracing.
"""
from __future__ import annotations

from nnscratch import backend, ops
from nnscratch.ops import core as ops_core


def shape_str(shape) -> str:
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


class NoBackwardError(TypeError):
    """An operation on a symbolic tensor that has no hand-written backward."""


TWO_FORMS = """nnscratch has no autograd: every gradient is written by hand. Either use nn.ops (each op has
its backward) and nnscratch layers inside call(), or write the two methods yourself:

    class MyLayer(nn.layers.Layer):
        def forward(self, x, training=False):
            self.cache = {"x": x}            # what backward needs
            return ...                       # y
        def backward(self, dy):
            x = self.cache["x"]
            ...                              # write self.grads[name][...] for each parameter
            return dx                        # dL/dx, same shape as x"""


_TRACING = []  # the traces being recorded (innermost last); add_loss appends its terms here


def no_backward(what, t=None):
    source = ""
    if t is not None and getattr(t, "node", None) is not None:
        source = f" (t is the output of {t.node.name})"
    elif t is not None and getattr(t, "_is_variable", False):
        source = f" (t is the weight '{t.path}')"
    return NoBackwardError(f"{what} on a symbolic tensor{source} (while tracing call()): this operation has no "
                           "backward. " + TWO_FORMS)


class Node:
    """One call in a graph. ``kind`` is 'input' (an nn.Input or a traced call's input),
    'layer' (a Layer or Model: ``fn(args, training)`` and ``fn.call_backward``) or 'op' (an
    ``nn.ops`` Op: ``fn.forward(*args, **attrs)`` and ``fn.backward(ctx, dy)``)."""

    def __init__(self, fn, args=(), attrs=None, kind="layer", multi_input=False):
        self.fn, self.args, self.attrs, self.kind = fn, list(args), dict(attrs or {}), kind
        self.multi_input = multi_input
        self.outputs = []

    @property
    def inbound(self):
        return [a for a in self.args if isinstance(a, SymbolicTensor)]

    @property
    def name(self):
        if self.fn is None:
            return getattr(self, "label", "input")
        return f"ops.{self.fn.name}" if self.kind == "op" else self.fn.name

    def __repr__(self):
        return f"<Node {self.name} ({self.kind}), {len(self.inbound)} symbolic input(s)>"


class SymbolicTensor:
    """A placeholder with a shape (batch axis None), a dtype and the node that produced it.

    Python's operators map to ``nn.ops`` (``a + b`` is ``ops.add(a, b)``, ``x @ w`` is
    ``ops.matmul``, ``x[:, 0]`` is ``ops.get_item``); NumPy functions, ``float(t)`` and
    ``bool(t)`` raise NoBackwardError, because they would need a gradient nobody wrote."""

    _is_symbolic = True

    def __init__(self, shape, dtype=None, node=None, index=0, name=None):
        self.shape = tuple(shape)
        self.dtype = ops_core.dtype_name(dtype or backend.floatx())
        self.node = node
        self.index = index  # which output of the node
        self.name = name

    @property
    def layer(self):
        """The layer whose output this is (None for an nn.ops result)."""
        return None if self.node is None or self.node.kind == "op" else self.node.fn

    @property
    def inbound(self):
        return tuple(self.node.inbound) if self.node is not None else ()

    @property
    def ndim(self):
        return len(self.shape)

    def record_call(self, layer, inputs, training=None):
        """``layer(inputs)`` with this tensor among the inputs: one node of the graph (Layer.__call__
        hands symbolic inputs here, so the layers need not know about graphs)."""
        return call_symbolic(layer, inputs)

    # -- what has no backward ------------------------------------------------------------------
    def __array__(self, *args, **kwargs):
        raise no_backward("numpy.asarray (or another NumPy conversion)", self)

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        return _ufunc_on_symbolic(self, ufunc, method, inputs, kwargs)

    def __array_function__(self, func, types, args, kwargs):
        raise no_backward(f"numpy.{func.__name__} (use nn.ops.{func.__name__})", self)

    def __bool__(self):
        raise no_backward("Python control flow on a value (`if t:`, `while t:`, `and`/`or`)", self)

    def __float__(self):
        raise no_backward("float(t)", self)

    def __int__(self):
        raise no_backward("int(t)", self)

    def __index__(self):
        raise no_backward("using t as a Python index", self)

    def __iter__(self):
        raise no_backward("iterating over t (use nn.ops.unstack)", self)

    def __len__(self):
        raise no_backward("len(t) (use t.shape)", self)

    def trace_loss(self, loss, y_true, y_pred):
        """``loss(y_true, y_pred)`` on symbolic tensors (a built-in loss inside a traced call,
        e.g. Keras's LogisticEndpoint): one node whose backward is the loss's own backward.
        Losses hand themselves here (duck-typed: losses.py imports nothing from layers)."""
        return record_op(loss_op(loss), (y_pred, y_true), {})

    def numpy(self):
        raise no_backward("t.numpy()", self)

    def item(self):
        raise no_backward("t.item()", self)

    __hash__ = object.__hash__

    def __repr__(self):
        src = f", from '{self.node.name}'" if self.node is not None else ""
        return f"<SymbolicTensor shape={shape_str(self.shape)} dtype={self.dtype}{src}>"


_UFUNCS = {"add": ops.add, "subtract": ops.subtract, "multiply": ops.multiply, "true_divide": ops.divide,
           "divide": ops.divide, "matmul": ops.matmul, "power": ops.power, "negative": ops.negative,
           "maximum": ops.maximum, "minimum": ops.minimum}

for _name, _fn in ops.OPERATORS.items():
    if _name not in ("__eq__", "__ne__"):  # identity equality: tensors are dict keys and list members
        setattr(SymbolicTensor, _name, _fn)


def _ufunc_on_symbolic(t, ufunc, method, inputs, kwargs):
    """``ndarray + t``, ``w @ t``: the nn.ops op (it has a backward); any other NumPy ufunc: the error."""
    fn = _UFUNCS.get(ufunc.__name__) if method == "__call__" and not kwargs else None
    if fn is None:
        raise no_backward(f"numpy.{ufunc.__name__}" + ("" if method == "__call__" else f".{method}")
                          + f" (use nn.ops.{ufunc.__name__} if it exists)", t)
    return fn(*inputs)


def as_list(x):
    return list(x) if isinstance(x, (list, tuple)) else [x]


def record_op(op, inputs, attrs):
    """The nn.ops handler for symbolic inputs: one 'op' node, its output shape(s) from
    ``output_spec``. Variables (``add_weight``) with no SymbolicTensor around compute eagerly."""
    if not any(isinstance(a, SymbolicTensor) for a in inputs):  # only Variables: eager
        concrete = [a.value if getattr(a, "_is_variable", False) else a for a in inputs]
        return ops_core.apply(op, *concrete, **attrs)
    probes = [SymbolicTensor(a.shape, a.dtype) if getattr(a, "_is_variable", False) else a for a in inputs]
    spec = ops_core.output_spec(op, probes, attrs)
    node = Node(op, inputs, attrs, kind="op")
    specs = (spec,) if isinstance(spec[1], str) else spec  # one (shape, dtype), or one per output
    node.outputs = [SymbolicTensor(s, d, node=node, index=i) for i, (s, d) in enumerate(specs)]
    return tuple(node.outputs) if op.n_outputs != 1 else node.outputs[0]


ops_core.set_symbolic_handler(record_op)


def loss_op(loss):
    """An Op around a Loss object (forward/backward with a cache), so that it can be a node.

    Math: out = loss.forward(y_pred, y_true) (0-d); d y_pred = loss.backward() * dy_out;
    y_true takes no gradient (labels). ``ctx`` keeps a copy of the loss's cache for that call."""

    def compute(y_pred, y_true):
        value = loss.forward(y_pred, loss.check_labels(y_true, y_pred))
        return value, {"cache": dict(loss.cache)}

    def gradient(ctx, dy):
        loss.cache = dict(ctx["cache"])
        return loss.backward() * dy, None

    return ops_core.Op(f"loss_{loss.name}", compute, gradient, convert="each", register=False)


def call_symbolic(layer, inputs):
    """``layer(symbolic_tensor_or_list)``: build ``layer`` for the symbolic shape(s) and record
    one node (a layer may be called on several inputs: each call is a node). Models are
    callables too (a model used as a layer)."""
    multi = isinstance(inputs, (list, tuple))
    tensors = as_list(inputs)
    for t in tensors:
        if not isinstance(t, SymbolicTensor):
            raise TypeError(f"{type(layer).__name__} '{layer.name}': expected symbolic inputs (from nn.Input or "
                            f"another layer), received {type(t).__name__}")
    where = " (called on " + ", ".join(f"the output of '{t.node.name}'" for t in tensors) + ")"
    try:
        out_shape = layer.build_symbolic(tensors, multi)
    except (ValueError, TypeError) as exc:
        raise type(exc)(f"{exc}{where}") from None
    node = Node(layer, tensors, kind="layer", multi_input=multi)
    outs = out_shape if isinstance(out_shape, list) else [out_shape]
    batch = tensors[0].shape[0] if tensors[0].shape else None  # layers keep the batch axis (None, or a size when tracing an eager call)
    outs = [(batch,) + tuple(s)[1:] if s and s[0] is None else s for s in outs]
    node.outputs = [SymbolicTensor(s, getattr(layer, "dtype", None), node=node, index=i, name=layer.name)
                    for i, s in enumerate(outs)]
    layer._nodes.append(node)
    layer._inbound = tensors  # the latest call (kept for older code that reads it)
    layer._multi_input = multi
    layer._connected_to = [connection(t) for t in tensors]
    return node.outputs if isinstance(out_shape, list) else node.outputs[0]


def connection(t):
    """Keras's 'Connected to' entry for tensor ``t``: 'layer[node][output]'."""
    if t.node.kind == "op" or t.node.fn is None:
        return f"{t.node.name}[0][{t.index}]"
    nodes = getattr(t.node.fn, "_nodes", [t.node])
    index = next((i for i, n in enumerate(nodes) if n is t.node), 0)
    return f"{t.node.fn.name}[{index}][{t.index}]"


def topological_nodes(inputs, outputs):
    """The nodes between ``inputs`` and ``outputs`` (SymbolicTensors), each after the nodes
    that feed it; the input nodes first, in the order given."""
    order, state = [], {}  # state: 1 = on the stack, 2 = done
    input_nodes = {id(t.node): t for t in inputs}

    def visit(node):
        if state.get(id(node)) == 2:
            return
        if state.get(id(node)) == 1:
            raise ValueError(f"the graph has a cycle through '{node.name}'")
        state[id(node)] = 1
        if id(node) not in input_nodes:
            if node.kind == "input":
                raise ValueError(f"graph disconnected: the output depends on input '{node.name}', which is not in "
                                 f"Model(inputs=...) ({', '.join(i.node.name for i in inputs)})")
            for parent in node.inbound:
                visit(parent.node)
        state[id(node)] = 2
        order.append(node)

    for t in outputs:
        visit(t.node)
    for t in inputs:
        if state.get(id(t.node)) != 2:
            raise ValueError(f"input '{t.node.name}' is not connected to any output")
    firsts = [t.node for t in inputs]
    return firsts + [n for n in order if id(n) not in input_nodes]
