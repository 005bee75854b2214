"""Model: compile / fit / evaluate / predict / train_on_batch, shared by Sequential and the
functional Model. Subclasses provide ``layers``, ``build``, ``forward`` and ``backward``.

One training step (``train_step``) reads like the textbook:

    y_pred = model.forward(x, training=True)          # every layer caches what it needs
    loss   = loss_fn.forward(y_pred, y)               # 0-d array, stays on the device
    dy     = loss_fn.backward()                       # dL/dy_pred, already divided by N
    model.backward(dy)                                # every layer writes layer.grads[...]
    optimizer.step(model.parameters())                # in-place updates

When the output layer is a softmax (sigmoid) and the loss is a categorical (binary)
cross-entropy, Keras computes the loss from the logits behind the activation, without
clipping; so do we: ``loss_fn.forward_logits(z, y)`` and ``model.backward(dz, from_logits=True)``.
"""
from __future__ import annotations

import contextlib
import math
import time

from nnscratch import backend, config, losses as losses_mod, metrics as metrics_mod, optimizers as optimizers_mod
from nnscratch.callbacks import CallbackList, History


class NotCompiledError(RuntimeError, ValueError):
    """fit/evaluate/train_on_batch before compile (a RuntimeError, and a ValueError as Keras)."""


class _Spec:
    """Shape/dtype stand-in for a prediction array (used to validate labels up front)."""

    def __init__(self, shape, dtype):
        self.shape, self.dtype, self.ndim = tuple(shape), dtype, len(shape)


def _positive_int(value, name):
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise ValueError(f"{name} must be a positive integer, received {value!r}")
    return value


def _take(x, index):
    """x[index] for one array, or for each array of a multi-input list (functional models)."""
    return [a[index] for a in x] if isinstance(x, list) else x[index]


def _first(x):
    return x[0] if isinstance(x, list) else x


def _num_samples(x, name="x"):
    # multi-input models take a list of arrays; they must agree on the number of samples
    if isinstance(x, (list, tuple)) and x and all(hasattr(a, "shape") for a in x):
        counts = [_num_samples(a, f"{name}[{i}]") for i, a in enumerate(x)]
        if len(set(counts)) != 1:
            raise ValueError(f"{name}: the input arrays have different numbers of samples {counts}; they must match")
        return counts[0]
    if not (backend.is_array(x) or hasattr(x, "__len__")):
        raise TypeError(f"{name} must be an array, received {type(x).__name__}")
    if not backend.is_array(x):
        x = backend.to_host(x)
    if x.ndim == 0:
        raise ValueError(f"{name} must have a batch axis, received a scalar")
    if x.shape[0] == 0:
        raise ValueError(f"{name} is empty (0 samples)")
    return x.shape[0]


_BLAS = {}


def _blas_controller():
    """threadpoolctl's controller of the loaded BLAS libraries, made once (None without
    threadpoolctl)."""
    if "controller" not in _BLAS:
        try:
            from threadpoolctl import ThreadpoolController

            _BLAS["controller"] = ThreadpoolController()
        except Exception:  # not installed, or no introspectable BLAS: leave threading alone
            _BLAS["controller"] = None
    return _BLAS["controller"]


def _shape_list(shape):
    """A layer's input/output shape as a list of shape tuples (several for merge layers)."""
    if not shape:
        return []
    if isinstance(shape, (list, tuple)) and all(isinstance(d, int) or d is None for d in shape):
        return [tuple(shape)]
    return [tuple(s) for s in shape if isinstance(s, (list, tuple))]


