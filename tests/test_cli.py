"""The nnscratch command line: train/evaluate/predict on the shipped sample, and clean errors."""
import contextlib
import csv
import io
import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

import nnscratch as nn
from nnscratch import cli, presets

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULT = re.compile(r"^test loss (\d+\.\d{4}) - test accuracy (\d+\.\d{4})$", re.M)
N_TRAIN, N_TEST = 512, 200


def run(argv, capsys):
    """main(argv) in-process -> (exit status, stdout, stderr)."""
    try:
        status = cli.main(argv)
    except SystemExit as exc:  # argparse errors and --help
        status = exc.code
    out, err = capsys.readouterr()
    return status, out, err


def assert_one_line_error(status, err, *words):
    assert status != 0
    lines = err.strip().splitlines()
    assert len(lines) == 1, f"expected a one-line error, got:\n{err}"
    assert lines[0].startswith("nnscratch: error: "), lines[0]
    assert "Traceback" not in err
    for word in words:
        assert word in lines[0], f"{word!r} not in {lines[0]!r}"


def trained_model(name, weights):
    """A fresh preset model with the saved weights, compiled as the preset says."""
    model, compile_kwargs, _ = presets.get(name)((28, 28, 1), 10)
    model.load_weights(weights)
    model.compile(**compile_kwargs)
    return model


def sample_test_data(name):
    (_, _), (x_test, y_test) = cli.load_dataset("sample")[0]
    x = presets.prepare_images(x_test[:N_TEST], presets.LAYOUTS[name])
    y = presets.prepare_labels(y_test[:N_TEST], name in presets.ONE_HOT, 10)
    return x, y


@pytest.fixture(scope="module")
def mlp_run(tmp_path_factory):
    """One real `nnscratch train` of the mlp preset (2 epochs, 512 sample images), shared by the
    tests below (capsys is per-test, so the output is captured with redirect_stdout)."""
    out = tmp_path_factory.mktemp("run") / "mlp"
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        status = cli.main(["train", "--model", "mlp", "--dataset", "sample", "--epochs", "2",
                           "--limit", str(N_TRAIN), "--test-limit", str(N_TEST), "--quiet",
                           "--out", str(out)])
    return status, stdout.getvalue(), stderr.getvalue(), out


# ----------------------------------------------------------------------------- train
def test_train_prints_data_and_result(mlp_run):
    status, out, err, _ = mlp_run
    assert status == 0, err
    assert f"{N_TRAIN} training images" in out and f"{N_TEST} test images" in out
    assert "sample" in out
    assert len(RESULT.findall(out)) == 1, out


