"""``nn.ops``: Keras 3's ``keras.ops`` on nnscratch's arrays, each op with a hand-written backward.

On arrays (NumPy, CuPy or the emulated device) every function computes eagerly and returns an
array that also answers ``.numpy()`` (``ops/result.py``). On symbolic tensors it hands the op
to the tracer that the layers package registers (``core.set_symbolic_handler``). Each op is an
``core.Op`` with ``forward(*inputs, **attrs) -> (out, ctx)`` and ``backward(ctx, dy) -> grads``;
see ``ops/core.py`` for the protocol, and ``OPERATORS`` below for Python's operators.

Modules: core (machinery), result (.numpy()), arithmetic, elementwise, transcendental,
reductions, nn, losses, reshaping, indexing, scatter, linalg, creation, composite (ops made of ops).
"""
from nnscratch.ops import core, result
from nnscratch.ops.arithmetic import (add, divide, dot, matmul, maximum, minimum, multiply, power, subtract,
                                      true_divide)
from nnscratch.ops.composite import (allclose, average, batch_normalization, copy, count_nonzero, divide_no_nan,
                                     empty_like, hstack, in_top_k, isclose, layer_normalization, multi_hot,
                                     rms_normalization, vstack)
from nnscratch.ops.core import Op, set_symbolic_handler
from nnscratch.ops.creation import (arange, convert_to_numpy, convert_to_tensor, dtype, empty, equal, eye,
                                    floor_divide, full, full_like, greater, greater_equal, identity, is_tensor,
                                    isfinite, isinf, isnan, less, less_equal, linspace, logical_and, logical_not,
                                    logical_or, logical_xor, mod, ndim, not_equal, ones, ones_like, shape, size,
                                    stop_gradient, zeros, zeros_like)
from nnscratch.ops.elementwise import (abs, absolute, cast, ceil, clip, cos, exp, expm1, floor, log, log1p,
                                       negative, reciprocal, round, sign, sin, sqrt, square, trunc)
from nnscratch.ops.indexing import argsort, get_item, nonzero, sort, take, take_along_axis, top_k, where
from nnscratch.ops.linalg import einsum, outer, pad, roll, tensordot, tril, triu
from nnscratch.ops.losses import binary_crossentropy, categorical_crossentropy, sparse_categorical_crossentropy
from nnscratch.ops.nn import (elu, gelu, leaky_relu, log_sigmoid, log_softmax, moments, normalize, one_hot, relu,
                              relu6, selu, sigmoid, silu, softmax, softplus, softsign, swish, tanh)
from nnscratch.ops.reductions import (all, amax, amin, any, argmax, argmin, cumprod, cumsum, logsumexp, max, mean,
                                      min, norm, prod, std, sum, var)
from nnscratch.ops.result import as_result
from nnscratch.ops.scattering import (diagonal, nan_to_num, scatter, scatter_update, slice, slice_update,
                                   trace)
from nnscratch.ops.transcendental import (arccos, arccosh, arcsin, arcsinh, arctan, arctanh, celu, cosh, exp2,
                                          hard_sigmoid, hard_silu, hard_swish, hard_tanh, log2, log10, logaddexp,
                                          rsqrt, sinh, squareplus, tan, tanh_shrink)
from nnscratch.ops.reshaping import (broadcast_to, concatenate, expand_dims, flip, moveaxis, ravel, repeat, reshape,
                                 split, squeeze, stack, swapaxes, tile, transpose, unstack)


fabs = abs


def _reflected(fn):
    def reflected(self, other):
        return fn(other, self)

    reflected.__name__ = f"r{fn.__name__}"
    return reflected


