"""One loss per output: ``compile(loss=[...] | {...}, loss_weights=...)`` (Keras 3's CompileLoss).

For a model with outputs y_1..y_K, the losses L_i (None: output i has no loss) and the weights
w_i (1.0 by default):

    total loss = sum_i w_i * L_i(y_true_i, y_pred_i)    (+ add_loss terms + regularization)
    dL/dy_pred_i = w_i * dL_i/dy_pred_i                 (None for an output without a loss:
                                                         the graph sends it no gradient)

``loss`` is a list (one per output, in output order), a dict by output name (an output left
out gets no loss, as the guide's "dict loss version" does; Keras 3.15 refuses such a dict at
fit), or one loss, used for every output (one copy each: a loss keeps its forward's cache).
``loss_weights`` is a number (every output), a list or a dict by output name (missing: 1.0).
Each output whose layer is a softmax (sigmoid) under a categorical (binary) cross-entropy, and
whose layer is called once and feeds nothing else, is fused: its loss is computed from the
logits and its backward starts at them (``from_logits`` per output, ``Graph.backward``).

The logs follow Keras 3: ``loss`` (the weighted total) and, when more than one output has a
loss, ``<output>_loss`` (that output's unweighted loss, batch-size-weighted over the epoch).
Targets (and sample weights) are a list in output order (or one per output with a loss), a
dict by output name, or, when a single output has a loss, one array.
"""
from __future__ import annotations

import copy

from nnscratch import backend
from nnscratch.metrics import Mean
from nnscratch.models.data_adapter import OutputSpec, as_array
from nnscratch.models.device import weights_dtype


def _fusable_layer(model, index):
    """The layer whose logits output ``index`` can be trained from, or None."""
    graph = getattr(model, "_graph", None)
    if graph is not None:
        return graph.outputs[index].node.fn if graph.is_leaf_output(index) else None
    if getattr(model, "_layers", None) is not None and model.layers:  # a Sequential stack
        return model.layers[-1]
    return None


def _fuses(layer, loss):
    act = getattr(layer, "activation", None)
    return (layer is not None and loss.fuses is not None and getattr(act, "name", None) == loss.fuses
            and getattr(layer, "_keep_logits", False) and getattr(act, "axis", -1) == -1)


class OutputLossTracker(Mean):
    """The ``<output>_loss`` log: the mean of output i's unweighted loss, weighted by batch size."""

    _direction = "down"  # a loss: EarlyStopping(mode='auto') minimises it

    def __init__(self, owner, index, name):
        super().__init__(name=name)
        self.owner, self.index = owner, index

    def update_state(self, y_true, y_pred, sample_weight=None):
        value = self.owner.last[self.index]
        n = (y_pred[self.index] if isinstance(y_pred, list) else y_pred).shape[0]
        self.total.assign_add(value * n)
        self.count.assign_add(float(n))