def test_train_writes_every_output(mlp_run):
    _, _, _, out = mlp_run
    history = json.loads((out / "history.json").read_text())
    assert set(history) == {"loss", "accuracy"}
    assert all(len(v) == 2 for v in history.values()), history
    with open(out / "history.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [int(r["epoch"]) for r in rows] == [0, 1]
    np.testing.assert_allclose([float(r["loss"]) for r in rows], history["loss"])
    config = json.loads((out / "config.json").read_text())
    assert config["model"] == "mlp" and config["epochs"] == 2 and config["limit"] == N_TRAIN
    assert config["train_images"] == N_TRAIN and config["test_images"] == N_TEST
    for png in ("learning_curves.png", "samples.png", "confusion_matrix.png"):
        with Image.open(out / png) as img:
            assert img.format == "PNG" and min(img.size) > 200, png
    assert not [f for f in os.listdir(out) if f.startswith((".tmp-", ".nnscratch-tmp-"))]


def test_saved_weights_reproduce_the_printed_result(mlp_run):
    _, printed, _, out = mlp_run
    loss, acc = map(float, RESULT.search(printed).groups())
    model = trained_model("mlp", str(out / "weights.npz"))
    x, y = sample_test_data("mlp")
    got_loss, got_acc = model.evaluate(x, y, batch_size=32, verbose=0)
    assert float(got_loss) == pytest.approx(loss, abs=6e-5)
    assert float(got_acc) == pytest.approx(acc, abs=6e-5)


def test_evaluate_command_matches_train(mlp_run, capsys):
    _, printed, _, out = mlp_run
    status, text, err = run(["evaluate", "--weights", str(out / "weights.npz"), "--model", "mlp",
                             "--dataset", "sample", "--limit", str(N_TEST)], capsys)
    assert status == 0, err
    assert RESULT.search(text).groups() == RESULT.search(printed).groups()


def test_predict_names_the_models_class(mlp_run, capsys, tmp_path):
    _, _, _, out = mlp_run
    (_, _), (x_test, _) = cli.load_dataset("sample")[0]
    image = x_test[0]
    Image.fromarray(image).save(tmp_path / "plain.png")
    Image.fromarray(255 - image).save(tmp_path / "inverted.png")
    model = trained_model("mlp", str(out / "weights.npz"))
    scores = nn.backend.to_host(model.predict(image[None].astype(np.float32) / 255.0))[0]
    probs = np.exp(scores - scores.max()) / np.exp(scores - scores.max()).sum()
    names = cli._class_names("sample")
    want = f"{names[probs.argmax()]} ({probs.max():.4f})"

    status, text, err = run(["predict", str(tmp_path / "plain.png"), "--weights",
                             str(out / "weights.npz"), "--model", "mlp"], capsys)
    assert status == 0, err
    assert text.strip() == f"{tmp_path / 'plain.png'}: {want}"
    status, text, err = run(["predict", str(tmp_path / "inverted.png"), "--invert", "--weights",
                             str(out / "weights.npz"), "--model", "mlp"], capsys)
    assert status == 0, err
    assert text.strip().endswith(want)


@pytest.mark.parametrize("name", ["lenet", "softmax-regression", "dropout-mlp"])
def test_other_presets_train(name, tmp_path, capsys):
    status, out, err = run(["train", "--model", name, "--dataset", "sample", "--limit", "128",
                            "--test-limit", "64", "--quiet", "--out", str(tmp_path)], capsys)
    assert status == 0, err
    assert RESULT.search(out)
    history = json.loads((tmp_path / "history.json").read_text())
    want = {"loss", "accuracy"} | ({"val_loss", "val_accuracy"} if name == "dropout-mlp" else set())
    assert set(history) == want


def test_train_a_model_file(tmp_path, capsys):
    path = tmp_path / "tiny.py"
    path.write_text("import nnscratch as nn\n"
                    "def build_model():\n"
                    "    return nn.Sequential([nn.layers.Flatten(input_shape=(28, 28)),\n"
                    "                          nn.layers.Dense(10, activation='softmax')])\n")
    status, out, err = run(["train", "--model", str(path), "--dataset", "sample", "--limit", "64",
                            "--test-limit", "32", "--quiet", "--optimizer", "sgd",
                            "--out", str(tmp_path / "run")], capsys)
    assert status == 0, err
    assert RESULT.search(out) and (tmp_path / "run" / "weights.npz").is_file()


# ----------------------------------------------------------------------------- errors
@pytest.mark.parametrize("argv, words", [
    (["train", "--epochs", "0"], ["--epochs", "positive"]),
    (["train", "--dataset", "imagenet"], ["imagenet"]),
    (["train", "--bogus"], ["--bogus"]),
    ([], ["required"]),
])
def test_bad_flags_exit_2(argv, words, capsys):
    status, _, err = run(argv, capsys)
    assert status == 2
    assert_one_line_error(status, err, *words)


def test_unknown_model_preset(capsys, tmp_path):
    status, _, err = run(["train", "--model", "resnet", "--dataset", "sample", "--out",
                          str(tmp_path)], capsys)
    assert_one_line_error(status, err, "resnet", "lenet")


def test_unknown_optimizer_and_backend(capsys, tmp_path):
    status, _, err = run(["train", "--optimizer", "adamw2", "--dataset", "sample", "--limit", "32",
                          "--out", str(tmp_path)], capsys)
    assert_one_line_error(status, err, "adamw2")
    if not nn.backend.cupy_available():
        before = nn.backend.current()
        status, _, err = run(["train", "--backend", "cupy", "--dataset", "sample", "--out",
                              str(tmp_path)], capsys)
        assert_one_line_error(status, err, "cupy")
        assert nn.backend.current() == before, "a refused backend switch must leave the backend as it was"


def test_missing_files(capsys, tmp_path):
    status, _, err = run(["evaluate", "--weights", str(tmp_path / "nope.npz"),
                          "--dataset", "sample"], capsys)
    assert_one_line_error(status, err, "nope.npz")
    status, _, err = run(["train", "--model", str(tmp_path / "missing.py"), "--dataset", "sample"],
                         capsys)
    assert_one_line_error(status, err, "missing.py")
    status, _, err = run(["predict", str(tmp_path / "nothere.png"), "--weights",
                          str(tmp_path / "w.npz")], capsys)
    assert_one_line_error(status, err, "nothere.png")


def test_python_m_nnscratch(tmp_path):
    env = dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""))
    ok = subprocess.run([sys.executable, "-m", "nnscratch", "--help"], capture_output=True,
                        text=True, env=env, timeout=60)
    assert ok.returncode == 0 and "train" in ok.stdout and "evaluate" in ok.stdout
    bad = subprocess.run([sys.executable, "-m", "nnscratch", "evaluate", "--weights",
                          str(tmp_path / "missing.npz"), "--dataset", "sample"],
                         capture_output=True, text=True, env=env, timeout=60)
    assert bad.returncode == 1
    assert_one_line_error(bad.returncode, bad.stderr, "missing.npz")
