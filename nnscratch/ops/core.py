"""The op machinery behind ``nn.ops``: one ``Op`` object per operation, and ``apply``.

Every public function of ``nn.ops`` (``ops.add(x, y)``, ``ops.softmax(x)``...) is a thin
wrapper around ``apply(OP, *inputs, **attrs)``, where ``OP`` is an :class:`Op` holding two
plain functions written the way the layers are (CS231n's ``*_forward`` / ``*_backward`` pair
with a named cache):

* ``op.forward(*inputs, **attrs) -> (out, ctx)``: converts the inputs (Python numbers, lists,
  host or device arrays) to arrays with Keras's dtype rules, computes ``out`` (one array, or a
  tuple for ops with several outputs) and returns ``ctx``, a dict with what backward needs;
* ``op.backward(ctx, dy) -> tuple`` of one gradient per positional input, each with the shape
  of that input (broadcasting is undone by summing), ``None`` for an input that takes no
  gradient (integer or boolean inputs, indices, conditions). For an op with several outputs
  ``dy`` is a tuple with one entry per output; ``None`` entries mean "this output was unused".

``op.differentiable`` is False for ops without a gradient (argmax, equal, one_hot, floor,
stop_gradient...); a tracer treats their outputs as constants, and ``op.backward`` raises.
``op.n_outputs`` is 1, 2 (moments, top_k), or None when the inputs decide (split, unstack,
nonzero); ``out`` is a tuple whenever ``n_outputs != 1``. Ops are stateless: ``ctx`` belongs
to one call, so one Op object serves every node of a graph (unlike a layer's ``self.cache``).

A tracer therefore needs only: at trace time, the handler gets ``(op, inputs, attrs)`` and
returns symbolic output(s) (a tuple when ``n_outputs != 1``; ``output_spec`` gives their shapes
and dtypes); at run time, ``out, ctx = op.forward(*concrete_inputs, **attrs)`` per node, and in
reverse order ``grads = op.backward(ctx, dy)``, adding the gradients of a tensor used twice.
Composite functions (``ops/composite.py``: layer_normalization, tensordot...) call other ops,
so a tracer records their pieces and never needs a backward for them.

Symbolic tensors: ``apply`` looks for an input with ``_is_symbolic = True`` (duck-typed, so
this package never imports layers or models). If there is one, it calls the handler that the
layers package registered with ``set_symbolic_handler(fn)``: ``fn(op, inputs, attrs)``, with
``inputs`` the tuple of positional inputs as given (symbolic tensors and constants) and
``attrs`` the keyword dict; its return value is returned to the caller. ``output_spec`` helps
that handler find the shape and dtype of the output without any real data.

Eager results go through ``result.as_result`` so that they answer ``.numpy()``.
"""
from __future__ import annotations

from nnscratch import backend, config
from nnscratch.ops.result import as_result

_handler = {"fn": None}
REGISTRY = {}  # op name -> Op, filled as each Op is defined (a traced graph can be saved by names)
_HOST = backend.get_array_module()  # numpy: dtype logic is host-side on every backend


def as_dtype(dtype):
    """A NumPy dtype object from a name, a dtype or a Python type (host-side, any backend)."""
    return _HOST.dtype(dtype)


# ----------------------------------------------------------------------------- the op object
class Op:
    """One operation: a named forward/backward pair plus its dtype rule.

    Args:
        name: the ``nn.ops`` name (``"add"``).
        compute: ``compute(*arrays, **attrs) -> (out, ctx)`` on converted arrays.
        gradient: ``gradient(ctx, dy) -> tuple of grads`` or None (not differentiable).
        convert: how inputs become arrays: ``"promote"`` (one common Keras result dtype),
            ``"float"`` (common dtype, at least float: divide, sqrt, exp...), ``"each"``
            (each input on its own), or a callable ``convert(inputs) -> list of arrays``.
        n_outputs: number of outputs (``out`` is then a tuple); None for "decided by attrs".
        register: False for an Op made on the fly (not listed in ``REGISTRY``).
    """

    def __init__(self, name, compute, gradient=None, convert="promote", n_outputs=1, register=True):
        self.name = name
        self.compute = compute
        self.gradient = gradient
        self.convert = convert
        self.n_outputs = n_outputs
        self.differentiable = gradient is not None
        if not register:  # an Op made on the fly (a traced loss node) stays out of the registry
            return
        if name in REGISTRY:
            raise ValueError(f"ops/core.py: an Op named {name!r} is already registered")
        REGISTRY[name] = self

    def forward(self, *inputs, **attrs):
        """(out, ctx). ``ctx["shapes"]`` and ``ctx["dtypes"]`` record the converted inputs."""
        arrays = convert_inputs(inputs, self.convert)
        out, ctx = self.compute(*arrays, **attrs)
        ctx["shapes"] = [tuple(a.shape) for a in arrays]
        ctx["dtypes"] = [a.dtype for a in arrays]
        return out, ctx

    def backward(self, ctx, dy):
        """One gradient per positional input (None where the input takes none)."""
        if not self.differentiable:
            raise RuntimeError(f"ops.{self.name} is not differentiable: it has no backward (its output is a "
                               "constant for the gradient, as in Keras)")
        grads = tuple(self.gradient(ctx, dy))
        if len(grads) != len(ctx["shapes"]):
            raise RuntimeError(f"ops.{self.name}: backward returned {len(grads)} gradients for "
                               f"{len(ctx['shapes'])} inputs")
        return tuple(None if g is None or not is_float(dt) else g for g, dt in zip(grads, ctx["dtypes"]))

    def __repr__(self):
        return f"Op({self.name!r}, differentiable={self.differentiable})"


