"""Published Keras examples and TensorFlow tutorials, ported by changing their imports, run on
3,000 Fashion-MNIST training images (1,000 test) for at most a few epochs (see harness.py).
Each must run to its end and learn (test accuracy far above chance, 0.10); the parity suite
(tests/parity/test_programs_tf.py) runs the same text on Keras and compares the accuracies."""
import pytest

from tests import helpers
from tests.programs import harness

pytestmark = pytest.mark.skipif(not helpers.fashion_mnist_available(),
                                reason=f"Fashion-MNIST idx files not found in {helpers.FASHION_DIR}")

#: program -> (harness settings, name of the accuracy in its globals, floor)
PROGRAMS = {
    "mnist_convnet": ({"max_epochs": 1, "n_train": 2000}, "score", 0.55),
    "tf_save_and_load": ({"max_epochs": 5}, "final_acc", 0.55),
    "tf_classification": ({"max_epochs": 2}, "test_acc", 0.6),
    "tf_cnn": ({"max_epochs": 1, "n_train": 2000, "n_test": 500}, "test_acc", 0.45),
    "tf_quickstart_beginner": ({"max_epochs": 2}, None, None),
}
MARKS = {}  # every ported program runs unchanged (nesting and .numpy() now work)


def accuracy_of(name, namespace):
    key = PROGRAMS[name][1]
    value = namespace[key]
    return value[1] if isinstance(value, (list, tuple)) else value


@pytest.mark.parametrize("name", [pytest.param(n, marks=MARKS.get(n, [])) for n in PROGRAMS])
def test_program_runs_unchanged_and_learns(name, tmp_path, capsys):
    settings, key, floor = PROGRAMS[name]
    ns = harness.run(name, "nnscratch", tmp_path, **settings)
    if key is not None:
        assert accuracy_of(name, ns) > floor, f"{name}: accuracy {accuracy_of(name, ns)}"
    out = capsys.readouterr().out
    if name == "tf_save_and_load":
        assert ns["restored_acc"] > ns["untrained_acc"] + 0.2  # the checkpoint carried the training
        assert "Epoch 5: saving weights to training_2/cp-0005.weights.h5" in out
        assert ns["checkpoints"] == ["cp-0000.weights.h5", "cp-0005.weights.h5"]
        assert "loss: " in out and "sparse_categorical_accuracy: " in out  # evaluate(verbose=2) talks


def test_to_keras_changes_only_the_imports():
    src = harness.source_of("mnist_convnet")
    keras_src = harness.to_keras(src)
    changed = [(a, b) for a, b in zip(src.splitlines(), keras_src.splitlines()) if a != b]
    assert changed == [("import nnscratch as keras", "import keras as keras"),
                       ("from nnscratch import layers", "from keras import layers")]
