"""Merge layers: combine several tensors into one (Add, Subtract, Multiply, Average, Maximum,
Minimum, Concatenate), and their functional forms (``nn.layers.add([a, b])``, ...).

They take a *list* of inputs, so they only make sense in functional models:

    a = nn.layers.Dense(8)(x)
    b = nn.layers.Dense(8)(x)
    y = nn.layers.Add()([a, b])

``backward(dy)`` returns a *list* of input gradients, one per input, in input order. The
functional model adds each one to the gradient of the tensor that fed that input.
"""
from __future__ import annotations

from nnscratch import backend
from nnscratch.layers.base import Layer, as_int, shape_str, symbolic_input


class _Merge(Layer):
    """Shared plumbing: list inputs, shape checks, ``layer([a, b], training)`` on arrays."""

    #: smallest / largest number of inputs
    min_inputs, max_inputs = 2, None

    def _check_list(self, shapes):
        kind = f"{type(self).__name__} '{self.name}'"
        if not isinstance(shapes, (list, tuple)) or len(shapes) < self.min_inputs:
            raise ValueError(f"{kind}: expected a list of at least {self.min_inputs} inputs, received {shapes!r}")
        if self.max_inputs is not None and len(shapes) > self.max_inputs:
            raise ValueError(f"{kind}: expected exactly {self.max_inputs} inputs, received {len(shapes)}")

    def check_input_shape(self, input_shapes):
        self._check_list(input_shapes)
        first = tuple(input_shapes[0])[1:]
        for s in input_shapes[1:]:
            if tuple(s)[1:] != first:
                raise ValueError(
                    f"{type(self).__name__} '{self.name}': all inputs must have the same shape, received "
                    + ", ".join(shape_str(tuple(t)) for t in input_shapes)
                )

    def build(self, input_shapes):
        self.input_shape = [(None,) + tuple(s)[1:] for s in input_shapes]
        self.output_shape = tuple(self.compute_output_shape(self.input_shape))
        self.built = True

    def compute_output_shape(self, input_shapes):
        return tuple(input_shapes[0])

    def __call__(self, inputs, training=False):
        symbolic = symbolic_input(inputs)
        if symbolic is not None:  # functional API: records a node of the graph
            return symbolic.record_call(self, list(inputs) if isinstance(inputs, (list, tuple)) else inputs)
        if not isinstance(inputs, (list, tuple)) or not all(backend.is_array(a) for a in inputs):
            raise TypeError(f"{type(self).__name__} '{self.name}': expected a list of arrays, received {type(inputs).__name__}")
        shapes = [(None,) + tuple(a.shape)[1:] for a in inputs]
        if not self.built:
            self.check_input_shape(shapes)
            self.build(shapes)
        elif [tuple(s) for s in shapes] != [tuple(s) for s in self.input_shape]:
            raise ValueError(
                f"{type(self).__name__} '{self.name}': expected input shapes "
                f"{', '.join(shape_str(s) for s in self.input_shape)}, received {', '.join(shape_str(s) for s in shapes)}"
            )
        y = self.forward(list(inputs), training=training)
        self._last_y_shape = y.shape
        for hook in self._forward_hooks:
            hook(self, inputs, y)
        return y


class Add(_Merge):
    """Elementwise sum of the inputs.

    Math:
        forward:   y = x_1 + x_2 + ... + x_k
        backward:  dx_i = dy for every i (the same array object: nothing mutates it)
    Input shape: a list of k >= 2 arrays of the same shape. Output shape: that shape.
    Cache: k (the number of inputs).
    """

    def forward(self, inputs, training=False):
        y = inputs[0] + inputs[1]  # a fresh array, so the in-place adds below touch no input
        for x in inputs[2:]:
            y += x
        self.cache = {"k": len(inputs)}
        return y

    def backward(self, dy):
        return [dy for _ in range(self.cache["k"])]


class Subtract(_Merge):
    """Elementwise difference of exactly two inputs.

    Math:
        forward:   y = x_1 - x_2
        backward:  dx_1 = dy, dx_2 = -dy
    Input shape: a list of 2 arrays of the same shape. Output shape: that shape.
    Cache: none needed.
    """

    max_inputs = 2

    def forward(self, inputs, training=False):
        self.cache = {"k": 2}
        return inputs[0] - inputs[1]

    def backward(self, dy):
        return [dy, -dy]


class Average(_Merge):
    """Elementwise mean of the inputs.

    Math:
        forward:   y = (x_1 + ... + x_k) / k
        backward:  dx_i = dy / k
    Input shape: a list of k >= 2 arrays of the same shape. Output shape: that shape.
    Cache: k.
    """

    def forward(self, inputs, training=False):
        y = inputs[0] + inputs[1]
        for x in inputs[2:]:
            y += x
        k = len(inputs)
        self.cache = {"k": k}
        return y / k

    def backward(self, dy):
        k = self.cache["k"]
        dx = dy / k
        return [dx for _ in range(k)]


class Multiply(_Merge):
    """Elementwise product of the inputs.

    Math:
        forward:   y = x_1 * x_2 * ... * x_k
        backward:  dx_i = dy * prod_{j != i} x_j   (product rule; no division by x_i, so zeros are fine)
    Input shape: a list of k >= 2 arrays of the same shape. Output shape: that shape.
    Cache: the inputs (references).
    """

    def forward(self, inputs, training=False):
        y = inputs[0] * inputs[1]
        for x in inputs[2:]:
            y = y * x
        self.cache = {"inputs": list(inputs)}
        return y

    def backward(self, dy):
        xs = self.cache["inputs"]
        grads = []
        for i in range(len(xs)):
            g = dy
            for j, x in enumerate(xs):
                if j != i:
                    g = g * x  # dL/dx_i = dL/dy * prod of the other factors
            grads.append(g)
        return grads