def get_op(name):
    """The Op registered under ``name`` (``get_op("add") is ops.arithmetic.ADD``)."""
    if name not in REGISTRY:
        raise ValueError(f"nn.ops: no op named {name!r}; known: {', '.join(sorted(REGISTRY))}")
    return REGISTRY[name]


def set_symbolic_handler(fn):
    """Register ``fn(op, inputs, attrs)``, called instead of computing when any input is
    symbolic (``getattr(a, '_is_symbolic', False)``). ``None`` unregisters. Returns the old one."""
    old, _handler["fn"] = _handler["fn"], fn
    return old


def is_symbolic(value) -> bool:
    return bool(getattr(value, "_is_symbolic", False))


def apply(op, *inputs, **attrs):
    """Run ``op`` eagerly (results answer ``.numpy()``), or hand it to the symbolic handler."""
    if any(is_symbolic(a) for a in inputs):
        if _handler["fn"] is None:
            raise TypeError(f"ops.{op.name} received a symbolic tensor, but no symbolic handler is registered "
                            "(import nnscratch.layers, which registers the tracer)")
        return _handler["fn"](op, inputs, attrs)
    out, _ = op.forward(*inputs, **attrs)
    if isinstance(out, tuple):
        return tuple(as_result(o) for o in out)
    return as_result(out)


# ----------------------------------------------------------------------------- dtypes (Keras's rules)
def dtype_name(dtype) -> str:
    return as_dtype(dtype).name


def is_float(dtype) -> bool:
    return as_dtype(dtype).kind == "f"


def result_type(*types):
    """Keras's (JAX-like) promotion: a float array wins over any int array (int64 + float32
    -> float32, where NumPy says float64); Python numbers are weak (float32 array + 2.0 ->
    float32; int32 array + 2.0 -> floatx; Python ints alone -> int32, floats -> floatx).
    ``types`` are dtypes or the Python types ``bool``, ``int``, ``float``."""
    xp = _HOST
    weak = [t for t in types if _is_python_type(t)]
    strong = [xp.dtype(t) for t in types if not _is_python_type(t)]
    floats = [d for d in strong if d.kind == "f"]
    if floats:
        return _promote(floats)
    if float in weak:
        return xp.dtype(backend.floatx())
    if strong:
        out = _promote(strong)
        return xp.dtype("int32") if out.kind == "b" and int in weak else out
    return xp.dtype("int32") if int in weak else xp.dtype("bool")


def _is_python_type(t):
    return t is bool or t is int or t is float  # identity: numpy.dtype('float64') == float is True


def _promote(dtypes):
    out = dtypes[0]
    for d in dtypes[1:]:
        out = _HOST.promote_types(out, d)
    return out


def _python_type(value):
    """bool/int/float for Python numbers and (nested) lists of them, else None."""
    if isinstance(value, bool):
        return bool
    if isinstance(value, int):
        return int
    if isinstance(value, float):
        return float
    if isinstance(value, (list, tuple)) and value and not any(backend.is_array(v) for v in value):
        kinds = {_python_type(v) for v in value}
        return float if float in kinds else int if int in kinds else bool if kinds == {bool} else None
    return None


