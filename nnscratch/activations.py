"""Activation functions and their derivatives (stateless, elementwise or along one axis).

Each activation is a small object with

* ``__call__(x) -> y``: the forward function (``nn.activations.relu(x)`` works as in Keras);
* ``backward(dy, y) -> dx``: the chain rule through the activation, written **in terms of the
  output y** so that layers only need to cache their output.

Every derivative below can be expressed through the output:

====================  ===========================  ======================================
name                  forward y = f(x)             dL/dx given dy = dL/dy and y
====================  ===========================  ======================================
linear                x                            dy
relu                  max(x, 0)                    dy * (y > 0)        (0 at x = 0, as Keras)
sigmoid               1 / (1 + exp(-x))            dy * y * (1 - y)
tanh                  tanh(x)                      dy * (1 - y^2)
softmax               exp(x_i) / sum_j exp(x_j)    y * (dy - sum_j dy_j y_j)
leaky_relu            x if x > 0 else a*x          dy * (1 if y > 0 else a)
elu                   x if x > 0 else a(e^x - 1)   dy * (1 if y > 0 else y + a)
softplus              log(1 + e^x)                 dy * (1 - e^-y)     (= sigmoid(x))
====================  ===========================  ======================================
"""
from __future__ import annotations

from nnscratch import backend
from nnscratch.backend.result import as_result
from nnscratch.naming import lookup


class ActivationFunction:
    """Base class: a named forward function with an output-based derivative."""

    name = "linear"

    def __call__(self, x):
        return x

    def backward(self, dy, y):
        return dy

    def __repr__(self):
        return f"activations.{self.name}"

    def get_config(self):
        return self.name


class Linear(ActivationFunction):
    """Identity: y = x, dx = dy."""

    name = "linear"


class ReLU(ActivationFunction):
    """y = max(x, 0); dx = dy * (y > 0). The gradient at exactly 0 is 0, as in Keras."""

    name = "relu"

    def __call__(self, x):
        xp = backend.get_array_module(x)
        return xp.maximum(x, 0)

    def backward(self, dy, y):
        return dy * (y > 0)  # mask multiplies as a boolean, dtype stays dy's


class Sigmoid(ActivationFunction):
    """y = 1 / (1 + exp(-x)); dx = dy * y * (1 - y).

    Computed without overflow: for x < 0 it uses exp(x) / (1 + exp(x)), so exp never sees a
    large positive argument."""

    name = "sigmoid"

    def __call__(self, x):
        xp = backend.get_array_module(x)
        e = xp.exp(-xp.abs(x))  # in (0, 1]: no overflow for any x
        return xp.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype, copy=False)

    def backward(self, dy, y):
        return dy * y * (1 - y)


class Tanh(ActivationFunction):
    """y = tanh(x); dx = dy * (1 - y^2)."""

    name = "tanh"

    def __call__(self, x):
        xp = backend.get_array_module(x)
        return xp.tanh(x)

    def backward(self, dy, y):
        return dy * (1 - y * y)


class Softmax(ActivationFunction):
    """y_i = exp(x_i) / sum_j exp(x_j) along ``axis``; dx = y * (dy - sum_j dy_j y_j).

    The max is subtracted before exp (softmax is shift-invariant), so large logits never
    overflow."""

    name = "softmax"

    def __init__(self, axis=-1):
        self.axis = axis

    def __call__(self, x):
        xp = backend.get_array_module(x)
        z = x - x.max(axis=self.axis, keepdims=True)  # shift for exp overflow
        e = xp.exp(z)
        return e / e.sum(axis=self.axis, keepdims=True)

    def backward(self, dy, y):
        # Jacobian-vector product of softmax: J = diag(y) - y y^T
        return y * (dy - (dy * y).sum(axis=self.axis, keepdims=True))


