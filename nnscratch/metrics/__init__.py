"""Metrics with Keras 3's names and stateful interface (``update_state``/``result``/``reset_state``).

``base.py``: Metric (for user subclasses, with ``add_variable``/``add_weight``), Mean, Sum,
MeanMetricWrapper. ``accuracy_metrics.py``: the accuracy and regression functions (per-sample values)
and their classes. ``confusion.py``: Precision, Recall, AUC.

In ``compile(metrics=[...])`` each entry becomes a Metric (``get_metric``), named as Keras names
it in History: a string keeps the string ('acc' stays 'acc'), an instance its ``name``, a
function its snake_case ``__name__``. What 'accuracy' means is decided by the shapes, as in
Keras: y_pred's last axis 1 -> BinaryAccuracy; y_true of lower rank, or y_true's last axis 1
while y_pred's is not -> SparseCategoricalAccuracy; otherwise CategoricalAccuracy.
State stays on the device; the trainer reads ``result()`` at the epoch's end.
"""
from __future__ import annotations

from nnscratch.metrics.accuracy_metrics import (MAE, MSE, Accuracy, BinaryAccuracy, CategoricalAccuracy, MeanAbsoluteError,
                                        MeanSquaredError, SparseCategoricalAccuracy, SparseTopKCategoricalAccuracy,
                                        TopKCategoricalAccuracy, accuracy, binary_accuracy, categorical_accuracy,
                                        mae, mean_absolute_error, mean_squared_error, mse,
                                        sparse_categorical_accuracy, sparse_top_k_categorical_accuracy,
                                        top_k_categorical_accuracy)
from nnscratch.metrics.base import Mean, MeanMetricWrapper, Metric, MetricVariable, Sum, unwrap
from nnscratch.metrics.confusion import AUC, Precision, Recall
from nnscratch.naming import snake_case

_CLASSES = [Accuracy, BinaryAccuracy, CategoricalAccuracy, SparseCategoricalAccuracy, TopKCategoricalAccuracy,
            SparseTopKCategoricalAccuracy, MeanSquaredError, MeanAbsoluteError, Precision, Recall, AUC, Mean, Sum]
_BY_NAME = {cls.__name__: cls for cls in _CLASSES}
_BY_NAME.update({snake_case(cls.__name__): cls for cls in _CLASSES})
_BY_NAME.update({"auc": AUC, "mse": MeanSquaredError, "MSE": MeanSquaredError, "mae": MeanAbsoluteError,
                 "MAE": MeanAbsoluteError, "mean_squared_error": MeanSquaredError,
                 "mean_absolute_error": MeanAbsoluteError, "sparse_top_k_categorical_accuracy":
                 SparseTopKCategoricalAccuracy, "top_k_categorical_accuracy": TopKCategoricalAccuracy})


def resolve_accuracy(y_true_shape, y_pred_shape):
    """Keras's choice of accuracy class from the shapes (see the module docstring)."""
    if y_pred_shape[-1] == 1:
        return BinaryAccuracy
    if len(y_true_shape) < len(y_pred_shape) or (y_true_shape[-1] == 1 and y_pred_shape[-1] != 1):
        return SparseCategoricalAccuracy
    return CategoricalAccuracy


def get(identifier):
    """A Metric instance (or class, for a name) from a name, class, instance or function."""
    if isinstance(identifier, Metric):
        return identifier
    if isinstance(identifier, type) and issubclass(identifier, Metric):
        return identifier()
    if isinstance(identifier, str):
        if identifier.lower() in ("accuracy", "acc"):
            return Accuracy(name=identifier)
        cls = _BY_NAME.get(identifier) or _BY_NAME.get(identifier.lower())
        if cls is None:
            raise ValueError(f"unknown metric {identifier!r}; valid metrics: accuracy, acc, "
                             f"{', '.join(sorted(k for k in _BY_NAME if k.islower()))}")
        return cls()
    if callable(identifier):
        return MeanMetricWrapper(identifier, name=snake_case(getattr(identifier, "__name__", "metric")))
    raise TypeError(f"metrics must be strings, functions or nn.metrics.Metric instances, received {identifier!r}")


def get_metric(identifier, y_true_shape, y_pred_shape):
    """The Metric that compile uses for ``identifier``, named as Keras names it in History."""
    if isinstance(identifier, str) and identifier.lower() in ("accuracy", "acc"):
        return resolve_accuracy(y_true_shape, y_pred_shape)(name=identifier)
    metric = get(identifier)
    if isinstance(identifier, str):
        metric.name = identifier
    return metric


def serialize(metric):
    return {"class_name": type(metric).__name__, "config": metric.get_config()}


def deserialize(config, custom_objects=None):
    table = dict(_BY_NAME, **(custom_objects or {}))
    return table[config["class_name"]].from_config(dict(config["config"]))


__all__ = ["Metric", "Mean", "Sum", "MeanMetricWrapper", "MetricVariable", "Accuracy", "BinaryAccuracy",
           "CategoricalAccuracy", "SparseCategoricalAccuracy", "TopKCategoricalAccuracy",
           "SparseTopKCategoricalAccuracy", "MeanSquaredError", "MeanAbsoluteError", "Precision", "Recall", "AUC",
           "accuracy", "binary_accuracy", "categorical_accuracy", "sparse_categorical_accuracy",
           "top_k_categorical_accuracy", "sparse_top_k_categorical_accuracy", "mean_squared_error",
           "mean_absolute_error", "mse", "mae", "get", "get_metric", "resolve_accuracy", "unwrap"]
