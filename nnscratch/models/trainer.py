"""Training and inference loops: fit / evaluate / predict / train_on_batch (Keras's Trainer).

One training step (``train_step``) reads like the textbook:

    y_pred = model.forward(x, training=True)          # every layer caches what it needs
    loss   = loss_fn.forward(y_pred, y)               # 0-d array, stays on the device
           + sum of the regularizers' penalties       # (penalties.py; activity ones via hooks)
    dy     = loss_fn.backward()                       # dL/dy_pred, already divided by N
    model.backward(dy)                                # every layer writes layer.grads[...]
    grads += the regularizers' gradients
    optimizer.step(model.parameters())                # in-place updates
    metric.update_state(y, y_pred)                    # device arithmetic, no host read

When the output layer is a softmax (sigmoid) and the loss is a categorical (binary)
cross-entropy, Keras computes the loss from the logits behind the activation, without
clipping; so do we (``Model.loss_at_output`` decides, for training, evaluation and the
step-through tools alike). With a loss per output (``compile_loss.py``) the loss is
sum_i w_i L_i and each output gets dy_i = w_i dL_i/dy_i. Data comes from ``data_sources``
(arrays, generators, PyDataset).
"""
from __future__ import annotations

import time

from tqdm.auto import tqdm

from nnscratch import backend
from nnscratch.callbacks import CallbackList, History
from nnscratch.layers.base import positive_int
from nnscratch.metrics import unwrap
from nnscratch.models import cpu_threads, penalties
from nnscratch.models.data_adapter import batch_size_arg, take
from nnscratch.models.data_sources import ArraySource, is_batch_source, make_source
from nnscratch.models.epoch_loop import epoch_logs, reset_metrics, run_epoch, update_metrics
from nnscratch.models.interrupt import sigint_guard


def _verbose(verbose, what):
    if verbose == "auto":
        return 1
    if verbose not in (0, 1, 2) or isinstance(verbose, bool):
        raise ValueError(f"{what}: verbose must be 'auto', 0, 1 or 2, received {verbose!r}")
    return verbose


def _summary(logs):
    return " - ".join(f"{k}: {v:.4f}" if isinstance(v, float) else f"{k}: {v}" for k, v in logs.items())


