"""Weight regularizers with Keras 3's names and defaults, each with its gradient.

    L1(l1=0.01):          R(w) = l1 * sum |w|            dR/dw = l1 * sign(w)
    L2(l2=0.01):          R(w) = l2 * sum w^2            dR/dw = 2 * l2 * w   (no 1/2 factor, as Keras)
    L1L2(l1=0.0, l2=0.0): R(w) = l1 * sum |w| + l2 * sum w^2

In fit the penalty of every ``kernel_regularizer``/``bias_regularizer`` is added to the loss,
NOT divided by the batch size (Keras: total = loss + sum(layer.losses)), and its gradient is
added to the layer's gradient after backward (``nnscratch.models.penalties``).
"""
from __future__ import annotations

from nnscratch import backend
from nnscratch.naming import lookup


def _float_arg(where, name, value):
    if value is None:
        return 0.0
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value or value < 0:
        raise ValueError(f"{where}: {name} must be a non-negative number, received {value!r}")
    return float(value)


class Regularizer:
    """Base: ``reg(w)`` is the penalty (0-d array), ``reg.gradient(w)`` is dR/dw."""

    def __call__(self, x):
        return 0.0

    def gradient(self, x):
        return backend.get_array_module(x).zeros_like(x)

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self.get_config().items())})"


class L1L2(Regularizer):
    """l1 * sum|w| + l2 * sum w^2 (Keras's defaults here: l1=0.0, l2=0.0)."""

    def __init__(self, l1=0.0, l2=0.0):
        self.l1 = _float_arg(type(self).__name__, "l1", l1)
        self.l2 = _float_arg(type(self).__name__, "l2", l2)

    def __call__(self, x):
        xp = backend.get_array_module(x)
        penalty = 0.0
        if self.l1:
            penalty = penalty + self.l1 * xp.abs(x).sum()
        if self.l2:
            penalty = penalty + self.l2 * (x * x).sum()
        return penalty

    def gradient(self, x):
        xp = backend.get_array_module(x)
        grad = xp.zeros_like(x)
        if self.l1:
            grad = grad + self.l1 * xp.sign(x)
        if self.l2:
            grad = grad + (2.0 * self.l2) * x
        return grad

    def get_config(self):
        return {"l1": self.l1, "l2": self.l2}


class L1(L1L2):
    """l1 * sum |w| (default l1=0.01)."""

    def __init__(self, l1=0.01):
        super().__init__(l1=0.01 if l1 is None else l1)

    def get_config(self):
        return {"l1": self.l1}


class L2(L1L2):
    """l2 * sum w^2 (default l2=0.01)."""

    def __init__(self, l2=0.01):
        super().__init__(l2=0.01 if l2 is None else l2)

    def get_config(self):
        return {"l2": self.l2}


l1, l2, l1_l2 = L1, L2, L1L2
_BY_NAME = {"l1": L1, "l2": L2, "l1_l2": L1L2, "l1l2": L1L2, "L1": L1, "L2": L2, "L1L2": L1L2}


def get(identifier):
    """None, a Regularizer, a name ('l1', 'l2', 'l1_l2') or a config dict -> a Regularizer (or None)."""
    if identifier is None or isinstance(identifier, Regularizer):
        return identifier
    if isinstance(identifier, str):
        return lookup("regularizer", _BY_NAME, identifier)()
    if isinstance(identifier, dict) and "class_name" in identifier:
        return lookup("regularizer", _BY_NAME, identifier["class_name"]).from_config(identifier.get("config", {}))
    raise TypeError(f"regularizer must be None, a name ('l1', 'l2', 'l1_l2') or an nn.regularizers.Regularizer, "
                    f"received {identifier!r}")


def serialize(reg):
    return None if reg is None else {"class_name": type(reg).__name__, "config": reg.get_config()}
