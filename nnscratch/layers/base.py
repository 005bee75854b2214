"""The Layer base class: lifecycle, parameters, gradients, cache, naming, config and hooks.

Lifecycle (Keras's):

1. ``__init__(**hyperparameters)`` stores and validates arguments; it creates no arrays.
2. ``build(input_shape)`` creates the parameters with ``add_param``; it is called by the first
   ``layer(x)`` or by ``Sequential.build``.
3. ``forward(x, training)`` computes the output and stores in ``self.cache`` exactly what
   ``backward`` needs; ``backward(dy)`` reads the cache, **overwrites** ``self.grads[name]``
   for every trainable parameter, and returns ``dx`` (same shape as ``x``).

``layer(x, training=False)`` is the checked entry point: it builds the layer if needed,
verifies the input's shape against the built one, runs ``forward`` and then the registered
forward hooks. ``layer.call_backward(dy)`` is the checked entry for ``backward`` (hooks too).

Parameters and their gradients live side by side in two dicts with the same keys and Keras's
weight names: ``self.params["kernel"]`` and ``self.grads["kernel"]``. Non-trainable state
(BatchNormalization's moving statistics) lives in ``self.state``. Optimizers update
``params`` in place, so references held elsewhere stay valid.
"""
from __future__ import annotations

from nnscratch import backend, initializers
from nnscratch.layers.arguments import (as_int, int_dims, named_lookup, non_negative_int,  # noqa: F401
                                        positive_int, standardize_data_format, standardize_padding,
                                        standardize_tuple)
from nnscratch.layers.eager import _INTERNAL, internal_calls, public_result  # noqa: F401 (internal_calls: re-exported)
from nnscratch.layers.graph import _PASS, backward_pass  # noqa: F401  (backward_pass: re-exported)
from nnscratch.layers.symbolic import shape_str
from nnscratch.layers.variable import Variable
from nnscratch.layers.traced import TracedCall
from nnscratch.layers.weights import NestedWeights
from nnscratch.naming import snake_case, unique_name


