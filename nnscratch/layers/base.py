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

import functools
import re
from collections import defaultdict

from nnscratch import backend, initializers

_NAME_COUNTS: dict = defaultdict(int)


def snake_case(name: str) -> str:
    """'MaxPooling2D' -> 'max_pooling2d', 'Dense' -> 'dense' (Keras's auto-naming rule)."""
    s = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", s).lower()


def unique_name(prefix: str) -> str:
    """Per-process unique names: dense, dense_1, dense_2, ... (as Keras)."""
    n = _NAME_COUNTS[prefix]
    _NAME_COUNTS[prefix] += 1
    return prefix if n == 0 else f"{prefix}_{n}"


def standardize_tuple(value, n: int, arg: str, allow_zero: bool = False):
    """3 -> (3, 3); (2, 3) -> (2, 3); validates positive integers (Keras's helper)."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = (value,) * n
    try:
        value = tuple(value)
    except TypeError:
        raise TypeError(f"{arg} must be an int or a tuple of {n} ints, received {value!r}") from None
    if len(value) != n or not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        raise ValueError(f"{arg} must be an int or a tuple of {n} ints, received {value!r}")
    lowest = 0 if allow_zero else 1
    if any(v < lowest for v in value):
        raise ValueError(f"{arg} must be {'non-negative' if allow_zero else 'positive'}, received {value!r}")
    return value


def standardize_padding(padding, where="") -> str:
    """'VALID' -> 'valid'; anything but 'valid'/'same' is a ValueError (``where`` names the layer)."""
    p = str(padding).lower()
    if p not in ("valid", "same"):
        raise ValueError(f"{where + ': ' if where else ''}padding must be one of 'valid', 'same', received {padding!r}")
    return p


def standardize_data_format(data_format, where="") -> str:
    """None -> 'channels_last' (Keras's image_data_format default)."""
    if data_format is None:
        return "channels_last"
    df = str(data_format).lower()
    if df not in ("channels_last", "channels_first"):
        raise ValueError(
            f"{where + ': ' if where else ''}data_format must be one of 'channels_last', 'channels_first', "
            f"received {data_format!r}"
        )
    return df


def named_lookup(where, getter, identifier):
    """``getter(identifier)`` (e.g. activations.get) with the layer named in its error."""
    try:
        return getter(identifier)
    except (ValueError, TypeError) as exc:
        raise type(exc)(f"{where}: {exc}") from None


def shape_str(shape) -> str:
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


def _requires_forward(backward):
    """Wrap a subclass's ``backward`` so that calling it before any ``forward`` raises a clear
    RuntimeError (the layer contract) instead of a KeyError from the empty cache."""

    @functools.wraps(backward)
    def checked_backward(self, dy):
        if not self.cache:
            raise RuntimeError(f"{type(self).__name__} '{self.name}': backward() called before forward()")
        return backward(self, dy)

    return checked_backward


class Layer:
    """Base class of every layer. Subclasses override ``build``, ``compute_output_shape``,
    ``forward`` and ``backward`` (and ``get_config`` for their own arguments)."""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "backward" in cls.__dict__:  # each layer's own backward gets the before-forward check
            cls.backward = _requires_forward(cls.__dict__["backward"])

    #: rank of the input including the batch axis, or None if any rank is accepted
    input_ndim = None
    need_input_grad = True

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
        self._declared_input_shape = tuple(input_shape) if input_shape is not None else None
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
        self._inbound = []  # functional-API bookkeeping

    # ------------------------------------------------------------------ building
    def add_param(self, name, shape, initializer="zeros", trainable=True):
        """Create a parameter (and, if trainable, its gradient buffer) with ``initializer``."""
        init = initializers.get(initializer)
        value = init(tuple(shape), dtype=self.dtype or backend.floatx())
        if trainable:
            self.params[name] = value
            self.grads[name] = backend.get_array_module(value).zeros_like(value)
        else:
            self.state[name] = value
        self._weight_names.append((name, trainable))
        return value

    def build(self, input_shape):
        """Create parameters for inputs of ``input_shape`` (batch axis included, as None)."""
        self.input_shape = tuple(input_shape)
        self.output_shape = tuple(self.compute_output_shape(self.input_shape))
        self.built = True

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
    def __call__(self, x, training=False):
        if getattr(x, "_is_symbolic", False):  # functional API: nn.Input(...) -> layer(tensor)
            from nnscratch.models.functional import call_symbolic

            return call_symbolic(self, x)
        if not backend.is_array(x):
            raise TypeError(f"{type(self).__name__} '{self.name}': expected an array, received {type(x).__name__}")
        x = backend.to_device(x)  # a host array joins the weights' device, as Keras converts inputs (no-op on numpy)
        self._ensure_built(x.shape)
        y = self.forward(x, training=training)
        self._last_y_shape = y.shape
        for hook in self._forward_hooks:
            hook(self, x, y)
        return y

    def call_backward(self, dy):
        """Checked ``backward``: verifies the cache and dy's shape, runs backward hooks."""
        if not self.cache:
            raise RuntimeError(f"{type(self).__name__} '{self.name}': backward() called before forward()")
        out_shape = getattr(self, "_last_y_shape", None)
        if out_shape is not None and tuple(dy.shape) != tuple(out_shape):
            raise ValueError(
                f"{type(self).__name__} '{self.name}': dy must have the output's shape {tuple(out_shape)}, "
                f"received {tuple(dy.shape)}"
            )
        dx = self.backward(dy)
        for hook in self._backward_hooks:
            hook(self, dy, dx)
        return dx

    def forward(self, x, training=False):
        raise NotImplementedError(f"{type(self).__name__}.forward")

    def backward(self, dy):
        raise NotImplementedError(f"{type(self).__name__}.backward")

    # ------------------------------------------------------------------ hooks
    def register_forward_hook(self, fn):
        """``fn(layer, x, y)`` runs after every forward; returns a handle with ``remove()``."""
        self._forward_hooks.append(fn)
        return _HookHandle(self._forward_hooks, fn)

    def register_backward_hook(self, fn):
        """``fn(layer, dy, dx)`` runs after every backward; returns a handle with ``remove()``."""
        self._backward_hooks.append(fn)
        return _HookHandle(self._backward_hooks, fn)

    # ------------------------------------------------------------------ weights
    def _weight_array(self, name, trainable):
        return self.params[name] if trainable else self.state[name]

    @property
    def weights(self):
        return [self._weight_array(n, t) for n, t in self._ordered_weight_names()]

    def _ordered_weight_names(self):
        trainable = [(n, t) for n, t in self._weight_names if t]
        frozen = [(n, t) for n, t in self._weight_names if not t]
        return trainable + frozen

    @property
    def weight_names(self):
        return [n for n, _ in self._ordered_weight_names()]

    def get_weights(self):
        """Host copies of the weights in Keras order (kernel, bias, ...)."""
        return [backend.to_host(w).copy() for w in self.weights]

    def set_weights(self, weights):
        """Copy a list of arrays (Keras order) into the weights, in place. Shapes must match."""
        names = self._ordered_weight_names()
        weights = list(weights)
        if len(weights) != len(names):
            raise ValueError(
                f"{type(self).__name__} '{self.name}': expected {len(names)} weight arrays "
                f"({', '.join(n for n, _ in names)}), received {len(weights)}"
            )
        for (name, trainable), value in zip(names, weights):
            target = self._weight_array(name, trainable)
            value = backend.to_host(value) if not backend.is_array(value) else value
            if tuple(value.shape) != tuple(target.shape):
                raise ValueError(
                    f"{type(self).__name__} '{self.name}': weight '{name}' has shape {tuple(target.shape)}, "
                    f"received {tuple(value.shape)}"
                )
        for (name, trainable), value in zip(names, weights):
            target = self._weight_array(name, trainable)
            target[...] = backend.to_device(backend.to_host(value), dtype=target.dtype)

    def count_params(self) -> int:
        total = 0
        for w in self.weights:
            n = 1
            for d in w.shape:
                n *= d
            total += n
        return total

    def count_trainable_params(self) -> int:
        total = 0
        for w in self.params.values():
            n = 1
            for d in w.shape:
                n *= d
            total += n
        return total

    def cast_params(self, dtype):
        """Cast parameters, gradients and state to ``dtype`` (e.g. float64 for gradient checks)."""
        for d in (self.params, self.grads, self.state):
            for k in d:
                d[k] = d[k].astype(dtype)

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


class _HookHandle:
    def __init__(self, hooks, fn):
        self._hooks, self._fn = hooks, fn

    def remove(self):
        if self._fn in self._hooks:
            self._hooks.remove(self._fn)
