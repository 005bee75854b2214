"""Keras guide "Writing your own callbacks" (keras-io guides/writing_your_own_callbacks.py, Rick Chao
and Francois Chollet): the model-side cells.

Written for nnscratch from the guide's cells (``import nnscratch as keras``; the guide's code is
not copied). MNIST -> random arrays of its shape, 1000 samples as in the guide.
Kept: get_model() (Dense(1, input_dim=784), RMSprop(0.1), mse, mean_absolute_error), the logs of
batch/epoch ends (LossAndErrorPrintingCallback), EarlyStoppingAtMinLoss (self.model.get_weights /
set_weights / stop_training), the learning-rate scheduler through self.model.optimizer.
Changed: tf.keras.backend.get_value/set_value -> reading and assigning
``self.model.optimizer.learning_rate`` (no TF variables); ``steps_per_epoch=5`` -> batch_size=200
(5 steps) because steps_per_epoch with arrays is the kerasapi branch's.
Kept too: CustomCallback, which reads ``logs.keys()`` in every hook of fit, evaluate and predict
(recorded instead of printed, and checked against Keras 3's keys).
"""
import numpy as np

import nnscratch as keras

GEN = np.random.default_rng(0)
x_train, y_train = GEN.random((1000, 784)).astype("float32"), GEN.integers(0, 10, 1000).astype("float32")


def get_model():
    model = keras.Sequential()
    model.add(keras.layers.Dense(1, input_dim=784))
    model.compile(optimizer=keras.optimizers.RMSprop(learning_rate=0.1), loss="mean_squared_error",
                  metrics=["mean_absolute_error"])
    return model