class LeakyReLU(ActivationFunction):
    """y = x if x > 0 else negative_slope * x; dx = dy * (1 if y > 0 else negative_slope).

    The function's default negative_slope is 0.2, as ``keras.activations.leaky_relu`` (so
    ``activation='leaky_relu'`` matches Keras); the ``LeakyReLU`` *layer* defaults to 0.3 and
    passes its own slope. PyTorch uses 0.01. The gradient at 0 is the slope, as in Keras."""

    name = "leaky_relu"

    def __init__(self, negative_slope=0.2):
        self.negative_slope = float(negative_slope)

    def __call__(self, x):
        xp = backend.get_array_module(x)
        return xp.where(x > 0, x, x * x.dtype.type(self.negative_slope))

    def backward(self, dy, y):
        xp = backend.get_array_module(dy)
        return dy * xp.where(y > 0, 1, self.negative_slope).astype(dy.dtype, copy=False)


class ELU(ActivationFunction):
    """y = x if x > 0 else alpha * (exp(x) - 1); dx = dy * (1 if y > 0 else y + alpha)."""

    name = "elu"

    def __init__(self, alpha=1.0):
        self.alpha = float(alpha)

    def __call__(self, x):
        xp = backend.get_array_module(x)
        return xp.where(x > 0, x, self.alpha * xp.expm1(xp.minimum(x, 0))).astype(x.dtype, copy=False)

    def backward(self, dy, y):
        xp = backend.get_array_module(dy)
        return dy * xp.where(y > 0, 1, y + self.alpha).astype(dy.dtype, copy=False)


class Softplus(ActivationFunction):
    """y = log(1 + exp(x)) (computed as max(x,0) + log1p(exp(-|x|))); dx = dy * (1 - exp(-y))."""

    name = "softplus"

    def __call__(self, x):
        xp = backend.get_array_module(x)
        return xp.maximum(x, 0) + xp.log1p(xp.exp(-xp.abs(x)))

    def backward(self, dy, y):
        xp = backend.get_array_module(dy)
        return dy * -xp.expm1(-y)  # 1 - exp(-y) = sigmoid(x)


_REGISTRY = {
    "linear": Linear,
    "relu": ReLU,
    "sigmoid": Sigmoid,
    "tanh": Tanh,
    "softmax": Softmax,
    "leaky_relu": LeakyReLU,
    "elu": ELU,
    "softplus": Softplus,
}

class PublicActivation:
    """``nn.activations.relu(x)`` and friends, as in keras.activations: the activation called on
    an array returns a result that also answers ``.numpy()`` (TensorFlow's tutorials call
    ``tf.nn.softmax(logits).numpy()``); keyword arguments (``softmax(x, axis=0)``) make the
    activation with those arguments. Passed as ``activation=`` to a layer it is the activation
    itself. The layers use the ActivationFunction objects of ``get``, never these."""

    def __init__(self, fn):
        self.fn = fn
        self.name = fn.name
        self.__name__ = fn.name
        self.__doc__ = type(fn).__doc__

    def __call__(self, x, **kwargs):
        fn = type(self.fn)(**kwargs) if kwargs else self.fn
        return as_result(fn(x))

    def __getattr__(self, attr):  # .backward, .name, ... of the activation itself
        return getattr(self.fn, attr)

    def __repr__(self):
        return f"nn.activations.{self.name}"


# Module-level callables, as in keras.activations: nn.activations.relu(x)
linear = PublicActivation(Linear())
relu = PublicActivation(ReLU())
sigmoid = PublicActivation(Sigmoid())
tanh = PublicActivation(Tanh())
softmax = PublicActivation(Softmax())
leaky_relu = PublicActivation(LeakyReLU())
elu = PublicActivation(ELU())
softplus = PublicActivation(Softplus())


def get(identifier) -> ActivationFunction:
    """Look up an activation by name ('relu', 'softmax', ...), pass an ActivationFunction
    through, and map None to linear (Keras's ``activations.get``)."""
    if identifier is None:
        return Linear()
    if isinstance(identifier, ActivationFunction):
        return identifier
    if isinstance(identifier, PublicActivation):  # Dense(activation=nn.activations.relu)
        return identifier.fn
    if isinstance(identifier, str):
        return lookup("activation", _REGISTRY, identifier)()
    raise TypeError(f"activation must be a string, None or an ActivationFunction, received {identifier!r}")


def serialize(activation: ActivationFunction) -> str:
    return activation.name


def names():
    return sorted(_REGISTRY)