class Maximum(_Merge):
    """Elementwise maximum of the inputs.

    Math:
        forward:   y = max(x_1, ..., x_k)       (computed as max(max(x_1, x_2), x_3) ..., as Keras)
        backward:  dx_i = dy where x_i is the maximum, else 0; a tie goes to the earliest input
                   (the gradient of maximum(a, b) flows to a where a >= b, as in TensorFlow)
    Input shape: a list of k >= 2 arrays of the same shape. Output shape: that shape.
    Cache: the inputs and the output (references).
    """

    pick = "maximum"

    def forward(self, inputs, training=False):
        xp = backend.get_array_module(inputs[0])
        combine = xp.maximum if self.pick == "maximum" else xp.minimum
        y = inputs[0]
        for x in inputs[1:]:
            y = combine(y, x)
        self.cache = {"inputs": list(inputs), "y": y}
        return y

    def backward(self, dy):
        xs, y = self.cache["inputs"], self.cache["y"]
        taken = None  # positions already given to an earlier input (ties)
        grads = []
        for x in xs:
            wins = x == y
            if taken is not None:
                wins = wins & ~taken
            grads.append(dy * wins)  # dL/dx_i = dL/dy where x_i is the one picked
            taken = wins if taken is None else taken | wins
        return grads


class Minimum(Maximum):
    """Elementwise minimum of the inputs.

    Math:
        forward:   y = min(x_1, ..., x_k)       (min(min(x_1, x_2), x_3) ..., as Keras)
        backward:  dx_i = dy where x_i is the minimum, else 0; a tie goes to the earliest input
    Input shape: a list of k >= 2 arrays of the same shape. Output shape: that shape.
    Cache: the inputs and the output (references).
    """

    pick = "minimum"


class Concatenate(_Merge):
    """Join the inputs along ``axis`` (default -1, the features/channels axis).

    Math:
        forward:   y = concat([x_1, ..., x_k], axis)
        backward:  dx_i = the slice of dy that x_i filled: split dy at the cumulative sizes
    Args: axis: int, not the batch axis (0).
    Input shape: arrays equal in every axis but ``axis``. Output shape: sizes summed on ``axis``.
    Cache: sizes (each input's extent on ``axis``).
    """

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        if as_int(axis, floats=False) is None:  # NumPy ints too; not -1.0 (Keras fails on it)
            raise TypeError(f"Concatenate '{self.name}': axis must be an int, received {axis!r}")
        self.axis = as_int(axis)

    def _norm_axis(self, rank):
        axis = self.axis + rank if self.axis < 0 else self.axis
        if not 1 <= axis < rank:
            raise ValueError(f"Concatenate '{self.name}': axis {self.axis} is invalid for inputs of rank {rank} "
                             "(the batch axis 0 cannot be concatenated)")
        return axis

    def check_input_shapes_equal_except_axis(self, input_shapes):
        rank = len(input_shapes[0])
        axis = self._norm_axis(rank)
        for s in input_shapes:
            if len(s) != rank or any(a != b for k, (a, b) in enumerate(zip(s, input_shapes[0])) if k not in (0, axis)):
                raise ValueError(
                    f"Concatenate '{self.name}': inputs must match in every axis but axis={self.axis}, received "
                    + ", ".join(shape_str(tuple(t)) for t in input_shapes)
                )

    def check_input_shape(self, input_shapes):
        self._check_list(input_shapes)
        self.check_input_shapes_equal_except_axis([tuple(s) for s in input_shapes])

    def compute_output_shape(self, input_shapes):
        axis = self._norm_axis(len(input_shapes[0]))
        out = list(input_shapes[0])
        sizes = [s[axis] for s in input_shapes]
        out[axis] = None if any(d is None for d in sizes) else sum(sizes)
        return tuple(out)

    def forward(self, inputs, training=False):
        xp = backend.get_array_module(inputs[0])
        axis = self._norm_axis(inputs[0].ndim)
        self.cache = {"sizes": [x.shape[axis] for x in inputs], "axis": axis}
        return xp.concatenate(inputs, axis=axis)

    def backward(self, dy):
        axis, sizes = self.cache["axis"], self.cache["sizes"]
        grads, start = [], 0
        for size in sizes:
            index = [slice(None)] * dy.ndim
            index[axis] = slice(start, start + size)
            grads.append(dy[tuple(index)])  # a view of dy; nothing writes into it
            start += size
        return grads

    def get_config(self):
        cfg = super().get_config()
        cfg["axis"] = self.axis
        return cfg


def _functional(cls, inputs, **kwargs):
    return cls(**kwargs)(inputs)


def add(inputs, **kwargs):
    """Functional form of Add: ``nn.layers.add([a, b])`` (Keras's ``keras.layers.add``)."""
    return _functional(Add, inputs, **kwargs)


def subtract(inputs, **kwargs):
    """Functional form of Subtract."""
    return _functional(Subtract, inputs, **kwargs)


def multiply(inputs, **kwargs):
    """Functional form of Multiply."""
    return _functional(Multiply, inputs, **kwargs)


def average(inputs, **kwargs):
    """Functional form of Average."""
    return _functional(Average, inputs, **kwargs)


def maximum(inputs, **kwargs):
    """Functional form of Maximum."""
    return _functional(Maximum, inputs, **kwargs)


def minimum(inputs, **kwargs):
    """Functional form of Minimum."""
    return _functional(Minimum, inputs, **kwargs)


def concatenate(inputs, axis=-1, **kwargs):
    """Functional form of Concatenate: ``nn.layers.concatenate([a, b], axis=-1)``."""
    return _functional(Concatenate, inputs, axis=axis, **kwargs)