class Layer(TracedCall, NestedWeights):
    """Base class of every layer. Subclasses override ``build``, ``compute_output_shape``,
    ``forward`` and ``backward`` (and ``get_config`` for their own arguments)."""

    #: rank of the input including the batch axis, or None if any rank is accepted
    input_ndim = None
    #: Whether backward must return dL/dx. A model's training backward sets it False around
    #: the backward of a layer with nothing trainable before it in that model (nobody needs
    #: its dx) and puts it back afterwards; such a backward computes the parameter gradients
    #: and returns None.
    need_input_grad = True
    #: True after a backward that started at the logits (see ``call_backward``).
    last_backward_at_logits = False

    def __init__(self, name=None, input_shape=None, input_dim=None, batch_input_shape=None,
                 dtype=None, trainable=True, **kwargs):
        if kwargs:
            raise TypeError(
                f"{type(self).__name__}: unexpected keyword argument(s) {', '.join(sorted(kwargs))}"
            )
        self.name = name if name is not None else unique_name(snake_case(type(self).__name__))
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"{type(self).__name__}: name must be a non-empty string, received {name!r}")
        if batch_input_shape is not None:
            input_shape = tuple(batch_input_shape)[1:]
        if input_dim is not None and input_shape is None:
            input_shape = (input_dim,)
        self._declared_input_shape = int_dims(input_shape) if input_shape is not None else None
        self.trainable = trainable
        self.dtype = dtype
        self.params: dict = {}
        self.grads: dict = {}
        self.state: dict = {}
        self.cache: dict = {}
        self._weight_names: list = []  # Keras order: trainable weights as added, then non-trainable
        self.built = False
        self.input_shape = None
        self.output_shape = None
        self._forward_hooks: list = []
        self._backward_hooks: list = []
        self._inbound = []  # functional-API bookkeeping: the inputs of the latest call
        self._nodes = []  # every call on symbolic tensors (a shared layer has several)
        self._traces = {}  # traced call(): {training: Trace} (see traced.py)
        self._variables = {}  # add_weight handles by name
        self._last_added_losses = []

    # ------------------------------------------------------------------ building
    def add_param(self, name, shape, initializer="zeros", trainable=True):
        """Create a parameter (and, if trainable, its gradient buffer) with ``initializer``."""
        init = initializers.get(initializer)
        initializers.charge(shape)  # a model being loaded from a file stays within what the file holds
        value = init(tuple(shape), dtype=self.dtype or backend.floatx())
        if trainable:
            self.params[name] = value
            self.grads[name] = backend.get_array_module(value).zeros_like(value)
        else:
            self.state[name] = value
        self._weight_names.append((name, trainable))
        return value

    def add_weight(self, shape=None, initializer=None, dtype=None, trainable=True, name=None, **kwargs):
        """Keras's ``add_weight``: create a parameter and return its Variable (a handle that
        nn.ops and Python operators accept in a traced ``call``; its gradient lands in
        ``self.grads[name]``). Default initializer: glorot_uniform (zeros for a scalar)."""
        unsupported = sorted(k for k in kwargs if k not in ("regularizer", "constraint", "autocast", "aggregation"))
        if unsupported:
            raise TypeError(f"{type(self).__name__} '{self.name}': add_weight got unexpected argument(s) {unsupported}")
        if name is None:
            name = "variable" if "variable" not in self._variables else f"variable_{len(self._variables)}"
        if name in self._variables:
            raise ValueError(f"{type(self).__name__} '{self.name}': a weight named {name!r} already exists")
        shape = tuple(shape or ())
        if initializer is None:
            initializer = "glorot_uniform" if len(shape) >= 2 else "zeros"
        saved, self.dtype = self.dtype, dtype or self.dtype
        try:
            self.add_param(name, shape, initializer, trainable=trainable)
        finally:
            self.dtype = saved
        self._variables[name] = Variable(self, name, trainable)
        return self._variables[name]

    def build(self, input_shape):
        """Create parameters for inputs of ``input_shape`` (batch axis included, as None)."""
        self.input_shape = tuple(input_shape)
        self.output_shape = tuple(self.compute_output_shape(self.input_shape))
        self.built = True

    build.framework_build = True  # a traced subclass that does not override build needs no call

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def check_input_shape(self, input_shape):
        """Raise ValueError if ``input_shape`` cannot be fed to this layer (before building)."""
        if self.input_ndim is not None and len(input_shape) != self.input_ndim:
            raise ValueError(
                f"{type(self).__name__} '{self.name}': expected input of rank {self.input_ndim}"
                f"{self._rank_hint()}, received shape {shape_str(input_shape)}"
            )

    def _rank_hint(self):
        return ""

    def _ensure_built(self, input_shape):
        if self._traced():
            return self._ensure_traced_built(input_shape)
        input_shape = (None,) + tuple(input_shape)[1:]
        if not self.built:
            self.check_input_shape(input_shape)
            self.build(input_shape)
        elif tuple(input_shape[1:]) != tuple(self.input_shape[1:]):
            raise ValueError(
                f"{type(self).__name__} '{self.name}': expected input shape {shape_str(self.input_shape)}, "
                f"received {shape_str(input_shape)}"
            )

    # ------------------------------------------------------------------ running
    def __call__(self, x, *more, training=False, **kwargs):
        if len(more) == 1 and isinstance(more[0], bool):  # layer(x, True): training, positionally
            more, training = (), more[0]
        if more:  # Keras's layer(a, b): several positional inputs, passed to call(a, b)
            x, self._positional = [x, *more], True
        if kwargs:
            raise TypeError(f"{type(self).__name__} '{self.name}': unexpected keyword argument(s) "
                            f"{', '.join(sorted(kwargs))}")
        symbolic = symbolic_input(x)
        if symbolic is not None:  # functional API: nn.Input(...) -> layer(tensor) records a node
            return symbolic.record_call(self, x)
        multi = isinstance(x, (list, tuple)) and self._traced()
        xs = list(x) if multi else [x]
        for v in xs:
            if not backend.is_array(v) and not (multi and v is None):
                raise TypeError(f"{type(self).__name__} '{self.name}': expected an array, received {type(v).__name__}")
        xs = [backend.to_device(v) if v is not None else None for v in xs]  # host arrays join the weights' device
        x = xs if multi else xs[0]
        self._ensure_built([v.shape for v in xs if v is not None] if multi else x.shape)
        y = self.forward(x, training=training)
        self._last_y_shape = y.shape if backend.is_array(y) else None
        for hook in self._forward_hooks:
            hook(self, x, y)
        return y if _INTERNAL[0] else public_result(y)

    def call_backward(self, dy, from_logits=False):
        """The one entry point through which every backward runs (models, the debug tools and
        tests all call it): checks the cache and dy's shape, calls ``backward(dy)`` or, with
        ``from_logits=True``, ``backward_logits(dy)`` (dy is then dL/dz at the pre-activation
        of a softmax/sigmoid output fused with its cross-entropy), then the backward hooks
        ``hook(layer, dy, dx)``; ``layer.last_backward_at_logits`` says which path ran.
        Within a model's backward pass, a second call on the same layer (a shared layer)
        adds its parameter gradients to the first's."""
        if not self.cache:
            raise RuntimeError(f"{type(self).__name__} '{self.name}': backward() called before forward()")
        out_shape = getattr(self, "_last_y_shape", None)
        if dy is not None and out_shape is not None and tuple(dy.shape) != tuple(out_shape):
            raise ValueError(
                f"{type(self).__name__} '{self.name}': dy must have the output's shape {tuple(out_shape)}, "
                f"received {tuple(dy.shape)}"
            )
        if from_logits and not hasattr(self, "backward_logits"):
            raise TypeError(f"{type(self).__name__} '{self.name}' has no fused logits backward")
        self.last_backward_at_logits = bool(from_logits)
        again = _PASS["depth"] > 0 and id(self) in _PASS["written"]
        earlier = {k: g.copy() for k, g in self.grads.items()} if again else None
        dx = self.backward_logits(dy) if from_logits else self.backward(dy)
        if again:
            for k, g in earlier.items():
                self.grads[k] += g  # dL/dW sums over every call of the layer
        if _PASS["depth"] > 0:
            _PASS["written"].add(id(self))
        for hook in self._backward_hooks:
            hook(self, dy, dx)
        return dx

    def forward(self, x, training=False):
        if self._traced():
            return self._traced_forward(x, training)
        raise NotImplementedError(f"{type(self).__name__}.forward (define forward/backward, or call with nn.ops)")

    forward.framework_forward = True  # a subclass that defines call() instead is traced

    def backward(self, dy):
        if self._traced():
            return self._traced_backward(dy)
        raise NotImplementedError(f"{type(self).__name__}.backward")

    def call(self, inputs, training=None):
        """Keras's name. Where a layer defines ``forward``, ``call`` is an alias of calling it.
        A subclass may define ``call`` instead of forward/backward: it is traced (traced.py)."""
        return self(inputs, training=bool(training))

    call.framework_call = True

    def build_symbolic(self, tensors, multi):
        """Build for symbolic inputs and return the output shape (one call on symbolic tensors)."""
        if self._traced():
            self._ensure_traced_built([t.shape for t in tensors] if multi else tensors[0].shape)
            self._trace_for(tensors if multi else tensors[0], False)
            return self.output_shape
        if multi:
            shapes = [(None,) + tuple(t.shape)[1:] for t in tensors]
            if not hasattr(self, "min_inputs"):
                raise TypeError(f"{type(self).__name__} '{self.name}' takes one input, received a list of {len(tensors)}")
            if not self.built:
                self.check_input_shape(shapes)
                self.build(shapes)
        else:
            if hasattr(self, "min_inputs"):
                raise TypeError(f"{type(self).__name__} '{self.name}' expects a list of inputs, received one tensor")
            shape = (None,) + tuple(tensors[0].shape)[1:]
            if not self.built:
                self.check_input_shape(shape)
                self.build(shape)
            elif tuple(self.input_shape[1:]) != shape[1:]:
                raise ValueError(f"{type(self).__name__} '{self.name}': built for input shape "
                                 f"{shape_str(self.input_shape)}, received {shape_str(shape)}")
        return self.output_shape

    def _cache_state(self):
        """What one call left for its backward (swapped per node by the graph: shared layers)."""
        return self.cache, getattr(self, "_last_y_shape", None)

    def _set_cache_state(self, state):
        self.cache, self._last_y_shape = state

    @property
    def output(self):
        """The symbolic output of this layer's first call on symbolic tensors (Keras's ``layer.output``)."""
        if not self._nodes:
            raise AttributeError(f"{type(self).__name__} '{self.name}' has never been called on a symbolic input, "
                                 "so it has no output yet (build the model first)")
        outs = self._nodes[0].outputs
        return outs[0] if len(outs) == 1 else list(outs)

    @property
    def input(self):
        """The symbolic input(s) of this layer's first call on symbolic tensors."""
        if not self._nodes:
            raise AttributeError(f"{type(self).__name__} '{self.name}' has never been called on a symbolic input")
        ins = self._nodes[0].inbound
        return ins[0] if len(ins) == 1 else list(ins)

    # ------------------------------------------------------------------ hooks
    def register_forward_hook(self, fn):
        """``fn(layer, x, y)`` runs after every forward; returns a handle with ``remove()``."""
        self._forward_hooks.append(fn)
        return _HookHandle(self._forward_hooks, fn)

    def register_backward_hook(self, fn):
        """``fn(layer, dy, dx)`` runs after every backward; returns a handle with ``remove()``."""
        self._backward_hooks.append(fn)
        return _HookHandle(self._backward_hooks, fn)

    # ------------------------------------------------------------------ config / repr
    def get_config(self):
        cfg = {"name": self.name, "trainable": self.trainable}
        if self._declared_input_shape is not None:
            cfg["input_shape"] = list(self._declared_input_shape)
        return cfg

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        cfg = {k: v for k, v in self.get_config().items() if k not in ("name", "trainable")}
        args = ", ".join(f"{k}={v!r}" for k, v in cfg.items())
        built = f", built on {shape_str(self.input_shape)}" if self.built else ""
        return f"{type(self).__name__}({args}) '{self.name}'{built}"


def symbolic_input(x):
    """The first symbolic tensor in ``x`` (one tensor or a list of them), or None."""
    if getattr(x, "_is_symbolic", False):
        return x
    if isinstance(x, (list, tuple)):
        for item in x:
            if getattr(item, "_is_symbolic", False):
                return item
    return None


class _HookHandle:
    def __init__(self, hooks, fn):
        self._hooks, self._fn = hooks, fn

    def remove(self):
        if self._fn in self._hooks:
            self._hooks.remove(self._fn)
