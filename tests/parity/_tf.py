"""One place that imports TensorFlow for the parity suite, quietly, on one thread, without oneDNN.

Three settings must be in place before TensorFlow is imported or runs its first op, and all
happen here, so every module of the suite (and ``python -m tests.parity.report``, or any
subprocess that imports this module) gets the same TensorFlow:

* ``TF_ENABLE_ONEDNN_OPTS=0``: TensorFlow 2.21's oneDNN convolution kernels were seen to compute
  a wrong input gradient (and corrupt the heap) for a 1x1 kernel with strides (1, 3) and padding
  'same' on a (3, 13, 12, 4) input. The oracle must be TensorFlow's reference kernels, so this
  is forced, not defaulted;
* ``TF_CPP_MIN_LOG_LEVEL=2`` (defaulted: set it yourself to see TensorFlow's logs);
* one intra-/inter-op thread.

``IMPORTED_BEFORE_CONFIGURED`` records whether TensorFlow was already imported when this module
was first loaded (then the environment came too late); ``tests/parity/test_oracle.py`` checks it.
"""
from __future__ import annotations

import os
import sys

SKIP_REASON = "the TF-parity suite needs tensorflow-cpu==2.21.0 (pip install -e '.[test]')"
IMPORTED_BEFORE_CONFIGURED = "tensorflow" in sys.modules


def configure_environment():
    """Set the environment TensorFlow reads at import (call before importing it)."""
    os.environ["TF_ENABLE_ONEDNN_OPTS"] = "0"
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


configure_environment()


def load_tf():
    """Import and configure TensorFlow + Keras; returns (tf, keras). Raises ImportError if absent."""
    configure_environment()
    import tensorflow as tf  # noqa: E402  (the environment above must come first)

    try:
        tf.config.threading.set_intra_op_parallelism_threads(1)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError:
        pass  # TensorFlow was already initialised by an earlier import: the settings stand
    tf.get_logger().setLevel("ERROR")  # the suite builds many small tf.functions on purpose
    import keras

    return tf, keras
