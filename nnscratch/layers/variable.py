"""``Variable``: what ``add_weight`` returns, a named handle on a layer's parameter that nn.ops
and Python operators accept (eagerly its value; inside a traced ``call`` a node's input)."""
from __future__ import annotations

from nnscratch import backend, ops
from nnscratch.ops import core as ops_core
from nnscratch.layers.symbolic import _TRACING, _UFUNCS, _ufunc_on_symbolic, no_backward, shape_str


class Variable:
    """A layer weight made by ``add_weight``: a named handle on ``layer.params[name]`` (or
    ``layer.state[name]`` when not trainable), so that traced code reads the current array
    and its gradient lands in ``layer.grads[name]``. Operators and nn.ops accept it; eagerly
    they use its value, ``numpy()`` gives a host copy, ``assign(value)`` writes in place."""

    _is_variable = True  # recognised by the tracer (symbolic.py) without importing this module
    _is_symbolic = True  # nn.ops hands it to record_op, which reads its value (or traces it)

    def __init__(self, layer, name, trainable):
        self.layer, self.name, self.trainable = layer, name, trainable

    @property
    def value(self):
        return self.layer.params[self.name] if self.trainable else self.layer.state[self.name]

    @property
    def shape(self):
        return tuple(self.value.shape)

    @property
    def dtype(self):
        return ops_core.dtype_name(self.value.dtype)

    @property
    def path(self):
        return f"{self.layer.name}/{self.name}"

    def numpy(self):
        return backend.to_host(self.value).copy()

    def assign(self, value):
        target = self.value
        target[...] = backend.to_device(backend.to_host(value), dtype=target.dtype)

    def __array__(self, dtype=None, copy=None):
        if _TRACING:  # a host copy inside call() would be a constant: its gradient would be lost
            raise no_backward("numpy.asarray (or another NumPy conversion)", self)
        host = backend.to_host(self.value)
        return host.astype(dtype) if dtype is not None else host

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        if _TRACING or ufunc.__name__ in _UFUNCS:
            return _ufunc_on_symbolic(self, ufunc, method, inputs, kwargs)
        values = [a.value if isinstance(a, Variable) else a for a in inputs]
        return getattr(ufunc, method)(*values, **kwargs)  # eager NumPy on the weight's value

    __hash__ = object.__hash__

    def __repr__(self):
        return f"<Variable '{self.path}' shape={shape_str(self.shape)} trainable={self.trainable}>"


for _name, _fn in ops.OPERATORS.items():
    if _name not in ("__eq__", "__ne__"):
        setattr(Variable, _name, _fn)
