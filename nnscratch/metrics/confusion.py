"""Precision, Recall and AUC: confusion counts at thresholds, accumulated on the device.

Every prediction p (flattened over all outputs) counts as positive at threshold t when p > t:

    TP_t += sum w [p > t][y = 1]      FP_t += sum w [p > t][y = 0]
    FN_t += sum w [p <= t][y = 1]     TN_t += sum w [p <= t][y = 0]

Precision = TP / (TP + FP), Recall = TP / (TP + FN) (0 where the denominator is 0). AUC uses
Keras's thresholds: 0 - eps, (i+1)/(num_thresholds-1) for i < num_thresholds-2, 1 + eps, and
sums over the curve's segments with Keras's 'interpolation' (trapezoids; for PR the
Davis & Goadrich interpolation), 'minoring' or 'majoring' heights.
"""
from __future__ import annotations

from nnscratch import backend, config
from nnscratch.metrics.base import Metric, divide_no_nan


class _ConfusionCounts(Metric):
    """TP/FP/TN/FN counts at ``self.thresholds`` (a list of floats)."""

    def _make_counts(self, thresholds):
        self.thresholds = list(thresholds)
        n = len(self.thresholds)
        self.true_positives = self.add_variable((n,), name="true_positives")
        self.false_positives = self.add_variable((n,), name="false_positives")
        self.true_negatives = self.add_variable((n,), name="true_negatives")
        self.false_negatives = self.add_variable((n,), name="false_negatives")

    def _prepare(self, y_true, y_pred):
        y_true, y_pred = backend.to_device(y_true), backend.to_device(y_pred)
        if tuple(y_true.shape) != tuple(y_pred.shape):
            if y_true.size != y_pred.size:
                raise ValueError(f"{type(self).__name__}: labels of shape {tuple(y_true.shape)} do not fit predictions"
                                 f" of shape {tuple(y_pred.shape)}; it needs 0/1 labels of the predictions' shape")
            y_true = y_true.reshape(y_pred.shape)
        return y_true, y_pred

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true, y_pred = self._prepare(y_true, y_pred)
        if getattr(self, "class_id", None) is not None:
            y_true, y_pred = y_true[..., self.class_id], y_pred[..., self.class_id]
        xp = backend.get_array_module(y_pred)
        p = y_pred.reshape(-1).astype(self.dtype)
        pos = (y_true.reshape(-1) > 0.5).astype(self.dtype)
        if sample_weight is None:
            w = xp.ones_like(p)
        else:
            w = backend.to_device(sample_weight).astype(self.dtype)
            w = xp.broadcast_to(w.reshape(w.shape + (1,) * (y_pred.ndim - w.ndim)), y_pred.shape).reshape(-1)
        t = backend.to_device(self.thresholds, dtype=self.dtype)
        above = (p[None, :] > t[:, None]).astype(self.dtype)  # (T, M)
        self.true_positives.assign_add((above * (pos * w)).sum(axis=1))
        self.false_positives.assign_add((above * ((1 - pos) * w)).sum(axis=1))
        self.false_negatives.assign_add(((1 - above) * (pos * w)).sum(axis=1))
        self.true_negatives.assign_add(((1 - above) * ((1 - pos) * w)).sum(axis=1))


class Precision(_ConfusionCounts):
    """TP / (TP + FP) at ``thresholds`` (default 0.5; a list gives one value per threshold)."""

    def __init__(self, thresholds=None, top_k=None, class_id=None, name=None, dtype=None):
        super().__init__(name=name, dtype=dtype)
        if top_k is not None:
            raise ValueError(f"{type(self).__name__}: top_k is not supported, received top_k={top_k!r}")
        self.class_id, self._single = class_id, thresholds is None or isinstance(thresholds, (int, float))
        self.init_thresholds = thresholds
        self._make_counts([0.5] if thresholds is None else ([thresholds] if self._single else thresholds))

    def _value(self, xp):
        return divide_no_nan(xp, self.true_positives.value, self.true_positives.value + self.false_positives.value)

    def result(self):
        value = self._value(backend.get_array_module(self.true_positives.value))
        return value[0] if self._single else value

    def get_config(self):
        return {**super().get_config(), "thresholds": self.init_thresholds, "top_k": None, "class_id": self.class_id}


