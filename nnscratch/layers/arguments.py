"""Argument normalisation shared by the layers: ints, tuples, padding and data_format (Keras's helpers)."""
from __future__ import annotations

import numbers

from nnscratch import config


def as_int(value, floats=True):
    """``value`` as a Python int if it is an integral number (int, NumPy integer, or, with
    ``floats``, an integral float such as 8.0, which Keras accepts in some places), else None.
    Booleans are not numbers here."""
    if isinstance(value, bool) or (hasattr(value, "dtype") and getattr(value.dtype, "kind", "") == "b"):
        return None
    if isinstance(value, numbers.Integral):
        return int(value)
    if floats and isinstance(value, numbers.Real) and float(value).is_integer():
        return int(value)
    return None


def positive_int(value, what, floats=True):
    """``value`` as a positive Python int, or a ValueError naming ``what`` (``floats=False``:
    8.0 is refused too, where Keras refuses it)."""
    v = as_int(value, floats)
    if v is None or v <= 0:
        raise ValueError(f"{what} must be a positive integer, received {value!r}")
    return v


def non_negative_int(value, what, floats=True):
    """``value`` as a Python int >= 0, or a ValueError naming ``what``."""
    v = as_int(value, floats)
    if v is None or v < 0:
        raise ValueError(f"{what} must be a non-negative integer, received {value!r}")
    return v


def int_dims(shape):
    """A shape with its NumPy-integer dimensions as Python ints (None and the rest unchanged)."""
    return tuple(d if as_int(d, floats=False) is None else as_int(d, floats=False) for d in shape)


def standardize_tuple(value, n: int, arg: str, allow_zero: bool = False):
    """3 -> (3, 3); (2, 3) -> (2, 3); validates positive integers (Keras's helper). NumPy
    integers count as integers."""
    if as_int(value) is not None and not isinstance(value, float):
        value = (as_int(value),) * n
    try:
        value = tuple(value)
    except TypeError:
        raise TypeError(f"{arg} must be an int or a tuple of {n} ints, received {value!r}") from None
    if len(value) != n or not all(as_int(v) is not None and not isinstance(v, float) for v in value):
        raise ValueError(f"{arg} must be an int or a tuple of {n} ints, received {value!r}")
    value = tuple(as_int(v) for v in value)
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
    """None -> ``config.image_data_format()`` ('channels_last', as Keras)."""
    if data_format is None:
        return config.image_data_format()
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