class Trainer:
    """fit / evaluate / predict for a model that has ``forward``, ``backward``, ``loss``,
    ``optimizer`` and ``parameters()`` (mixed into nnscratch.models.model.Model)."""

    # ------------------------------------------------------------------ steps
    def compute_loss(self, y_pred, y, sample_weight=None, activity=None):
        """(total loss, from_logits): the compiled loss (weighted; with a loss per output, sum_i
        w_i L_i and one from_logits flag per output) plus add_loss terms and the regularizers."""
        extra = self.added_loss()  # add_loss terms of the last forward (their gradient flows in backward)
        loss, from_logits = None, False
        if self._output_losses is not None:
            loss, from_logits = self._output_losses.compute(y_pred, y, sample_weight)
        elif self.loss is not None:
            with self.loss.weighted(sample_weight):
                loss, from_logits = self.loss_at_output(y_pred, y)
        if loss is None:
            if extra is None:
                raise ValueError(f"Model '{self.name}': compiled without a loss and no layer adds one (add_loss); "
                                 "pass loss= to compile")
            loss = extra
        elif extra is not None:
            loss = loss + extra
        loss = loss + penalties.weight_penalty(self)
        if activity is not None:
            loss = loss + activity.penalty
        return loss, from_logits

    def train_step(self, x, y, metric_fns=(), sample_weight=None):
        """One forward/backward/update on a prepared batch. Returns (loss, [metric results]),
        0-d device arrays: no host synchronisation happens here."""
        with penalties.activity_scope(self) as activity:
            y_pred = self.forward(x, training=True)
            loss, from_logits = self.compute_loss(y_pred, y, sample_weight, activity)
            if self._output_losses is not None:  # w_i * dL_i/dy_i per output (None: no loss there)
                dy = self._output_losses.gradients()
                self._output_losses.clear_stale_gradients()
            else:
                dy = None if self.loss is None else self.loss.backward()  # None: only the add_loss terms
            if activity is not None:
                dy = activity.at_output(dy, from_logits)
            self.backward(dy, from_logits=from_logits, need_input_grad=False)
        penalties.add_weight_gradients(self)
        self.optimizer.step(self.parameters())
        update_metrics(metric_fns, y, y_pred, sample_weight)
        return loss, [unwrap(m.result()) for _, m, _ in metric_fns]

    def test_step(self, x, y, metric_fns=(), sample_weight=None):
        """The loss and metric results of a prepared batch in inference mode (no update)."""
        with penalties.activity_scope(self) as activity:
            y_pred = self.forward(x, training=False)
            loss, _ = self.compute_loss(y_pred, y, sample_weight, activity)
        update_metrics(metric_fns, y, y_pred, sample_weight)
        return loss, [unwrap(m.result()) for _, m, _ in metric_fns]

    # ------------------------------------------------------------------ fit
    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None,
            validation_split=0.0, validation_data=None, shuffle=True, class_weight=None, sample_weight=None,
            initial_epoch=0, steps_per_epoch=None, validation_steps=None, validation_batch_size=None,
            validation_freq=1):
        """Train for ``epochs`` epochs; returns a History (``history.history['loss']`` ...).

        The epoch loss is Keras's: the batch-size-weighted mean of each batch's loss computed
        before that batch's update; metrics accumulate per sample (weighted_metrics with the
        sample weights)."""
        self._require_compiled("fit")
        batch_size = batch_size_arg(batch_size)
        epochs = positive_int(epochs, "epochs")
        verbose = _verbose(verbose, "fit")
        if not 0.0 <= validation_split < 1.0:
            raise ValueError(f"validation_split must be in [0, 1), received {validation_split!r}")
        if x is None:
            raise ValueError("fit: x (the inputs) is required")
        if not is_batch_source(x) and y is None and self._needs_targets():
            raise ValueError("fit: y (the targets) is required")
        if validation_split and is_batch_source(x):
            raise ValueError("fit: validation_split is only supported for array data; pass validation_data")
        source = make_source(self, x, y, sample_weight, class_weight, batch_size, steps_per_epoch,
                             need_y=self._needs_targets(), where="fit")
        val_source = None
        if validation_data is None and validation_split > 0:
            n = source.n
            split = int(n * (1.0 - validation_split))  # Keras: the LAST fraction, before shuffling
            if split == 0 or split == n:
                raise ValueError(f"validation_split={validation_split} leaves no training or validation samples out of {n}")
            cut = lambda a, s: None if a is None else (take(a, s) if isinstance(a, list) else a[s])  # noqa: E731
            vbs = batch_size_arg(validation_batch_size, batch_size)
            val_source = ArraySource(cut(source.x, slice(split, None)), cut(source.y, slice(split, None)),
                                     cut(source.sw, slice(split, None)), n - split, vbs, validation_steps)
            source = ArraySource(cut(source.x, slice(None, split)), cut(source.y, slice(None, split)),
                                 cut(source.sw, slice(None, split)), split, batch_size, steps_per_epoch)
        elif validation_data is not None:
            val_source = self._validation_source(validation_data, validation_batch_size or batch_size, validation_steps)
        metric_fns = self._metric_fns(source.y_shape)
        # what BackupAndRestore fingerprints (N, batch size, a hash of x and y) to refuse a foreign backup
        self._fit_fingerprint_source = ((source.x, source.y, batch_size) if isinstance(source, ArraySource)
                                        else None)

        history = History()
        cbs = CallbackList(list(callbacks or []) + [history], model=self,
                           params={"verbose": verbose, "epochs": epochs, "steps": source.steps})
        self.history = history
        self.stop_training = False
        self.stop_reason = None
        self._interrupted = False
        self._resume_point = None
        self.plan_backward()
        # performance: small models run BLAS on one thread (cpu_threads.blas_scope)
        with sigint_guard(self), cpu_threads.blas_scope(self, batch_size), self.fixed_parameters():
            cbs.on_train_begin({})
            # A callback such as BackupAndRestore may ask to resume from a checkpoint.
            resume = self._resume_point or {}
            self._resume_point = None
            first_epoch = resume.get("epoch", initial_epoch)
            logs = {}
            for epoch in range(first_epoch, epochs):
                cbs.on_epoch_begin(epoch, {})
                # resuming mid-epoch: the checkpoint's shuffling order and running sums
                start = resume if (resume and epoch == first_epoch and resume.get("step", 0) > 0) else None
                order = None
                if isinstance(source, ArraySource):
                    if start is not None:
                        order = start["order"]
                    elif shuffle:
                        order = backend.global_rng().permutation(source.n)
                logs, seen = run_epoch(self, source, order, metric_fns, cbs, verbose, epoch, epochs, start)
                source.on_epoch_end()
                if not seen:  # a generator that is used up: Keras warns and stops
                    self.stop_training = True
                    break
                if self._interrupted or self.stop_reason:
                    break  # no validation and no on_epoch_end for a partial epoch
                if val_source is not None and (epoch + 1) % validation_freq == 0:
                    cbs.on_test_begin({})  # validation runs the test hooks too, as in Keras
                    val = self._evaluate_source(val_source, metric_fns, cbs)
                    cbs.on_test_end(dict(val))
                    logs.update({f"val_{k}": v for k, v in val.items()})
                if verbose == 2 or (verbose == 1 and val_source is not None):
                    print(f"Epoch {epoch + 1}/{epochs} - " + _summary(logs))
                cbs.on_epoch_end(epoch, logs)
                if self.stop_training:
                    break
            cbs.on_train_end(dict(logs))
        self._fit_fingerprint_source = None  # do not keep the training data alive after fit
        return history

    def _validation_source(self, data, batch_size, steps):
        if is_batch_source(data):
            return make_source(self, data, steps=steps, where="validation_data")
        if not isinstance(data, (tuple, list)) or len(data) not in (2, 3):
            raise ValueError("validation_data must be a tuple (x_val, y_val) or (x_val, y_val, sample_weight), "
                             "a generator or a PyDataset")
        return make_source(self, data[0], data[1], data[2] if len(data) == 3 else None, None, batch_size_arg(batch_size),
                           steps, need_y=self._needs_targets(), where="validation_data")

    def _needs_targets(self):
        """False for a model compiled without a loss or metrics (its add_loss terms are the loss)."""
        losses = self._output_losses
        per_output = self._output_metric_specs or [[self._metric_specs], [self._weighted_metric_specs]]
        has_metrics = any(len(entry) > 0 for specs in per_output for entry in specs)
        return bool(self.loss is not None or (losses is not None and losses.active) or has_metrics)

    # ------------------------------------------------------------------ evaluate / predict
    def _evaluate_source(self, source, metric_fns, cbs=None, bar=None):
        """Mean loss and metric results over the source (inference mode)."""
        reset_metrics(metric_fns)
        loss_sum, seen = 0.0, 0
        batch_hooks = cbs is not None and (cbs.has_batch_hooks("on_test_batch_begin")
                                           or cbs.has_batch_hooks("on_test_batch_end"))
        for step, (xb, yb, swb, nb) in enumerate(source.batches()):
            if batch_hooks:
                cbs.on_test_batch_begin(step, {})
            loss, _ = self.test_step(xb, yb, metric_fns, sample_weight=swb)
            loss_sum = loss_sum + loss * nb
            seen += nb
            if batch_hooks:
                cbs.on_test_batch_end(step, epoch_logs(loss_sum, metric_fns, seen))
            if bar is not None:
                bar.update(1)
        source.on_epoch_end()
        if not seen:
            raise ValueError("evaluate: the data yielded no batches")
        return epoch_logs(loss_sum, metric_fns, seen)

    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", sample_weight=None, steps=None,
                 callbacks=None, return_dict=False):
        """[loss, metric...] on (x, y) in inference mode (a scalar when there are no metrics).
        verbose=1 (Keras's default) shows a progress bar and the result line, 2 the line only."""
        self._require_compiled("evaluate")
        batch_size = batch_size_arg(batch_size)
        verbose = _verbose(verbose, "evaluate")
        if x is None or (y is None and not is_batch_source(x) and self._needs_targets()):
            raise ValueError("evaluate: x and y are required (or a generator of (x, y) batches)")
        source = make_source(self, x, y, sample_weight, None, batch_size, steps, need_y=self._needs_targets(),
                             where="evaluate")
        metric_fns = self._metric_fns(source.y_shape)
        cbs = CallbackList(list(callbacks or []), model=self, params={"verbose": verbose, "epochs": 1,
                                                                      "steps": source.steps})
        cbs.on_test_begin({})
        started = time.monotonic()
        bar = tqdm(total=source.steps, unit="step", dynamic_ncols=True, leave=False) if verbose == 1 else None
        try:
            logs = self._evaluate_source(source, metric_fns, cbs, bar)
        finally:
            if bar is not None:
                bar.close()
        if verbose:
            took = time.monotonic() - started
            steps_done = source.steps or 1
            print(f"{steps_done}/{steps_done} - {took:.0f}s {1000 * took / steps_done:.0f}ms/step - " + _summary(logs))
        cbs.on_test_end(dict(logs))
        if return_dict:
            return logs
        values = list(logs.values())
        return values[0] if len(values) == 1 else values

    def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None):
        """Outputs for x in inference mode, as a host NumPy array (a generator's batches may be
        x alone or (x, y, ...): only x is used)."""
        batch_size = batch_size_arg(batch_size)
        verbose = _verbose(verbose, "predict")
        source = make_source(self, x, None, None, None, batch_size, steps, need_y=False, where="predict")
        cbs = CallbackList(list(callbacks or []), model=self, params={"verbose": verbose, "epochs": 1,
                                                                      "steps": source.steps})
        batch_hooks = cbs.has_batch_hooks("on_predict_batch_begin") or cbs.has_batch_hooks("on_predict_batch_end")
        cbs.on_predict_begin({})
        rows = cpu_threads.inference_rows(self)
        outs = []
        bar = tqdm(total=source.steps, unit="step", dynamic_ncols=True, leave=False) if verbose == 1 else None
        with cpu_threads.blas_scope(self, min(rows, batch_size)):
            for step, (xb, _, _, nb) in enumerate(source.batches()):
                if batch_hooks:
                    cbs.on_predict_batch_begin(step, {})
                # each batch in sub-batches of <= rows (speed; same numbers)
                part = [self.forward(take(xb, slice(s, min(s + rows, nb))), training=False) for s in range(0, nb, rows)]
                outs += part
                if batch_hooks:
                    cbs.on_predict_batch_end(step, {"outputs": part[0] if len(part) == 1 else part})
                if bar is not None:
                    bar.update(1)
        if bar is not None:
            bar.close()
        source.on_epoch_end()
        cbs.on_predict_end({})
        if isinstance(outs[0], list):  # several outputs: one array per output
            xp = backend.get_array_module(outs[0][0])
            return [backend.to_host(xp.concatenate(o, axis=0)) for o in zip(*outs)]
        xp = backend.get_array_module(outs[0])
        return backend.to_host(xp.concatenate(outs, axis=0))

    def predict_on_batch(self, x):
        y = self.forward(make_source(self, x, need_y=False).x, training=False)
        return [backend.to_host(a) for a in y] if isinstance(y, list) else backend.to_host(y)

    def train_on_batch(self, x, y=None, sample_weight=None, class_weight=None, return_dict=False):
        """One update on (x, y); returns [loss, metric...] for that batch (pre-update)."""
        self.plan_backward()
        return self._on_batch("train_on_batch", self.train_step, x, y, sample_weight, class_weight, return_dict)

    def test_on_batch(self, x, y=None, sample_weight=None, return_dict=False):
        """[loss, metric...] on (x, y) in inference mode, without an update."""
        return self._on_batch("test_on_batch", self.test_step, x, y, sample_weight, None, return_dict)

    def _on_batch(self, what, step, x, y, sample_weight, class_weight, return_dict):
        """Validate (x, y), run ``step`` once, return [loss, metric...] (or the dict)."""
        self._require_compiled(what)
        if y is None and self._needs_targets():
            raise ValueError(f"{what}: y (the targets) is required")
        source = make_source(self, x, y, sample_weight, class_weight, batch_size=2 ** 62,
                             need_y=self._needs_targets(), where=what)
        metric_fns = self._metric_fns(source.y_shape)
        reset_metrics(metric_fns)
        loss, _ = step(source.x, source.y, metric_fns, sample_weight=source.sw)
        logs = epoch_logs(loss * source.n, metric_fns, source.n)
        return logs if return_dict else (list(logs.values()) if len(logs) > 1 else logs["loss"])
