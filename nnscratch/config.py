"""Process-wide settings, in the spirit of ``keras.config``.

``set_check_numerics(True)`` (or the environment variable ``NNSCRATCH_CHECK_NUMERICS=1``)
makes fit, evaluate, predict and train_on_batch refuse inputs that contain NaN or Inf, with an
error naming the first offending sample. It is off by default because it reads every input
once more.
"""
from __future__ import annotations

import os

_settings = {"check_numerics": os.environ.get("NNSCRATCH_CHECK_NUMERICS", "") not in ("", "0", "false", "False"),
             "epsilon": 1e-7, "image_data_format": "channels_last"}


def set_check_numerics(enabled: bool) -> None:
    """Turn input checking for NaN/Inf on or off."""
    _settings["check_numerics"] = bool(enabled)


def check_numerics() -> bool:
    """Whether inputs are checked for NaN/Inf."""
    return _settings["check_numerics"]


def epsilon() -> float:
    """Keras's fuzz factor (1e-7 by default), used by the losses' clipping: the one source of it."""
    return _settings["epsilon"]


def set_epsilon(value: float) -> None:
    """Set the fuzz factor (``keras.config.set_epsilon``); it must be a positive number below 0.5."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < 0.5:
        raise ValueError(f"set_epsilon: expected a number in (0, 0.5), received {value!r}")
    _settings["epsilon"] = float(value)


def image_data_format() -> str:
    """The default data_format of image layers when a layer is given none: 'channels_last'
    unless changed with ``set_image_data_format`` (Keras's rule)."""
    return _settings["image_data_format"]


def set_image_data_format(data_format: str) -> None:
    """'channels_last' or 'channels_first' (``keras.config.set_image_data_format``)."""
    if data_format not in ("channels_last", "channels_first"):
        raise ValueError("set_image_data_format: expected 'channels_last' or 'channels_first', "
                         f"received {data_format!r}")
    _settings["image_data_format"] = data_format