def type_of(value):
    """The dtype of an array, or the Python type of a number/list (for ``result_type``)."""
    if backend.is_array(value) or hasattr(value, "dtype"):
        return value.dtype
    kind = _python_type(value)
    if kind is None:
        raise TypeError(f"nn.ops: cannot convert {type(value).__name__} to an array; received {value!r}")
    return kind


def target_module(values):
    """The array module results live in: the inputs' device if any is a device array, else
    the current backend (host inputs are moved there, as Keras's convert_to_tensor does)."""
    xp = backend.get_array_module(*[v for v in values if backend.is_array(v)])
    if xp.__name__ == "numpy" and backend.current() != "numpy":
        xp = backend.xp()
    return xp


def to_array(value, dtype=None, xp=None):
    """One input as an array of ``xp`` (default: the current backend), cast to ``dtype``."""
    xp = target_module([value]) if xp is None else xp
    if isinstance(value, (list, tuple)) and any(backend.is_array(v) for v in value):
        return xp.stack([to_array(v, dtype, xp) for v in value])
    if not backend.is_array(value):
        if dtype is None:
            dtype = result_type(type_of(value))
        value = backend.to_host(value).astype(dtype)
    if backend.get_array_module(value) is not xp:
        value = xp.asarray(backend.to_host(value))  # host -> the device of the other inputs
    if dtype is not None and value.dtype != as_dtype(dtype):
        value = value.astype(dtype)
    return value


def convert_inputs(inputs, rule):
    if callable(rule):
        return rule(inputs)
    xp = target_module(inputs)
    if rule == "each":
        return [to_array(v, None, xp) for v in inputs]
    types = [type_of(v) for v in inputs]
    dtype = result_type(*types, float) if rule == "float" else result_type(*types)
    return [to_array(v, dtype, xp) for v in inputs]


# ----------------------------------------------------------------------------- shared helpers
def unbroadcast(grad, shape):
    """Sum ``grad`` down to ``shape``: the adjoint of NumPy broadcasting."""
    shape = tuple(shape)
    if tuple(grad.shape) == shape:
        return grad
    extra = grad.ndim - len(shape)
    if extra > 0:
        grad = grad.sum(axis=tuple(range(extra)))  # leading axes that broadcasting added
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if axes:
        grad = grad.sum(axis=axes, keepdims=True)  # axes of length 1 that were stretched
    return grad.reshape(shape)


def normalize_axes(axis, ndim, name="axis"):
    """None -> all axes; int or sequence -> a sorted tuple of non-negative axes."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    out = []
    for a in axes:
        if not -ndim <= a < max(ndim, 1):
            raise ValueError(f"nn.ops: {name}={axis} is out of range for an input of rank {ndim}")
        out.append(a % ndim if ndim else 0)
    return tuple(sorted(out))


def expand_reduced(dy, x_shape, axes, keepdims):
    """Put the reduced axes back into ``dy`` (length 1) so that it broadcasts against x."""
    if not keepdims:
        for a in axes:
            dy = dy.reshape(dy.shape[:a] + (1,) + dy.shape[a:])
    return dy


def epsilon():
    return config.epsilon()


def output_spec(op, inputs, attrs):
    """Shape(s) and dtype(s) of ``op``'s output for symbolic inputs, without real data.

    Symbolic inputs need ``.shape`` (a tuple; ``None`` for an unknown size, e.g. the batch) and
    ``.dtype``. The op runs twice on host arrays of ones, with unknown sizes set to 2 and then
    to 3; output sizes that differ between the two runs are reported as None. Returns
    ``(shape, dtype_name)``, or a tuple of them for ops with several outputs."""
    runs = []
    for probe in (2, 3):
        with backend.backend_scope("numpy"):
            concrete = [_probe_array(a, probe) if is_symbolic(a) else _host_constant(a) for a in inputs]
            out, _ = op.forward(*concrete, **attrs)
        runs.append(out if isinstance(out, tuple) else (out,))
    specs = []
    for a, b in zip(*runs):
        shape = tuple(n if n == m else None for n, m in zip(a.shape, b.shape))
        specs.append((shape, a.dtype.name))
    return tuple(specs) if len(specs) > 1 or op.n_outputs != 1 else specs[0]


def _probe_array(sym, probe):
    shape = tuple(probe if n is None else n for n in sym.shape)
    ones = backend.host_zeros(shape, sym.dtype)
    ones[...] = 1  # ones, not zeros: log, divide and sqrt stay finite
    return ones


def _host_constant(value):
    return backend.to_host(value) if backend.is_array(value) else value
