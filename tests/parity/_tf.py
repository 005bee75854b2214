"""One place that imports TensorFlow for the parity suite, quietly and on one thread.

``TF_CPP_MIN_LOG_LEVEL=2`` must be in the environment before TensorFlow is imported, and the
thread pools must be sized before TensorFlow runs its first op; both happen here, so every
module of the suite (and ``python -m tests.parity.report``) gets the same TensorFlow.
"""
from __future__ import annotations

import os


SKIP_REASON = "the TF-parity suite needs tensorflow-cpu==2.21.0 (pip install -e '.[test]')"


def load_tf():
    """Import and configure TensorFlow + Keras; returns (tf, keras). Raises ImportError if absent."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf  # noqa: E402  (the env var above must come first)

    try:
        tf.config.threading.set_intra_op_parallelism_threads(1)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError:
        pass  # TensorFlow was already initialised by an earlier import: the settings stand
    tf.get_logger().setLevel("ERROR")  # the suite builds many small tf.functions on purpose
    import keras

    return tf, keras
