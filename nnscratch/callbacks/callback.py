"""The Callback base class and CallbackList, which fans each hook out to every callback."""
from __future__ import annotations



class Callback:
    """Base class with Keras's hook names; every hook does nothing by default."""

    def __init__(self):
        self.model = None
        self.params = {}

    def set_model(self, model):
        self.model = model

    def set_params(self, params):
        self.params = params

    def on_train_begin(self, logs=None): ...
    def on_train_end(self, logs=None): ...
    def on_epoch_begin(self, epoch, logs=None): ...
    def on_epoch_end(self, epoch, logs=None): ...
    def on_train_batch_begin(self, batch, logs=None): ...
    def on_train_batch_end(self, batch, logs=None): ...
    def on_test_begin(self, logs=None): ...
    def on_test_end(self, logs=None): ...
    def on_test_batch_begin(self, batch, logs=None): ...
    def on_test_batch_end(self, batch, logs=None): ...
    def on_predict_begin(self, logs=None): ...
    def on_predict_end(self, logs=None): ...
    def on_predict_batch_begin(self, batch, logs=None): ...
    def on_predict_batch_end(self, batch, logs=None): ...

    def _overrides(self, name):
        """True if this callback does something in hook ``name`` (the model skips the others)."""
        return getattr(type(self), name) is not getattr(Callback, name)

    # Batch hooks that a callback overrides receive the running logs (a host read per batch);
    # hooks nobody overrides are not called at all.
    wants_batch_logs = False


class CallbackList:
    """Calls every callback's hook in order."""

    def __init__(self, callbacks=None, model=None, params=None):
        self.callbacks = list(callbacks or [])
        for cb in self.callbacks:
            if not isinstance(cb, Callback):
                raise TypeError(f"callbacks must be nn.callbacks.Callback instances, received {cb!r}")
            if model is not None:
                cb.set_model(model)
            if params is not None:
                cb.set_params(params)
        # only call per-batch hooks that were overridden (keeps the training loop lean)
        self._batch_hooks = {
            name: [cb for cb in self.callbacks if cb._overrides(name)]
            for name in ("on_train_batch_begin", "on_train_batch_end", "on_test_batch_begin",
                         "on_test_batch_end", "on_predict_batch_begin", "on_predict_batch_end")
        }

    @property
    def wants_batch_logs(self):
        return any(cb.wants_batch_logs for cb in self._batch_hooks["on_train_batch_end"])

    def has_batch_hooks(self, name):
        return bool(self._batch_hooks[name])

    def _call(self, name, *args):
        for cb in self.callbacks:
            getattr(cb, name)(*args)

    def _call_batch(self, name, batch, logs):
        for cb in self._batch_hooks[name]:
            getattr(cb, name)(batch, logs)

    # every hook receives a dict (a fresh copy: a callback that edits it cannot upset the next)
    def on_train_begin(self, logs=None): self._call("on_train_begin", dict(logs or {}))
    def on_train_end(self, logs=None): self._call("on_train_end", dict(logs or {}))
    def on_epoch_begin(self, epoch, logs=None): self._call("on_epoch_begin", epoch, dict(logs or {}))
    def on_epoch_end(self, epoch, logs=None): self._call("on_epoch_end", epoch, logs if logs is not None else {})
    def on_test_begin(self, logs=None): self._call("on_test_begin", dict(logs or {}))
    def on_test_end(self, logs=None): self._call("on_test_end", dict(logs or {}))
    def on_predict_begin(self, logs=None): self._call("on_predict_begin", dict(logs or {}))
    def on_predict_end(self, logs=None): self._call("on_predict_end", dict(logs or {}))
    def on_train_batch_begin(self, batch, logs=None): self._call_batch("on_train_batch_begin", batch, dict(logs or {}))
    def on_train_batch_end(self, batch, logs=None): self._call_batch("on_train_batch_end", batch, dict(logs or {}))
    def on_test_batch_begin(self, batch, logs=None): self._call_batch("on_test_batch_begin", batch, dict(logs or {}))
    def on_test_batch_end(self, batch, logs=None): self._call_batch("on_test_batch_end", batch, dict(logs or {}))
    def on_predict_batch_begin(self, batch, logs=None): self._call_batch("on_predict_batch_begin", batch, dict(logs or {}))
    def on_predict_batch_end(self, batch, logs=None): self._call_batch("on_predict_batch_end", batch, dict(logs or {}))