class LossAndErrorPrintingCallback(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.lines = []

    def on_train_batch_end(self, batch, logs=None):
        self.lines.append("For batch {}, loss is {:7.2f}.".format(batch, logs["loss"]))

    def on_epoch_end(self, epoch, logs=None):
        self.lines.append("The average loss for epoch {} is {:7.2f} and mean absolute error is {:7.2f}.".format(
            epoch, logs["loss"], logs["mean_absolute_error"]))


def test_logs_at_batch_and_epoch_ends():
    cb = LossAndErrorPrintingCallback()
    model = get_model()
    model.fit(x_train, y_train, batch_size=128, epochs=2, verbose=0, callbacks=[cb])
    assert sum(line.startswith("For batch") for line in cb.lines) == 2 * 8
    assert sum(line.startswith("The average loss") for line in cb.lines) == 2


class EarlyStoppingAtMinLoss(keras.callbacks.Callback):
    def __init__(self, patience=0):
        super().__init__()
        self.patience = patience
        self.best_weights = None

    def on_train_begin(self, logs=None):
        self.wait = 0
        self.stopped_epoch = 0
        self.best = np.inf

    def on_epoch_end(self, epoch, logs=None):
        current = logs.get("loss")
        if np.less(current, self.best):
            self.best = current
            self.wait = 0
            self.best_weights = self.model.get_weights()
        else:
            self.wait += 1
            if self.wait >= self.patience:
                self.stopped_epoch = epoch
                self.model.stop_training = True
                self.model.set_weights(self.best_weights)


def test_early_stopping_at_min_loss_restores_the_best_weights():
    stopper = EarlyStoppingAtMinLoss()
    model = get_model()
    history = model.fit(x_train, y_train, batch_size=200, epochs=30, verbose=0,
                        callbacks=[LossAndErrorPrintingCallback(), stopper])
    losses = history.history["loss"]
    assert stopper.stopped_epoch > 0 and len(losses) == stopper.stopped_epoch + 1 < 30
    for w, best in zip(model.get_weights(), stopper.best_weights):
        np.testing.assert_array_equal(w, best)


class CustomLearningRateScheduler(keras.callbacks.Callback):
    def __init__(self, schedule):
        super().__init__()
        self.schedule = schedule
        self.seen = []

    def on_epoch_begin(self, epoch, logs=None):
        lr = float(self.model.optimizer.learning_rate)
        scheduled_lr = self.schedule(epoch, lr)
        self.model.optimizer.learning_rate = scheduled_lr
        self.seen.append(scheduled_lr)


LR_SCHEDULE = [(3, 0.05), (6, 0.01), (9, 0.005), (12, 0.001)]


def lr_schedule(epoch, lr):
    if epoch < LR_SCHEDULE[0][0] or epoch > LR_SCHEDULE[-1][0]:
        return lr
    for start, rate in LR_SCHEDULE:
        if epoch == start:
            return rate
    return lr


def test_learning_rate_scheduling_through_self_model():
    scheduler = CustomLearningRateScheduler(lr_schedule)
    model = get_model()
    model.fit(x_train, y_train, batch_size=200, epochs=15, verbose=0,
              callbacks=[LossAndErrorPrintingCallback(), scheduler])
    assert scheduler.seen[:4] == [0.1, 0.1, 0.1, 0.05] and scheduler.seen[12:] == [0.001] * 3
    assert float(model.optimizer.learning_rate) == 0.001


class CustomCallback(keras.callbacks.Callback):
    """The guide's CustomCallback: every hook reads ``logs.keys()`` (here recorded, not printed)."""

    def __init__(self):
        super().__init__()
        self.seen = []

    def _record(self, hook, logs):
        self.seen.append((hook, sorted(logs.keys())))

    def on_train_begin(self, logs=None):
        self._record("train_begin", logs)

    def on_train_end(self, logs=None):
        self._record("train_end", logs)

    def on_epoch_begin(self, epoch, logs=None):
        self._record("epoch_begin", logs)

    def on_epoch_end(self, epoch, logs=None):
        self._record("epoch_end", logs)

    def on_test_begin(self, logs=None):
        self._record("test_begin", logs)

    def on_test_end(self, logs=None):
        self._record("test_end", logs)

    def on_predict_begin(self, logs=None):
        self._record("predict_begin", logs)

    def on_predict_end(self, logs=None):
        self._record("predict_end", logs)

    def on_train_batch_begin(self, batch, logs=None):
        self._record("train_batch_begin", logs)

    def on_train_batch_end(self, batch, logs=None):
        self._record("train_batch_end", logs)

    def on_test_batch_begin(self, batch, logs=None):
        self._record("test_batch_begin", logs)

    def on_test_batch_end(self, batch, logs=None):
        self._record("test_batch_end", logs)

    def on_predict_batch_begin(self, batch, logs=None):
        self._record("predict_batch_begin", logs)

    def on_predict_batch_end(self, batch, logs=None):
        self._record("predict_batch_end", logs)


def test_custom_callback_reads_logs_keys_in_every_hook():
    """The guide's fit(validation_split=0.5) / evaluate / predict with CustomCallback: every hook
    gets a dict, with Keras 3's keys (empty at the begin hooks; checked against Keras 3.15 by
    hand: the same keys at every hook)."""
    model = get_model()
    fit_cb, eval_cb, pred_cb = CustomCallback(), CustomCallback(), CustomCallback()
    model.fit(x_train[:1000], y_train[:1000], batch_size=128, epochs=1, verbose=0, validation_split=0.5,
              callbacks=[fit_cb])
    model.evaluate(x_train[:1000], y_train[:1000], batch_size=128, verbose=0, callbacks=[eval_cb])
    model.predict(x_train[:1000], batch_size=128, verbose=0, callbacks=[pred_cb])
    metrics = ["loss", "mean_absolute_error"]
    seen = dict(fit_cb.seen)
    assert seen["train_begin"] == [] and seen["epoch_begin"] == [] and seen["train_batch_begin"] == []
    assert seen["train_batch_end"] == metrics
    assert seen["epoch_end"] == metrics + ["val_loss", "val_mean_absolute_error"]
    assert seen["train_end"] == metrics + ["val_loss", "val_mean_absolute_error"]
    assert [h for h, _ in fit_cb.seen].count("train_batch_end") == 4  # 500 samples, batch 128
    assert seen["test_begin"] == [] and seen["test_batch_end"] == metrics and seen["test_end"] == metrics  # validation
    assert dict(eval_cb.seen) == {"test_begin": [], "test_batch_begin": [], "test_batch_end": metrics,
                                  "test_end": metrics}
    assert dict(pred_cb.seen) == {"predict_begin": [], "predict_batch_begin": [],
                                  "predict_batch_end": ["outputs"], "predict_end": []}
    assert [h for h, _ in pred_cb.seen].count("predict_batch_end") == 8  # 1000 samples, batch 128