class Recall(Precision):
    """TP / (TP + FN) at ``thresholds`` (default 0.5)."""

    def _value(self, xp):
        return divide_no_nan(xp, self.true_positives.value, self.true_positives.value + self.false_negatives.value)


class AUC(_ConfusionCounts):
    """Area under the ROC (default) or PR curve, Keras's approximation over ``num_thresholds``."""

    def __init__(self, num_thresholds=200, curve="ROC", summation_method="interpolation", name=None, dtype=None,
                 thresholds=None, multi_label=False, num_labels=None, label_weights=None, from_logits=False):
        super().__init__(name=name, dtype=dtype)
        curve, summation_method = str(curve).upper(), str(summation_method).lower()
        if curve not in ("ROC", "PR"):
            raise ValueError(f"AUC: curve must be 'ROC' or 'PR', received {curve!r}")
        if summation_method not in ("interpolation", "minoring", "majoring"):
            raise ValueError(f"AUC: summation_method must be 'interpolation', 'minoring' or 'majoring', "
                             f"received {summation_method!r}")
        if multi_label or label_weights is not None or num_labels is not None:
            raise ValueError("AUC: multi_label, num_labels and label_weights are not supported")
        if thresholds is not None:
            inner = sorted(float(t) for t in thresholds)
            self.num_thresholds = len(inner) + 2
        else:
            if int(num_thresholds) <= 1:
                raise ValueError(f"AUC: num_thresholds must be an integer > 1, received {num_thresholds!r}")
            self.num_thresholds = int(num_thresholds)
            inner = [(i + 1) * 1.0 / (self.num_thresholds - 1) for i in range(self.num_thresholds - 2)]
        eps = config.epsilon()
        self.curve, self.summation_method, self.from_logits = curve, summation_method, bool(from_logits)
        self._init_thresholds = thresholds
        self._make_counts([0.0 - eps] + inner + [1.0 + eps])

    def update_state(self, y_true, y_pred, sample_weight=None):
        if self.from_logits:
            xp = backend.get_array_module(backend.to_device(y_pred))
            y_pred = 1.0 / (1.0 + xp.exp(-backend.to_device(y_pred)))
        super().update_state(y_true, y_pred, sample_weight)

    def result(self):
        tp, fp = self.true_positives.value, self.false_positives.value
        tn, fn = self.true_negatives.value, self.false_negatives.value
        xp = backend.get_array_module(tp)
        if self.curve == "PR" and self.summation_method == "interpolation":
            return self._interpolate_pr_auc(xp, tp, fp, fn)
        recall = divide_no_nan(xp, tp, tp + fn)
        if self.curve == "ROC":
            x, y = divide_no_nan(xp, fp, fp + tn), recall
        else:
            x, y = recall, divide_no_nan(xp, tp, tp + fp)
        if self.summation_method == "interpolation":
            heights = (y[:-1] + y[1:]) / 2.0
        elif self.summation_method == "minoring":
            heights = xp.minimum(y[:-1], y[1:])
        else:
            heights = xp.maximum(y[:-1], y[1:])
        return ((x[:-1] - x[1:]) * heights).sum()

    def _interpolate_pr_auc(self, xp, tp, fp, fn):
        """Davis & Goadrich's interpolation of the PR curve (Keras's interpolate_pr_auc)."""
        dtp = tp[:-1] - tp[1:]
        p = tp + fp
        dp = p[:-1] - p[1:]
        slope = divide_no_nan(xp, dtp, xp.maximum(dp, 0))
        intercept = tp[1:] - slope * p[1:]
        both = (p[:-1] > 0) & (p[1:] > 0)
        ratio = xp.where(both, divide_no_nan(xp, p[:-1], xp.maximum(p[1:], 0)), 1.0)
        ratio = xp.where(ratio > 0, ratio, 1.0)
        increment = divide_no_nan(xp, slope * (dtp + intercept * xp.log(ratio)), xp.maximum(tp[1:] + fn[1:], 0))
        return increment.sum()

    def get_config(self):
        return {**super().get_config(), "num_thresholds": self.num_thresholds, "curve": self.curve,
                "summation_method": self.summation_method, "thresholds": self._init_thresholds,
                "from_logits": self.from_logits}
