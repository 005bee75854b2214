"""Tracing Keras-style ``call`` methods and loss functions into graphs with hand-written backwards.

A layer (or model) subclass that defines ``call(inputs, training=None)`` instead of
``forward``/``backward`` is *traced* at its first call: ``call`` runs once on symbolic tensors,
and every nnscratch layer and ``nn.ops`` function it uses records a node (see ``symbolic.py``).
After that, the layer's forward runs that graph on arrays and its backward runs it in reverse,
each node with its own hand-written backward (the layers' ``backward``, the ops' ``backward``),
summing the gradients of a tensor used twice. Nothing is differentiated automatically: a ``call``
that uses something without a backward (NumPy on a symbolic tensor, ``float(t)``, ``if t:``)
fails at the first call with NoBackwardError, which shows the forward/backward form instead.

    class Linear(nn.layers.Layer):
        def __init__(self, units):
            super().__init__()
            self.units = units
        def build(self, input_shape):
            self.w = self.add_weight(shape=(input_shape[-1], self.units), initializer="glorot_uniform")
            self.b = self.add_weight(shape=(self.units,), initializer="zeros")
        def call(self, inputs):
            return nn.ops.matmul(inputs, self.w) + self.b      # two ops: matmul, add

``nn.losses.TracedLoss(fn)`` (nnscratch/losses/traced.py) does the same for a loss written as ``fn(y_true, y_pred)`` with nn.ops (or a
``losses.Loss`` subclass with ``call``), behind nnscratch's Loss interface.
"""
from __future__ import annotations

import inspect

from nnscratch import backend, ops
from nnscratch.layers.graph import Graph, backward_pass
from nnscratch.layers.symbolic import _TRACING, NoBackwardError, Node, SymbolicTensor, as_list



class Trace:
    """One traced ``call``: the graph from the symbolic inputs to the outputs and added losses."""

    def __init__(self, graph, n_outputs, multi_output, losses):
        self.graph, self.n_outputs, self.multi_output, self.losses = graph, n_outputs, multi_output, losses


def accepts(fn, name):
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False
    return name in params or any(p.kind == p.VAR_KEYWORD for p in params.values())


def placeholder(shape, dtype, name="input", keep_batch=False):
    """A symbolic input of a traced call (an 'input' node with no layer behind it)."""
    node = Node(None, kind="input")
    node.label = name
    shape = tuple(shape) if keep_batch else (None,) + tuple(shape)[1:]
    t = SymbolicTensor(shape, dtype, node=node, name=name)
    node.outputs = [t]
    return t


def trace(owner, fn, args, kwargs, what, keep_batch=False):
    """Run ``fn(*symbolic args, **kwargs)`` once on placeholders for the arrays ``args``; returns a Trace.
    ``what`` names the callable in errors ("Layer 'my_layer'"). With ``keep_batch`` the
    placeholders keep the arrays' batch size (an eager call: ``inputs.shape[0]`` is a number
    in call(), as in Keras), else it is None (a symbolic call)."""
    inputs = []

    def to_symbolic(a):
        if isinstance(a, (list, tuple)):
            return [to_symbolic(v) for v in a]
        if a is None:
            return None
        t = placeholder(a.shape, a.dtype, name=f"input_{len(inputs)}", keep_batch=keep_batch)
        inputs.append(t)
        return t

    sym_args = [to_symbolic(a) for a in args]
    collected = []
    _TRACING.append(collected)
    try:
        out = fn(*sym_args, **kwargs)
    except NoBackwardError as exc:
        raise NoBackwardError(f"{what}: {exc}") from None
    finally:
        _TRACING.pop()
    multi = isinstance(out, (list, tuple))
    outs = as_list(out)
    for o in outs:
        if not isinstance(o, SymbolicTensor):
            raise NoBackwardError(
                f"{what}: call() returned {type(o).__name__}, not a tensor computed from its inputs with nnscratch "
                "layers or nn.ops (so there is no graph to run backward through)")
    graph = Graph(inputs, outs + collected)
    return Trace(graph, len(outs), multi, collected)


def add_loss_symbolic(value, what):
    """``layer.add_loss(value)`` while tracing: the term joins the current trace's outputs."""
    if not _TRACING:
        raise TypeError(f"{what}: add_loss() is supported inside call() (traced with nn.ops); an eager value "
                        "would have no gradient. Compute the term from the layer's inputs or weights in call()")
    if not isinstance(value, SymbolicTensor):
        raise TypeError(f"{what}: add_loss() expects a tensor computed in call() with nn.ops, received "
                        f"{type(value).__name__}")
    if value.ndim:
        value = ops.sum(value)  # a term of the loss is a scalar (Keras sums the terms)
    _TRACING[-1].append(value)


