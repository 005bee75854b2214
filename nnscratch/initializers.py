"""Weight initializers with Keras's names, arguments and formulas.

All random draws come from a host ``numpy.random.Generator`` (``backend.rng``) and are then
moved to the device, so a seed gives the same weights on NumPy and on CuPy.

Fans (Keras ``compute_fans``): for a Dense kernel (in, out), fan_in = in, fan_out = out; for a
Conv2D kernel (KH, KW, C_in, C_out), fan_in = KH*KW*C_in and fan_out = KH*KW*C_out.
"""
from __future__ import annotations

import contextlib

import math

from nnscratch.naming import lookup
from nnscratch import backend


def compute_fans(shape):
    """(fan_in, fan_out) of a weight shape, Keras's rule."""
    shape = tuple(shape)
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    if len(shape) == 2:
        return shape[0], shape[1]
    receptive = 1
    for d in shape[:-2]:
        receptive *= d
    return shape[-2] * receptive, shape[-1] * receptive


class Initializer:
    """Base class. ``init(shape, dtype=None)`` returns a device array."""

    def __call__(self, shape, dtype=None):
        dtype = dtype or backend.floatx()
        return backend.to_device(self.sample(tuple(shape)), dtype=dtype)

    def sample(self, shape):  # host float64 array
        raise NotImplementedError

    def get_config(self):
        return {}

    def __repr__(self):
        return f"{type(self).__name__}({self.get_config()})"


class Zeros(Initializer):
    def sample(self, shape):
        return backend.host_zeros(shape)


class Ones(Initializer):
    def sample(self, shape):
        return backend.host_zeros(shape) + 1.0


class Constant(Initializer):
    def __init__(self, value=0.0):
        self.value = float(value)

    def sample(self, shape):
        return backend.host_zeros(shape) + self.value

    def get_config(self):
        return {"value": self.value}


class RandomUniform(Initializer):
    """U(minval, maxval)."""

    def __init__(self, minval=-0.05, maxval=0.05, seed=None):
        self.minval, self.maxval, self.seed = float(minval), float(maxval), seed

    def sample(self, shape):
        return backend.rng(self.seed).uniform(self.minval, self.maxval, size=shape)

    def get_config(self):
        return {"minval": self.minval, "maxval": self.maxval, "seed": self.seed}


class RandomNormal(Initializer):
    """N(mean, stddev^2)."""

    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        self.mean, self.stddev, self.seed = float(mean), float(stddev), seed

    def sample(self, shape):
        return backend.rng(self.seed).normal(self.mean, self.stddev, size=shape)

    def get_config(self):
        return {"mean": self.mean, "stddev": self.stddev, "seed": self.seed}


def _truncated_normal(gen, stddev, shape):
    """Normal(0, stddev) re-drawn outside two standard deviations (Keras's truncated normal)."""
    out = gen.normal(0.0, stddev, size=shape)
    bad = abs(out) > 2 * stddev
    while bad.any():
        out[bad] = gen.normal(0.0, stddev, size=int(bad.sum()))
        bad = abs(out) > 2 * stddev
    return out


class VarianceScaling(Initializer):
    """Keras's VarianceScaling: the family behind Glorot, He and LeCun.

    n = fan_in, fan_out or (fan_in + fan_out) / 2 (``mode``); variance = scale / n.
    'uniform': U(-L, L) with L = sqrt(3 * variance);
    'truncated_normal': truncated N(0, s) with s = sqrt(variance) / 0.87962566
    (the std of a unit normal truncated at +-2)."""

    def __init__(self, scale=1.0, mode="fan_in", distribution="truncated_normal", seed=None):
        if mode not in ("fan_in", "fan_out", "fan_avg"):
            raise ValueError(f"mode must be 'fan_in', 'fan_out' or 'fan_avg', received {mode!r}")
        if distribution not in ("uniform", "truncated_normal", "untruncated_normal"):
            raise ValueError(f"unknown distribution {distribution!r}")
        self.scale, self.mode, self.distribution, self.seed = float(scale), mode, distribution, seed

    def sample(self, shape):
        fan_in, fan_out = compute_fans(shape)
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[self.mode]
        variance = self.scale / max(1.0, n)
        gen = backend.rng(self.seed)
        if self.distribution == "uniform":
            limit = math.sqrt(3.0 * variance)
            return gen.uniform(-limit, limit, size=shape)
        if self.distribution == "untruncated_normal":
            return gen.normal(0.0, math.sqrt(variance), size=shape)
        return _truncated_normal(gen, math.sqrt(variance) / 0.87962566103423978, shape)

    def get_config(self):
        return {"seed": self.seed}


