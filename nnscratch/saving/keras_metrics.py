"""Compiled metrics in Keras's compile_config, both ways: names, built-in metric objects
(``{"module": "keras.metrics", "class_name": "AUC", ...}``) and nn.metrics functions."""
from __future__ import annotations

from nnscratch import metrics as metrics_mod
from nnscratch.saving.bounded import fail, need
from nnscratch.saving.keras_objects import check_object, keras_object as _obj


def metric_from_keras(m, path):
    """A metric name, or a built-in metric object ({"module": "keras.metrics", ...}) as nn.metrics."""
    if isinstance(m, str):
        return m
    if not isinstance(m, dict):
        raise fail(path, f"compile_config: a metric must be a name or a metric object, found {m!r}")
    class_name = check_object(m, path, "compile_config metric", ("keras.metrics", "keras.src.metrics"))
    if class_name not in metrics_mod.__all__ or not isinstance(getattr(metrics_mod, class_name), type):
        raise fail(path, f"compile_config: nnscratch has no metric {class_name!r}")
    try:
        return metrics_mod.deserialize({"class_name": class_name, "config": need(m, "config", dict, path, class_name)})
    except (TypeError, ValueError, KeyError) as exc:
        raise fail(path, f"compile_config: metric {class_name} not accepted ({exc})") from None


def metric_to_keras(m):
    """A compiled metric in Keras's compile_config: its string, a built-in metric object, or the
    name of an nn.metrics function; None for a user's own (it cannot be saved by name)."""
    if isinstance(m, str):
        return m
    if isinstance(m, metrics_mod.Metric) and type(m).__name__ in metrics_mod.__all__:
        return _obj("keras.metrics", type(m).__name__, m.get_config())
    name = getattr(m, "__name__", None)
    if name in metrics_mod.__all__ and getattr(metrics_mod, name) is m:
        return name
    return None
