"""Callbacks: hooks into fit/evaluate/predict with Keras's names and timing (Keras's layout:
one family per module).

A callback overrides any of ``on_train_begin/end``, ``on_epoch_begin/end``,
``on_train_batch_begin/end``, ``on_test_begin/end``, ``on_test_batch_begin/end``,
``on_predict_begin/end``, ``on_predict_batch_begin/end``; ``self.model`` is set by fit, and
``self.model.stop_training = True`` stops training after the current epoch.

Keras's built-in callbacks, with Keras 3's names, arguments and timing: EarlyStopping,
ModelCheckpoint, LearningRateScheduler, ReduceLROnPlateau, CSVLogger, TerminateOnNaN,
LambdaCallback, TensorBoard (event files written by tensorboardX) and BackupAndRestore.
"""
from nnscratch.callbacks.backup_and_restore import BackupAndRestore
from nnscratch.callbacks.callback import Callback, CallbackList
from nnscratch.callbacks.early_stopping import EarlyStopping
from nnscratch.callbacks.history import History
from nnscratch.callbacks.learning_rate import LearningRateScheduler, ReduceLROnPlateau
from nnscratch.callbacks.loggers import CSVLogger, LambdaCallback, TerminateOnNaN
from nnscratch.callbacks.model_checkpoint import ModelCheckpoint
from nnscratch.callbacks.tensorboard import TensorBoard

__all__ = ["Callback", "CallbackList", "History", "EarlyStopping", "ModelCheckpoint", "LearningRateScheduler",
           "ReduceLROnPlateau", "CSVLogger", "TerminateOnNaN", "LambdaCallback", "TensorBoard", "BackupAndRestore"]