def run_forward(trace_, arrays, training):
    """(outputs, record, added-loss values) of a trace on concrete inputs."""
    flat = []
    for a in arrays:
        flat.extend(a if isinstance(a, (list, tuple)) else [a] if a is not None else [])
    values, record = trace_.graph.forward(flat, training=training)
    outs = values[:trace_.n_outputs]
    return outs, record, values[trace_.n_outputs:] + record["losses"]


def run_backward(trace_, record, dys, loss_values, need_input_grad=True):
    """Reverse run: dys for the outputs (None: unused), 1 for each of this trace's own
    added-loss terms (those of inner layers are seeded by their own backward)."""
    own = loss_values[:len(trace_.losses)]
    seeds = list(dys) + [backend.get_array_module(v).ones_like(v) for v in own]
    return trace_.graph.backward(record, seeds, need_input_grad=need_input_grad)


class TracedCall:
    """The part of ``Layer`` that runs a subclass's ``call`` through its trace (mixed into Layer;
    a layer that defines forward/backward never uses it)."""

    def _traced(self):
        """True for a subclass that defines ``call`` and not ``forward``: its call is traced."""
        cls = type(self)
        return not getattr(cls.call, "framework_call", False) and getattr(cls.forward, "framework_forward", False)

    def _ensure_traced_built(self, input_shape):
        shapes = input_shape if isinstance(input_shape, list) else [input_shape]
        shapes = [(None,) + tuple(s)[1:] for s in shapes]
        build_shape = shapes if isinstance(input_shape, list) else shapes[0]
        if not self.built:
            if not getattr(type(self).build, "framework_build", False):  # the subclass's own build
                self.build(build_shape)
            self.built = True
            self.input_shape = build_shape
        elif [tuple(s)[1:] for s in (self.input_shape if isinstance(self.input_shape, list) else [self.input_shape])] \
                != [tuple(s)[1:] for s in shapes]:
            raise ValueError(f"{type(self).__name__} '{self.name}': built for input shape "
                             f"{self.input_shape}, received {build_shape}")

    def _trace_for(self, x, training):
        """The trace for this training flag and these input shapes: one per batch size for
        eager calls (call() may read ``inputs.shape[0]``), batch None for symbolic calls."""
        args = list(x) if getattr(self, "_positional", False) else [x]
        flat = [a for arg in args for a in (arg if isinstance(arg, (list, tuple)) else [arg]) if a is not None]
        keep_batch = not any(getattr(a, "_is_symbolic", False) for a in flat)
        key = (bool(training), tuple((tuple(a.shape), str(a.dtype)) for a in flat))
        if key not in self._traces:
            if len(self._traces) >= 16:  # many batch sizes: forget the oldest trace
                self._traces.pop(next(iter(self._traces)))
            kwargs = {"training": bool(training)} if accepts(self.call, "training") else {}
            self._traces[key] = trace(self, self.call, args, kwargs, f"{type(self).__name__} '{self.name}'",
                                      keep_batch=keep_batch)
            outs = self._traces[key].graph.outputs[:self._traces[key].n_outputs]
            shapes = [(None,) + tuple(t.shape)[1:] for t in outs]
            self.output_shape = shapes if self._traces[key].multi_output else shapes[0]
        return self._traces[key]

    def _traced_forward(self, x, training=False):
        tr = self._trace_for(x, training)
        args = list(x) if getattr(self, "_positional", False) else [x]
        outs, record, loss_values = run_forward(tr, args, training)
        self.cache = {"trace": tr, "record": record, "losses": loss_values}
        self._last_added_losses = loss_values
        return list(outs) if tr.multi_output else outs[0]

    def _traced_backward(self, dy):
        """Run the traced graph in reverse (each node's own backward), then write the gradients
        of this layer's own weights (add_weight) into ``self.grads``."""
        c = self.cache
        tr = c["trace"]
        dys = list(dy) if tr.multi_output else [dy]
        with backward_pass():
            d_inputs, var_grads = run_backward(tr, c["record"], dys, c["losses"])
        xp = backend.get_array_module(*self.grads.values()) if self.grads else None
        by_name = {v.name: g for v, g in var_grads.values() if v.layer is self}
        for name, buf in self.grads.items():
            buf[...] = by_name[name] if name in by_name else xp.zeros_like(buf)  # overwrite, as every backward
        if not self.need_input_grad:
            return None
        return d_inputs if getattr(self, "_positional", False) or len(d_inputs) > 1 else d_inputs[0]

    # ------------------------------------------------------------------ added losses
    def add_loss(self, value):
        """Add a term to the model's loss (inside a traced ``call``, computed with nn.ops);
        its gradient flows through the same backward (Keras's ``add_loss``)."""
        add_loss_symbolic(value, f"{type(self).__name__} '{self.name}'")

    @property
    def losses(self):
        """The added-loss values (0-d arrays) of the latest forward, inner layers included."""
        return list(self._last_added_losses)

    def _adds_loss(self):
        return any(tr.losses for tr in self._traces.values()) or any(s._adds_loss() for s in self._sublayers())