class Model:
    """Training and inference for a graph of layers (see the module docstring)."""

    def __init__(self, name=None):
        self.name = name or "model"
        self.optimizer = None
        self.loss = None
        self.compiled = False
        self.stop_training = False
        self.history = None
        self._metric_specs = []
        self._interrupted = False
        self._interrupt_requested = False
        self._resume_point = None
        self._progress = None
        self.stop_reason = None

    # ------------------------------------------------------------------ to implement
    @property
    def layers(self):
        raise NotImplementedError

    def forward(self, x, training=False):
        raise NotImplementedError

    def backward(self, dy, from_logits=False, need_input_grad=True):
        raise NotImplementedError

    def output_layer(self):
        return self.layers[-1]

    # ------------------------------------------------------------------ parameters
    def parameters(self):
        """[(key, param, grad)] for every trainable parameter, keys like 'dense_1/kernel'."""
        out = []
        for layer in self.layers:
            if layer.trainable:
                for k, p in layer.params.items():
                    out.append((f"{layer.name}/{k}", p, layer.grads[k]))
        return out

    @property
    def weights(self):
        return [w for layer in self.layers for w in layer.weights]

    def get_weights(self):
        return [w for layer in self.layers for w in layer.get_weights()]

    def set_weights(self, weights):
        weights = list(weights)
        expected = sum(len(layer.weights) for layer in self.layers)
        if len(weights) != expected:
            raise ValueError(f"Model '{self.name}': expected {expected} weight arrays, received {len(weights)}")
        i = 0
        for layer in self.layers:  # validate everything before writing anything
            for w, value in zip(layer.weights, weights[i:i + len(layer.weights)]):
                if tuple(w.shape) != tuple(value.shape):
                    raise ValueError(f"layer '{layer.name}': weight of shape {tuple(w.shape)}, received {tuple(value.shape)}")
            i += len(layer.weights)
        i = 0
        for layer in self.layers:
            n = len(layer.weights)
            if n:
                layer.set_weights(weights[i:i + n])
            i += n

    def count_params(self):
        return sum(layer.count_params() for layer in self.layers)

    def get_layer(self, name=None, index=None):
        if index is not None:
            return self.layers[index]
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise ValueError(f"no layer named {name!r}; layers: {', '.join(l.name for l in self.layers)}")

    # ------------------------------------------------------------------ compile
    def compile(self, optimizer="rmsprop", loss=None, metrics=None, **kwargs):
        """Choose the optimizer, loss and metrics (Keras's defaults: optimizer='rmsprop')."""
        unsupported = {k: v for k, v in kwargs.items() if k not in ("run_eagerly", "jit_compile", "steps_per_execution")}
        if unsupported:
            raise TypeError(f"compile: unexpected keyword argument(s) {', '.join(sorted(unsupported))}")
        if loss is None:
            raise ValueError("compile: a loss is required, e.g. loss='sparse_categorical_crossentropy'")
        self.optimizer = optimizers_mod.get(optimizer)
        self.loss = losses_mod.get(loss)
        if metrics is None:
            metrics = []
        if isinstance(metrics, (str,)) or callable(metrics):
            metrics = [metrics]
        self._metric_specs = list(metrics)
        for m in self._metric_specs:
            metrics_mod.get(m, (None, 2), (None, 2))  # validates names early
        self.compiled = True

    def _require_compiled(self, what):
        if not self.compiled:
            raise NotCompiledError(f"Model '{self.name}': call compile(optimizer, loss) before {what}()")

    def _fused_loss(self):
        """True when the output activation should be fused with the loss (Keras's logits trap)."""
        out = self.output_layer()
        act = getattr(getattr(out, "activation", None), "name", None)
        return (self.loss.fuses is not None and act == self.loss.fuses and getattr(out, "_keep_logits", False)
                and getattr(getattr(out, "activation", None), "axis", -1) == -1)

    # ------------------------------------------------------------------ data preparation
    def _prepare_x(self, x):
        if getattr(self, "_multi_in", False):  # functional model with several inputs: a list of arrays
            return self._prepare_multi_x(x)
        if isinstance(x, (list, tuple)) and len(x) and backend.is_array(x[0]) is False and not hasattr(x[0], "shape"):
            x = backend.to_host(x)
        if not backend.is_array(x):
            x = backend.to_host(x)
        if x.dtype.kind not in "fiub":
            raise TypeError(f"Model '{self.name}': inputs must be numeric, received dtype {x.dtype}")
        if not self.built:
            self.build((None,) + tuple(x.shape[1:]))
        expected = tuple(self.input_shape[1:])
        if tuple(x.shape[1:]) != expected:
            raise ValueError(
                f"Model '{self.name}': expected inputs of shape (N, {', '.join(map(str, expected))}) "
                f"for layer '{self.layers[0].name}', received {tuple(x.shape)}"
            )
        if config.check_numerics() and x.dtype.kind == "f":
            xp = backend.get_array_module(x)
            finite = backend.to_host(xp.isfinite(x).reshape(x.shape[0], -1).all(axis=1))
            if not finite.all():
                bad = int(finite.argmin())
                raise ValueError(
                    f"Model '{self.name}': inputs contain NaN or Inf (first in sample {bad}); "
                    "clean the data or turn checking off with nn.config.set_check_numerics(False)"
                )
        return backend.to_device(x, dtype=backend.floatx())

    def _prepare_multi_x(self, xs):
        if not isinstance(xs, (list, tuple)) or len(xs) != len(self.inputs):
            raise ValueError(f"Model '{self.name}': expected a list of {len(self.inputs)} input arrays "
                             f"({', '.join(t.layer.name for t in self.inputs)}), received {type(xs).__name__}")
        out = []
        for t, x in zip(self.inputs, xs):
            x = x if backend.is_array(x) else backend.to_host(x)
            if x.dtype.kind not in "fiub":
                raise TypeError(f"Model '{self.name}': input '{t.layer.name}' must be numeric, received dtype {x.dtype}")
            if tuple(x.shape[1:]) != tuple(t.shape[1:]):
                raise ValueError(f"Model '{self.name}': input '{t.layer.name}' expects shape (N, "
                                 f"{', '.join(map(str, t.shape[1:]))}), received {tuple(x.shape)}")
            if config.check_numerics() and x.dtype.kind == "f" and not bool(backend.to_host(
                    backend.get_array_module(x).isfinite(x).all())):
                raise ValueError(f"Model '{self.name}': input '{t.layer.name}' contains NaN or Inf; clean the data "
                                 "or turn checking off with nn.config.set_check_numerics(False)")
            out.append(backend.to_device(x, dtype=backend.floatx()))
        return out

    def _prepare_y(self, y, n):
        if not backend.is_array(y):
            y = backend.to_host(y)
        if y.shape[0] != n:
            raise ValueError(f"Model '{self.name}': x has {n} samples but y has {y.shape[0]}; they must match")
        spec = _Spec((n,) + tuple(self.output_shape[1:]), backend.floatx())
        return self.loss.check_labels(y, spec)

    def _metric_fns(self, y_shape):
        out_shape = (None,) + tuple(self.output_shape[1:])
        return [metrics_mod.get(m, tuple(y_shape), out_shape) for m in self._metric_specs]

    # ------------------------------------------------------------------ steps
    def train_step(self, x, y, metric_fns=()):
        """One forward/backward/update on a prepared batch. Returns (loss, [metric sums]),
        0-d device arrays: no host synchronisation happens here."""
        y_pred = self.forward(x, training=True)
        if self._fused_loss():
            loss = self.loss.forward_logits(self.output_layer().logits, y)
            self.backward(self.loss.backward(), from_logits=True, need_input_grad=False)
        else:
            loss = self.loss.forward(y_pred, y)
            self.backward(self.loss.backward(), need_input_grad=False)
        self.optimizer.step(self.parameters())
        return loss, [fn(y, y_pred) for _, fn in metric_fns]

    def test_step(self, x, y, metric_fns=()):
        y_pred = self.forward(x, training=False)
        if self._fused_loss():
            loss = self.loss.forward_logits(self.output_layer().logits, y)
        else:
            loss = self.loss.forward(y_pred, y)
        return loss, [fn(y, y_pred) for _, fn in metric_fns]

    # ------------------------------------------------------------------ fit
    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None,
            validation_split=0.0, validation_data=None, shuffle=True, initial_epoch=0,
            validation_batch_size=None, validation_freq=1):
        """Train for ``epochs`` epochs; returns a History (``history.history['loss']`` ...).

        The epoch loss is Keras's: the batch-size-weighted mean of each batch's loss computed
        before that batch's update; accuracy likewise accumulates per sample."""
        self._require_compiled("fit")
        batch_size = 32 if batch_size is None else _positive_int(batch_size, "batch_size")
        _positive_int(epochs, "epochs")
        verbose = 1 if verbose == "auto" else verbose
        n = _num_samples(x, "x")
        if y is None:
            raise ValueError("fit: y (the targets) is required")
        if not 0.0 <= validation_split < 1.0:
            raise ValueError(f"validation_split must be in [0, 1), received {validation_split!r}")
        x_dev = self._prepare_x(x)
        y_dev = self._prepare_y(y, n)
        if validation_data is None and validation_split > 0:
            split = int(n * (1.0 - validation_split))  # Keras: the LAST fraction, before shuffling
            if split == 0 or split == n:
                raise ValueError(f"validation_split={validation_split} leaves no training or validation samples out of {n}")
            validation_data = (_take(x_dev, slice(split, None)), y_dev[split:])
            x_dev, y_dev, n = _take(x_dev, slice(None, split)), y_dev[:split], split
            val_prepared = True
        else:
            val_prepared = False
        if validation_data is not None:
            if len(validation_data) not in (2,):
                raise ValueError("validation_data must be a tuple (x_val, y_val)")
            xv, yv = validation_data
            if not val_prepared:
                nv = _num_samples(xv, "validation x")
                xv, yv = self._prepare_x(xv), self._prepare_y(yv, nv)
        metric_fns = self._metric_fns(y_dev.shape)
        steps = math.ceil(n / batch_size)

        history = History()
        cbs = CallbackList(list(callbacks or []) + [history], model=self,
                           params={"verbose": verbose, "epochs": epochs, "steps": steps})
        self.history = history
        self.stop_training = False
        self.stop_reason = None
        self._interrupted = False
        self._resume_point = None
        previous_handler = self._install_sigint_handler()
        blas_scope = self._blas_scope(batch_size)  # performance: small models run BLAS on one thread
        try:
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
                logs = self._run_epoch(x_dev, y_dev, order, batch_size, steps, metric_fns, cbs, verbose, epoch,
                                       epochs, start)
                if self._interrupted or self.stop_reason:
                    break  # no validation and no on_epoch_end for a partial epoch
                if validation_data is not None and (epoch + 1) % validation_freq == 0:
                    val = self._evaluate_prepared(xv, yv, validation_batch_size or batch_size, metric_fns)
                    logs.update({f"val_{k}": v for k, v in val.items()})
                if verbose == 2 or (verbose == 1 and validation_data is not None):
                    print(f"Epoch {epoch + 1}/{epochs} - " + " - ".join(f"{k}: {v:.4f}" for k, v in logs.items()))
                cbs.on_epoch_end(epoch, logs)
                if self.stop_training:
                    break
            cbs.on_train_end(logs)
        finally:
            blas_scope.__exit__(None, None, None)
            self._restore_sigint_handler(previous_handler)
        return history

    # ------------------------------------------------------------------ interruption
    def _install_sigint_handler(self):
        """During fit, Ctrl-C (SIGINT) sets a flag that the loop checks after each step, so the
        step in flight completes: weights, optimizer state and History stay consistent. A second
        Ctrl-C interrupts at once."""
        import signal
        import threading

        self._interrupt_requested = False
        if threading.current_thread() is not threading.main_thread():
            return None
        previous = signal.getsignal(signal.SIGINT)

        def handler(signum, frame):
            if self._interrupt_requested:
                raise KeyboardInterrupt
            self._interrupt_requested = True

        signal.signal(signal.SIGINT, handler)
        return previous

    @staticmethod
    def _restore_sigint_handler(previous):
        if previous is not None:
            import signal

            signal.signal(signal.SIGINT, previous)

    def _check_finite_loss(self, loss, xb, step, epoch):
        """Stop training when the loss became NaN/Inf, naming the step and the first layer whose
        weights or outputs are non-finite."""
        xp = backend.get_array_module(loss)
        if bool(backend.to_host(xp.isfinite(loss))):
            return
        culprit = None
        for layer in self.layers:
            for name, w in list(layer.params.items()) + list(layer.state.items()):
                if not bool(backend.to_host(xp.isfinite(w).all())):
                    culprit = f"weight '{name}' of layer '{layer.name}' ({type(layer).__name__})"
                    break
            if culprit:
                break
        if culprit is None:
            # run the model once more and note the first layer whose output is non-finite
            # (forward hooks: the same code serves Sequential and functional graphs)
            found = []

            def note_non_finite(layer, _inputs, out):
                if not found and not bool(backend.to_host(xp.isfinite(out).all())):
                    found.append(layer)

            handles = [layer.register_forward_hook(note_non_finite) for layer in self.layers]
            try:
                self.forward(xb, training=False)
            finally:
                for h in handles:
                    h.remove()
            if found:
                culprit = f"the output of layer '{found[0].name}' ({type(found[0]).__name__})"
        where = culprit or "the loss itself (every layer output was finite)"
        self.stop_reason = (f"non-finite loss ({backend.to_float(loss)}) at epoch {epoch + 1}, step {step + 1}; "
                            f"first non-finite value: {where}")
        self.stop_training = True
        print(f"\nStopping: {self.stop_reason}")

    def _run_epoch(self, x, y, order, batch_size, steps, metric_fns, cbs, verbose, epoch, epochs, start=None):
        """One pass over the data. ``start`` (from a checkpoint) gives the first step and the
        running sums accumulated before it."""
        n = _first(x).shape[0]
        bar = None
        first_step = start["step"] if start else 0
        if verbose == 1:
            from tqdm.auto import tqdm

            bar = tqdm(total=steps, initial=first_step, desc=f"Epoch {epoch + 1}/{epochs}", unit="step",
                       dynamic_ncols=True, mininterval=0.25, leave=True)
        order_dev = backend.to_device(order) if order is not None else None
        loss_sum = start["loss_sum"] if start else 0.0
        metric_sums = list(start["metric_sums"]) if start else [0.0] * len(metric_fns)
        seen = start["seen"] if start else 0
        self._progress = {"epoch": epoch, "step": first_step, "order": order, "sums": (loss_sum, metric_sums, seen)}
        last_refresh = time.monotonic()
        batch_logs = cbs.has_batch_hooks("on_train_batch_end") or cbs.has_batch_hooks("on_train_batch_begin")
        check_each_step = backend.current() == "numpy"  # on a device, checked at sync points only
        try:
            for step in range(first_step, steps):
                start_i, stop_i = step * batch_size, min((step + 1) * batch_size, n)
                if order_dev is None:
                    xb, yb = _take(x, slice(start_i, stop_i)), y[start_i:stop_i]  # views, no copy
                else:
                    idx = order_dev[start_i:stop_i]
                    xb, yb = _take(x, idx), y[idx]
                if batch_logs:
                    cbs.on_train_batch_begin(step)
                loss, sums = self.train_step(xb, yb, metric_fns)
                nb = stop_i - start_i
                loss_sum = loss_sum + loss * nb
                metric_sums = [a + b for a, b in zip(metric_sums, sums)]
                seen += nb
                self._progress["step"] = step + 1
                self._progress["sums"] = (loss_sum, metric_sums, seen)
                if check_each_step:
                    self._check_finite_loss(loss, xb, step, epoch)
                if batch_logs:
                    cbs.on_train_batch_end(step, self._logs(loss_sum, metric_sums, metric_fns, seen))
                if bar is not None:
                    bar.update(1)
                    now = time.monotonic()
                    if now - last_refresh > 0.5 or step == steps - 1:
                        last_refresh = now
                        bar.set_postfix(self._logs(loss_sum, metric_sums, metric_fns, seen), refresh=False)
                if self._interrupt_requested:
                    self._interrupted = True
                    self.stop_training = True
                    print(f"\nTraining interrupted (Ctrl-C) at epoch {epoch + 1}, step {step + 1}/{steps}: the step "
                          f"completed; weights and optimizer state are those after update {self.optimizer.iterations}.")
                    break
                if self.stop_training:
                    break
        finally:
            if bar is not None:
                bar.close()
        if not check_each_step and not self.stop_reason and seen:
            self._check_finite_loss(loss_sum, _take(x, slice(0, 1)), steps - 1, epoch)
        return self._logs(loss_sum, metric_sums, metric_fns, max(seen, 1))

    @staticmethod
    def _logs(loss_sum, metric_sums, metric_fns, seen):
        logs = {"loss": backend.to_float(loss_sum) / seen if backend.is_array(loss_sum) else float(loss_sum) / seen}
        for (name, _), s in zip(metric_fns, metric_sums):
            logs[name] = (backend.to_float(s) if backend.is_array(s) else float(s)) / seen
        return logs

    # ------------------------------------------------------------------ evaluate / predict
    def _evaluate_prepared(self, x, y, batch_size, metric_fns):
        n = _first(x).shape[0]
        loss_sum, sums = 0.0, [0.0] * len(metric_fns)
        for start in range(0, n, batch_size):
            stop = min(start + batch_size, n)
            loss, s = self.test_step(_take(x, slice(start, stop)), y[start:stop], metric_fns)
            loss_sum = loss_sum + loss * (stop - start)
            sums = [a + b for a, b in zip(sums, s)]
        return self._logs(loss_sum, sums, metric_fns, n)

    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", return_dict=False, callbacks=None):
        """[loss, metric...] on (x, y) in inference mode (a scalar when there are no metrics)."""
        self._require_compiled("evaluate")
        batch_size = 32 if batch_size is None else _positive_int(batch_size, "batch_size")
        n = _num_samples(x, "x")
        if y is None:
            raise ValueError("evaluate: y (the targets) is required")
        x_dev = self._prepare_x(x)
        y_dev = self._prepare_y(y, n)
        metric_fns = self._metric_fns(y_dev.shape)
        logs = self._evaluate_prepared(x_dev, y_dev, batch_size, metric_fns)
        if return_dict:
            return logs
        values = list(logs.values())
        return values[0] if len(values) == 1 else values

    def predict(self, x, batch_size=None, verbose="auto", callbacks=None):
        """Outputs for x in inference mode, as a host NumPy array."""
        batch_size = 32 if batch_size is None else _positive_int(batch_size, "batch_size")
        n = _num_samples(x, "x")
        x_dev = self._prepare_x(x)
        xp = backend.get_array_module(_first(x_dev))
        rows = self._inference_rows()
        outs = []
        with self._blas_scope(min(rows, batch_size)):
            for b in range(0, n, batch_size):  # each batch of batch_size, in sub-batches of <= rows
                stop = min(b + batch_size, n)
                outs += [self.forward(_take(x_dev, slice(s, min(s + rows, stop))), training=False)
                         for s in range(b, stop, rows)]
        if isinstance(outs[0], list):  # several outputs: one array per output
            return [backend.to_host(xp.concatenate(o, axis=0)) for o in zip(*outs)]
        return backend.to_host(xp.concatenate(outs, axis=0))

    #: A step whose largest matrix product is below this many FLOPs runs BLAS on one thread.
    BLAS_THREADING_MIN_FLOPS = 1e8

    def _largest_gemm_flops(self, rows):
        """FLOPs of the largest matrix product one step makes at ``rows`` samples: for a layer
        with a kernel, 2 * rows * (outputs per sample) * (kernel fan-in), e.g. Dense
        2*N*units*D_in, Conv2D 2*N*H_out*W_out*F*KH*KW*C_in."""
        biggest = 0
        for layer in self.layers:
            kernel = getattr(layer, "params", {}).get("kernel")
            if kernel is None or kernel.ndim < 2:
                continue
            fan_in = kernel.size // kernel.shape[-1]
            for shape in _shape_list(getattr(layer, "output_shape", None)):
                size = 1
                for d in shape[1:]:
                    size *= d or 1
                biggest = max(biggest, 2 * rows * size * fan_in)
        return biggest

    def _blas_scope(self, rows):
        """The BLAS threading this model's steps run under (performance only; the results are
        the same): one thread when every matrix product of a step is smaller than
        BLAS_THREADING_MIN_FLOPS, else BLAS's own setting.

        Splitting a small product across threads (the MLP's 32x784 @ 784x128 is 6 MFLOP, about
        0.1 ms on one core) costs a hand-off to the other thread for every product, and when the
        machine is busy that thread may not be scheduled for milliseconds: a 10,000-image MLP
        epoch at batch 32 took 14.3 s with 2 OpenBLAS threads on a loaded 2-core machine and
        0.3 s with one. Large products (the conv net's 925 MFLOP im2col GEMM) keep every thread.
        PyTorch and TensorFlow make the same kind of choice per operation. Applies to the NumPy
        backend with threadpoolctl installed; otherwise nothing changes. Returns a context
        manager; the limit is in force from this call until its ``__exit__``."""
        if backend.current() != "numpy" or self._largest_gemm_flops(rows) >= self.BLAS_THREADING_MIN_FLOPS:
            return contextlib.nullcontext()
        controller = _blas_controller()
        if controller is None:
            return contextlib.nullcontext()
        return controller.limit(limits=1, user_api="blas")

    #: Inference works on at most this many floats of per-layer data at a time (1 MiB of float32).
    INFERENCE_BUDGET = 2 ** 18

    def _inference_rows(self):
        """How many samples predict() pushes through the layers at once (performance only).

        In inference mode every sample is computed independently, so a batch of 1000 can run as
        sub-batches with the same results; sub-batches whose intermediate arrays (im2col matrix,
        activations) fit in the CPU caches run ~35% faster on LeNet (batch 1000 vs 32: 444 -> 300
        ms per 10,000 images, 1 thread) and use less memory. Rule: the largest per-sample array
        of any layer, times the rows, stays under INFERENCE_BUDGET floats, and at least 32 rows.
        Models without convolutions run their batches whole: their largest arrays are the
        activations, and splitting a 1000-row MLP batch into 334-row pieces made predict 1.7x
        slower (25.9 -> 14.8 ms per 10,000 images when whole, quiet 2-core machine)."""
        if not any(getattr(l, "params", {}).get("kernel") is not None and l.params["kernel"].ndim == 4
                   for l in self.layers):
            return 2 ** 31
        per_sample = 1
        for layer in self.layers:
            for shape in _shape_list(getattr(layer, "input_shape", None)) + _shape_list(getattr(layer, "output_shape", None)):
                size = 1
                for d in shape[1:]:
                    size *= d or 1
                per_sample = max(per_sample, size)
            kernel = getattr(layer, "params", {}).get("kernel")
            if getattr(layer, "kernel_size", None) is not None and kernel is not None and kernel.ndim == 4:
                KH, KW, C_in, F = kernel.shape
                for shape in _shape_list(getattr(layer, "output_shape", None)):
                    size = 1
                    for d in shape[1:]:
                        size *= d or 1
                    per_sample = max(per_sample, size * KH * KW * C_in // F)  # the im2col matrix
        return max(32, self.INFERENCE_BUDGET // per_sample)

    def predict_on_batch(self, x):
        y = self.forward(self._prepare_x(x), training=False)
        return [backend.to_host(a) for a in y] if isinstance(y, list) else backend.to_host(y)

    def train_on_batch(self, x, y, return_dict=False):
        """One update on (x, y); returns [loss, metric...] for that batch (pre-update)."""
        return self._on_batch("train_on_batch", self.train_step, x, y, return_dict)

    def _on_batch(self, what, step, x, y, return_dict):
        """Validate (x, y), run ``step`` once, return [loss, metric...] (or the dict)."""
        self._require_compiled(what)
        n = _num_samples(x, "x")
        x_dev, y_dev = self._prepare_x(x), self._prepare_y(y, n)
        metric_fns = self._metric_fns(y_dev.shape)
        loss, sums = step(x_dev, y_dev, metric_fns)
        logs = self._logs(loss * n, sums, metric_fns, n)
        return logs if return_dict else (list(logs.values()) if len(logs) > 1 else logs["loss"])

    def backward_steps(self, x, y, apply_update=True):
        """One training step on (x, y) as a generator of Steps, paused after every layer's
        forward and backward, then the update (see ``nnscratch.debug.steps``)."""
        from nnscratch.debug.steps import backward_steps

        return backward_steps(self, x, y, apply_update=apply_update)

    def test_on_batch(self, x, y, return_dict=False):
        """[loss, metric...] on (x, y) in inference mode, without an update."""
        return self._on_batch("test_on_batch", self.test_step, x, y, return_dict)

    def __call__(self, x, training=False):
        if getattr(x, "_is_symbolic", False):
            from nnscratch.models.functional import call_symbolic

            return call_symbolic(self, x)
        return self.forward(backend.to_device(x), training=training)  # host arrays move to the device

    # ------------------------------------------------------------------ saving / summary
    def save_weights(self, path):
        """Write weights and optimizer state to a .npz file (atomically)."""
        from nnscratch import saving

        saving.save_weights(self, path)

    def save(self, filepath, overwrite=True):
        """Save architecture, weights, optimizer state and compile settings to one file
        (``.keras`` or ``.nnscratch``); ``nn.models.load_model(path)`` restores it."""
        from nnscratch.models import model_io

        model_io.save_model(self, filepath, overwrite=overwrite)

    def load_weights(self, path):
        """Load weights (and optimizer state, if saved) from .npz; a failed load changes nothing."""
        from nnscratch import saving

        saving.load_weights(self, path)

    def summary(self, line_length=None, print_fn=None):
        from nnscratch.models.summary import summary

        return summary(self, line_length=line_length, print_fn=print_fn)
