"""Process-wide settings, in the spirit of ``keras.config``.

``set_check_numerics(True)`` (or the environment variable ``NNSCRATCH_CHECK_NUMERICS=1``)
makes fit, evaluate, predict and train_on_batch refuse inputs that contain NaN or Inf, with an
error naming the first offending sample. It is off by default because it reads every input
once more.
"""
from __future__ import annotations

import os

_settings = {"check_numerics": os.environ.get("NNSCRATCH_CHECK_NUMERICS", "") not in ("", "0", "false", "False")}


def set_check_numerics(enabled: bool) -> None:
    """Turn input checking for NaN/Inf on or off."""
    _settings["check_numerics"] = bool(enabled)


def check_numerics() -> bool:
    """Whether inputs are checked for NaN/Inf."""
    return _settings["check_numerics"]


def epsilon() -> float:
    """Keras's fuzz factor (1e-7), used by the losses' clipping."""
    return 1e-7


def image_data_format() -> str:
    """The default data_format of image layers: 'channels_last'."""
    return "channels_last"