class GlorotUniform(VarianceScaling):
    """U(-L, L), L = sqrt(6 / (fan_in + fan_out)). Keras's default kernel initializer."""

    def __init__(self, seed=None):
        super().__init__(1.0, "fan_avg", "uniform", seed)


class GlorotNormal(VarianceScaling):
    """Truncated normal, stddev = sqrt(2 / (fan_in + fan_out)) / 0.8796."""

    def __init__(self, seed=None):
        super().__init__(1.0, "fan_avg", "truncated_normal", seed)


class HeNormal(VarianceScaling):
    """Truncated normal, stddev = sqrt(2 / fan_in) / 0.8796."""

    def __init__(self, seed=None):
        super().__init__(2.0, "fan_in", "truncated_normal", seed)


class HeUniform(VarianceScaling):
    """U(-L, L), L = sqrt(6 / fan_in)."""

    def __init__(self, seed=None):
        super().__init__(2.0, "fan_in", "uniform", seed)


class LecunNormal(VarianceScaling):
    def __init__(self, seed=None):
        super().__init__(1.0, "fan_in", "truncated_normal", seed)


class LecunUniform(VarianceScaling):
    def __init__(self, seed=None):
        super().__init__(1.0, "fan_in", "uniform", seed)


_REGISTRY = {
    "zeros": Zeros,
    "ones": Ones,
    "constant": Constant,
    "random_uniform": RandomUniform,
    "random_normal": RandomNormal,
    "glorot_uniform": GlorotUniform,
    "glorot_normal": GlorotNormal,
    "he_normal": HeNormal,
    "he_uniform": HeUniform,
    "lecun_normal": LecunNormal,
    "lecun_uniform": LecunUniform,
}
_CLASS_NAMES = {cls.__name__: key for key, cls in _REGISTRY.items()}


_BUDGET = []  # [remaining floats, what is being loaded] while a file's model is being built


@contextlib.contextmanager
def weight_budget(max_floats, what):
    """Within the block, creating parameters of more than ``max_floats`` values in all raises
    ValueError naming ``what`` before the array is allocated: a loader builds a model from a
    file's config under the budget its weights member allows, so a 1 KB config cannot make
    nnscratch allocate gigabytes."""
    _BUDGET.append([int(max_floats), what])
    try:
        yield
    finally:
        _BUDGET.pop()


def charge(shape):
    """Count a new parameter of ``shape`` against the innermost ``weight_budget`` (if any)."""
    if not _BUDGET:
        return
    n = 1
    for d in shape:
        n *= int(d)
    _BUDGET[-1][0] -= n
    if _BUDGET[-1][0] < 0:
        raise ValueError(f"{_BUDGET[-1][1]}: the config describes more weights than the file holds "
                         f"(a parameter of shape {tuple(shape)} goes past them); refused before allocating")


def get(identifier) -> Initializer:
    """Look up an initializer by Keras name ('glorot_uniform', 'he_normal', 'zeros', ...) or
    class name ('GlorotUniform'), or pass an Initializer through."""
    if isinstance(identifier, Initializer):
        return identifier
    if isinstance(identifier, str):
        return lookup("initializer", _REGISTRY, _CLASS_NAMES.get(identifier, identifier))()
    if callable(identifier):
        return _Callable(identifier)
    raise TypeError(f"initializer must be a string or an Initializer, received {identifier!r}")


class _Callable(Initializer):
    """Wraps a user function ``f(shape, dtype) -> array``."""

    def __init__(self, fn):
        self.fn = fn

    def __call__(self, shape, dtype=None):
        dtype = dtype or backend.floatx()
        return backend.to_device(backend.to_host(self.fn(tuple(shape), dtype)), dtype=dtype)


def serialize(init: Initializer):
    for key, cls in _REGISTRY.items():
        if type(init) is cls:
            cfg = init.get_config()
            return key if not any(v is not None for v in cfg.values()) else {"class_name": key, "config": cfg}
    return None