# Python operator -> the nn.ops function that implements it, for symbolic tensors:
# ``SymbolicTensor.__add__ = OPERATORS["__add__"]`` (called as method(self, other)). The class
# should also set ``__array_ufunc__ = None`` so that ``numpy_array + t`` and ``w @ t`` defer to
# its reflected methods instead of NumPy trying to convert t.
OPERATORS = {
    "__add__": add, "__radd__": _reflected(add),
    "__sub__": subtract, "__rsub__": _reflected(subtract),
    "__mul__": multiply, "__rmul__": _reflected(multiply),
    "__truediv__": divide, "__rtruediv__": _reflected(divide),
    "__floordiv__": floor_divide, "__rfloordiv__": _reflected(floor_divide),
    "__mod__": mod, "__rmod__": _reflected(mod),
    "__pow__": power, "__rpow__": _reflected(power),
    "__matmul__": matmul, "__rmatmul__": _reflected(matmul),
    "__neg__": negative, "__abs__": abs, "__invert__": logical_not,
    "__and__": logical_and, "__rand__": _reflected(logical_and),
    "__or__": logical_or, "__ror__": _reflected(logical_or),
    "__xor__": logical_xor, "__rxor__": _reflected(logical_xor),
    "__lt__": less, "__le__": less_equal, "__gt__": greater, "__ge__": greater_equal,
    "__eq__": equal, "__ne__": not_equal,  # a tracer that defines these must also set __hash__
    "__getitem__": get_item,
}

__all__ = [  # written out, so that documentation tools read it without running the module
    'OPERATORS', 'abs', 'absolute', 'add', 'all', 'allclose', 'amax', 'amin', 'any', 'arange',
    'arccos', 'arccosh', 'arcsin', 'arcsinh', 'arctan', 'arctanh', 'argmax', 'argmin', 'argsort',
    'as_result', 'average', 'batch_normalization', 'binary_crossentropy', 'broadcast_to', 'cast',
    'categorical_crossentropy', 'ceil', 'celu', 'clip', 'concatenate', 'convert_to_numpy',
    'convert_to_tensor', 'copy', 'cos', 'cosh', 'count_nonzero', 'cumprod', 'cumsum', 'diagonal',
    'divide', 'divide_no_nan', 'dot', 'dtype', 'einsum', 'elu', 'empty', 'empty_like', 'equal',
    'exp', 'exp2', 'expand_dims', 'expm1', 'eye', 'fabs', 'flip', 'floor', 'floor_divide', 'full',
    'full_like', 'gelu', 'get_item', 'greater', 'greater_equal', 'hard_sigmoid', 'hard_silu',
    'hard_swish', 'hard_tanh', 'hstack', 'identity', 'in_top_k', 'is_tensor', 'isclose', 'isfinite',
    'isinf', 'isnan', 'layer_normalization', 'leaky_relu', 'less', 'less_equal', 'linspace', 'log',
    'log10', 'log1p', 'log2', 'log_sigmoid', 'log_softmax', 'logaddexp', 'logical_and',
    'logical_not', 'logical_or', 'logical_xor', 'logsumexp', 'matmul', 'max', 'maximum', 'mean',
    'min', 'minimum', 'mod', 'moments', 'moveaxis', 'multi_hot', 'multiply', 'nan_to_num', 'ndim',
    'negative', 'nonzero', 'norm', 'normalize', 'not_equal', 'one_hot', 'ones', 'ones_like',
    'outer', 'pad', 'power', 'prod', 'ravel', 'reciprocal', 'relu', 'relu6', 'repeat', 'reshape',
    'rms_normalization', 'roll', 'round', 'rsqrt', 'scatter', 'scatter_update', 'selu',
    'set_symbolic_handler', 'shape', 'sigmoid', 'sign', 'silu', 'sin', 'sinh', 'size', 'slice',
    'slice_update', 'softmax', 'softplus', 'softsign', 'sort', 'sparse_categorical_crossentropy',
    'split', 'sqrt', 'square', 'squareplus', 'squeeze', 'stack', 'std', 'stop_gradient', 'subtract',
    'sum', 'swapaxes', 'swish', 'take', 'take_along_axis', 'tan', 'tanh', 'tanh_shrink',
    'tensordot', 'tile', 'top_k', 'trace', 'transpose', 'tril', 'triu', 'true_divide', 'trunc',
    'unstack', 'var', 'vstack', 'where', 'zeros', 'zeros_like',
]
