"""Training and inference loops: fit / evaluate / predict / train_on_batch (Keras's Trainer).

One training step (``train_step``) reads like the textbook:

    y_pred = model.forward(x, training=True)          # every layer caches what it needs
    loss   = loss_fn.forward(y_pred, y)               # 0-d array, stays on the device
    dy     = loss_fn.backward()                       # dL/dy_pred, already divided by N
    model.backward(dy)                                # every layer writes layer.grads[...]
    optimizer.step(model.parameters())                # in-place updates

When the output layer is a softmax (sigmoid) and the loss is a categorical (binary)
cross-entropy, Keras computes the loss from the logits behind the activation, without
clipping; so do we (``Model.loss_at_output`` decides, for training, evaluation and the
step-through tools alike): ``loss_fn.forward_logits(z, y)`` and
``model.backward(dz, from_logits=True)``.
"""
from __future__ import annotations

import math

from nnscratch import backend
from nnscratch.callbacks import CallbackList, History
from nnscratch.layers.base import positive_int
from nnscratch.models import cpu_threads
from nnscratch.models.data_adapter import batch_size_arg, first, prepare_x, prepare_y, take
from nnscratch.models.epoch_loop import epoch_logs, run_epoch
from nnscratch.models.interrupt import sigint_guard


class Trainer:
    """fit / evaluate / predict for a model that has ``forward``, ``backward``, ``loss``,
    ``optimizer`` and ``parameters()`` (mixed into nnscratch.models.model.Model)."""

    # ------------------------------------------------------------------ steps
    def train_step(self, x, y, metric_fns=()):
        """One forward/backward/update on a prepared batch. Returns (loss, [metric sums]),
        0-d device arrays: no host synchronisation happens here."""
        y_pred = self.forward(x, training=True)
        loss, from_logits = self.loss_at_output(y_pred, y)
        self.backward(self.loss.backward(), from_logits=from_logits, need_input_grad=False)
        self.optimizer.step(self.parameters())
        return loss, [fn(y, y_pred) for _, fn in metric_fns]

    def test_step(self, x, y, metric_fns=()):
        """The loss and metric sums of a prepared batch in inference mode (no update)."""
        y_pred = self.forward(x, training=False)
        loss, _ = self.loss_at_output(y_pred, y)
        return loss, [fn(y, y_pred) for _, fn in metric_fns]

    # ------------------------------------------------------------------ fit
    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None,
            validation_split=0.0, validation_data=None, shuffle=True, initial_epoch=0,
            validation_batch_size=None, validation_freq=1):
        """Train for ``epochs`` epochs; returns a History (``history.history['loss']`` ...).

        The epoch loss is Keras's: the batch-size-weighted mean of each batch's loss computed
        before that batch's update; accuracy likewise accumulates per sample."""
        self._require_compiled("fit")
        batch_size = batch_size_arg(batch_size)
        epochs = positive_int(epochs, "epochs")
        verbose = 1 if verbose == "auto" else verbose
        if y is None:
            raise ValueError("fit: y (the targets) is required")
        if not 0.0 <= validation_split < 1.0:
            raise ValueError(f"validation_split must be in [0, 1), received {validation_split!r}")
        x_dev, n = prepare_x(self, x)
        y_dev = prepare_y(self, y, n)
        if validation_data is None and validation_split > 0:
            split = int(n * (1.0 - validation_split))  # Keras: the LAST fraction, before shuffling
            if split == 0 or split == n:
                raise ValueError(f"validation_split={validation_split} leaves no training or validation samples out of {n}")
            xv, yv = take(x_dev, slice(split, None)), y_dev[split:]
            x_dev, y_dev, n = take(x_dev, slice(None, split)), y_dev[:split], split
        elif validation_data is not None:
            if len(validation_data) != 2:
                raise ValueError("validation_data must be a tuple (x_val, y_val)")
            xv, nv = prepare_x(self, validation_data[0], "validation inputs")
            yv = prepare_y(self, validation_data[1], nv)
        metric_fns = self._metric_fns(y_dev.shape)
        steps = math.ceil(n / batch_size)
        # what BackupAndRestore fingerprints (N, batch size, a hash of x and y) to refuse a foreign backup
        self._fit_fingerprint_source = (x_dev, y_dev, batch_size)

        history = History()
        cbs = CallbackList(list(callbacks or []) + [history], model=self,
                           params={"verbose": verbose, "epochs": epochs, "steps": steps})
        self.history = history
        self.stop_training = False
        self.stop_reason = None
        self._interrupted = False
        self._resume_point = None
        self.plan_backward()
        # performance: small models run BLAS on one thread (cpu_threads.blas_scope)
        with sigint_guard(self), cpu_threads.blas_scope(self, batch_size):
            cbs.on_train_begin()
            # A callback such as BackupAndRestore may ask to resume from a checkpoint.
            resume = self._resume_point or {}
            self._resume_point = None
            first_epoch = resume.get("epoch", initial_epoch)
            logs = {}
            for epoch in range(first_epoch, epochs):
                cbs.on_epoch_begin(epoch)
                # resuming mid-epoch: the checkpoint's shuffling order and running sums
                start = resume if (resume and epoch == first_epoch and resume.get("step", 0) > 0) else None
                if start is not None:
                    order = start["order"]
                else:
                    order = backend.global_rng().permutation(n) if shuffle else None
                logs = run_epoch(self, x_dev, y_dev, order, batch_size, steps, metric_fns, cbs, verbose, epoch,
                                 epochs, start)
                if self._interrupted or self.stop_reason:
                    break  # no validation and no on_epoch_end for a partial epoch
                if validation_data is not None or validation_split > 0:
                    if (epoch + 1) % validation_freq == 0:
                        val = self._evaluate_prepared(xv, yv, batch_size_arg(validation_batch_size, batch_size),
                                                      metric_fns)
                        logs.update({f"val_{k}": v for k, v in val.items()})
                if verbose == 2 or (verbose == 1 and (validation_data is not None or validation_split > 0)):
                    print(f"Epoch {epoch + 1}/{epochs} - " + " - ".join(f"{k}: {v:.4f}" for k, v in logs.items()))
                cbs.on_epoch_end(epoch, logs)
                if self.stop_training:
                    break
            cbs.on_train_end(logs)
        self._fit_fingerprint_source = None  # do not keep the training data alive after fit
        return history

    # ------------------------------------------------------------------ evaluate / predict
    def _evaluate_prepared(self, x, y, batch_size, metric_fns):
        n = first(x).shape[0]
        loss_sum, sums = 0.0, [0.0] * len(metric_fns)
        for start in range(0, n, batch_size):
            stop = min(start + batch_size, n)
            loss, s = self.test_step(take(x, slice(start, stop)), y[start:stop], metric_fns)
            loss_sum = loss_sum + loss * (stop - start)
            sums = [a + b for a, b in zip(sums, s)]
        return epoch_logs(loss_sum, sums, metric_fns, n)

    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", return_dict=False, callbacks=None):
        """[loss, metric...] on (x, y) in inference mode (a scalar when there are no metrics)."""
        self._require_compiled("evaluate")
        batch_size = batch_size_arg(batch_size)
        if y is None:
            raise ValueError("evaluate: y (the targets) is required")
        x_dev, n = prepare_x(self, x)
        y_dev = prepare_y(self, y, n)
        logs = self._evaluate_prepared(x_dev, y_dev, batch_size, self._metric_fns(y_dev.shape))
        if return_dict:
            return logs
        values = list(logs.values())
        return values[0] if len(values) == 1 else values

    def predict(self, x, batch_size=None, verbose="auto", callbacks=None):
        """Outputs for x in inference mode, as a host NumPy array."""
        batch_size = batch_size_arg(batch_size)
        x_dev, n = prepare_x(self, x)
        xp = backend.get_array_module(first(x_dev))
        rows = cpu_threads.inference_rows(self)
        outs = []
        with cpu_threads.blas_scope(self, min(rows, batch_size)):
            for b in range(0, n, batch_size):  # each batch of batch_size, in sub-batches of <= rows
                stop = min(b + batch_size, n)
                outs += [self.forward(take(x_dev, slice(s, min(s + rows, stop))), training=False)
                         for s in range(b, stop, rows)]
        if isinstance(outs[0], list):  # several outputs: one array per output
            return [backend.to_host(xp.concatenate(o, axis=0)) for o in zip(*outs)]
        return backend.to_host(xp.concatenate(outs, axis=0))

    def predict_on_batch(self, x):
        y = self.forward(prepare_x(self, x)[0], training=False)
        return [backend.to_host(a) for a in y] if isinstance(y, list) else backend.to_host(y)

    def train_on_batch(self, x, y, return_dict=False):
        """One update on (x, y); returns [loss, metric...] for that batch (pre-update)."""
        self.plan_backward()
        return self._on_batch("train_on_batch", self.train_step, x, y, return_dict)

    def test_on_batch(self, x, y, return_dict=False):
        """[loss, metric...] on (x, y) in inference mode, without an update."""
        return self._on_batch("test_on_batch", self.test_step, x, y, return_dict)

    def _on_batch(self, what, step, x, y, return_dict):
        """Validate (x, y), run ``step`` once, return [loss, metric...] (or the dict)."""
        self._require_compiled(what)
        x_dev, n = prepare_x(self, x)
        y_dev = prepare_y(self, y, n)
        metric_fns = self._metric_fns(y_dev.shape)
        loss, sums = step(x_dev, y_dev, metric_fns)
        logs = epoch_logs(loss * n, sums, metric_fns, n)
        return logs if return_dict else (list(logs.values()) if len(logs) > 1 else logs["loss"])