class OutputLosses:
    """The per-output losses and weights of a compiled model (see the module docstring)."""

    def __init__(self, model, loss, loss_weights, resolve):
        self.model = model
        self.multi = bool(getattr(model, "_multi_out", False))
        self.names = list(model.output_names) if getattr(model, "output_names", None) else [model.name]
        n = len(self.names)
        specs = self.by_output(loss, "loss", at_compile=True) if isinstance(loss, (dict, list, tuple)) else [loss] * n
        self.losses, seen = [], set()
        for spec in specs:
            made = None if spec is None else resolve(spec)
            if made is not None and id(made) in seen:
                made = copy.deepcopy(made)  # one instance per output: a loss caches its forward
            if made is not None:
                seen.add(id(made))
            self.losses.append(made)
        self.active = [i for i, f in enumerate(self.losses) if f is not None]
        self.weights = self._weights(loss_weights, loss)
        self.fused = [f is not None and _fuses(_fusable_layer(model, i), f) for i, f in enumerate(self.losses)]
        self.last = [None] * n  # the latest step's unweighted loss per output (0-d device arrays)

    # ------------------------------------------------------------------ structures
    def by_output(self, given, what, at_compile=False, fill=None):
        """``given`` as a list with one entry per output (``fill`` where a dict leaves one out)."""
        n, where = len(self.names), f"Model '{self.model.name}'"
        if isinstance(given, dict):
            unknown = [k for k in given if k not in self.names]
            if unknown:
                raise ValueError(f"{where}: {what} has key(s) {unknown} that are not output names; its outputs are "
                                 f"{self.names}, received keys {list(given)}")
            return [given.get(name, fill) for name in self.names]
        given = list(given)
        if len(given) == n:
            return given
        active = getattr(self, "active", None)
        if not at_compile and active is not None and len(given) == len(active):  # one per output with a loss
            out = [fill] * n
            for i, g in zip(active, given):
                out[i] = g
            return out
        wanted = f"{n}" + ("" if at_compile or active is None or len(active) == n else f" (or {len(active)}, one per "
                                                                                      "output with a loss)")
        raise ValueError(f"{where} has {n} outputs {self.names}: {what} must be a list of {wanted} in that order "
                         f"or a dict by output name, received a {type(given).__name__} of {len(given)}")

    def _weights(self, loss_weights, loss):
        n = len(self.names)
        if loss_weights is None:
            return [1.0] * n
        if isinstance(loss_weights, (int, float)) and not isinstance(loss_weights, bool):
            if isinstance(loss, (list, tuple, dict)) and n > 1:
                raise ValueError(f"Model '{self.model.name}': `loss_weights` must match the number of losses, got "
                                 f"{n} losses and the single weight {loss_weights!r}; pass a list or a dict by output name")
            return [float(loss_weights)] * n
        if not isinstance(loss_weights, (list, tuple, dict)):
            raise ValueError(f"Model '{self.model.name}': loss_weights must be a number, a list or a dict by output "
                             f"name, received {type(loss_weights).__name__}")
        weights = self.by_output(loss_weights, "loss_weights", at_compile=True, fill=1.0)
        try:
            return [float(w) for w in weights]
        except (TypeError, ValueError):
            raise ValueError(f"Model '{self.model.name}': loss_weights must be numbers, received {loss_weights!r}") from None

    def log_names(self):
        """Keras 3's per-output loss logs: only when more than one output has a loss."""
        return [f"{self.names[i]}_loss" for i in self.active] if len(self.active) > 1 else []

    def trackers(self):
        return [(name, OutputLossTracker(self, i, name), False) for name, i in zip(self.log_names(), self.active)]

    # ------------------------------------------------------------------ data
    def prepare_targets(self, y, n):
        """The targets as a list per output (device arrays; None where none was given), checked
        by each output's loss against that output's shape."""
        if backend.is_array(y) or not isinstance(y, (list, tuple, dict)):
            if len(self.names) > 1 and len(self.active) != 1:
                raise ValueError(f"Model '{self.model.name}' has {len(self.names)} outputs {self.names}: y must be a "
                                 f"list (in that order) or a dict by output name, received one array")
            ys = [None] * len(self.names)
            ys[self.active[0] if self.active else 0] = y
        else:
            ys = self.by_output(y, "y")
        out = []
        for i, (name, yi) in enumerate(zip(self.names, ys)):
            if yi is None:
                if self.losses[i] is not None:
                    raise ValueError(f"Model '{self.model.name}': no targets for output '{name}', which has a loss; "
                                     f"outputs {self.names}")
                out.append(None)
                continue
            yi = as_array(yi, f"y for output '{name}'")
            if yi.ndim == 0 or yi.shape[0] != n:
                raise ValueError(f"Model '{self.model.name}': x has {n} samples but the targets of output '{name}' "
                                 f"have {yi.shape[0] if yi.ndim else 0}; they must match")
            out.append(self._check(i, yi, n))
        return out if self.multi else out[0]

    def _check(self, i, yi, n):
        shape = self.model.output_shape[i] if self.multi else self.model.output_shape
        if self.losses[i] is None:
            return backend.to_device(yi)
        spec = OutputSpec((n,) + tuple(shape[1:]), weights_dtype(self.model))
        try:
            return self.losses[i].check_labels(yi, spec)
        except ValueError as e:
            raise ValueError(f"Model '{self.model.name}', output '{self.names[i]}' (shape {spec.shape}): {e}") from None

    def prepare_sample_weights(self, sw, check):
        """None, one array for every output, or a list per output; ``check(w, where)`` converts one."""
        if sw is None or backend.is_array(sw) or not isinstance(sw, (list, tuple, dict)) or not self.multi:
            return check(sw, "sample_weight")
        return [None if w is None else check(w, f"sample_weight for output '{name}'")
                for name, w in zip(self.names, self.by_output(sw, "sample_weight"))]

    # ------------------------------------------------------------------ one step
    def compute(self, y_pred, y, sample_weight=None):
        """(sum_i w_i L_i, per-output from_logits flags), remembering each L_i for the logs."""
        preds = y_pred if self.multi else [y_pred]
        ys = y if self.multi else [y]
        total = None
        for i in self.active:
            loss = self.losses[i]
            sw = sample_weight[i] if isinstance(sample_weight, list) else sample_weight
            with loss.weighted(sw):
                if self.fused[i]:  # from the logits behind the softmax/sigmoid (no clipping), as Keras
                    value = loss.forward_logits(_fusable_layer(self.model, i).logits, ys[i])
                else:
                    value = loss.forward(preds[i], ys[i])
            self.last[i] = value
            term = value if self.weights[i] == 1.0 else value * self.weights[i]
            total = term if total is None else total + term
        flags = list(self.fused) if self.multi else self.fused[0]
        return total, flags

    def gradients(self):
        """dL/dy_pred_i = w_i * dL_i/dy_pred_i (dL/dz_i when fused), None without a loss."""
        dys = [None] * len(self.names)
        for i in self.active:
            d = self.losses[i].backward()
            dys[i] = d if self.weights[i] == 1.0 else d * self.weights[i]
        return dys if self.multi else dys[0]

    def clear_stale_gradients(self):
        """An output without a loss sends no gradient back, so a layer that only it reaches would
        keep the gradient of an earlier step (an earlier compile): when some output has no loss,
        every gradient is zeroed before the backward pass (the others then overwrite theirs)."""
        if len(self.active) < len(self.names):
            for _, _, grad in self.model.parameters():
                grad[...] = 0
