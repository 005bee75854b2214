"""`nnscratch evaluate`/`predict` without --model read the config.json that `train` wrote beside
the weights (issue 16, item 7e); the --model help says a .py file is executed (item 7d)."""
import json
import os

import pytest
from PIL import Image

from nnscratch import cli
from tests.test_cli import RESULT, REPO, assert_one_line_error, run


@pytest.fixture(scope="module")
def mlp_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "mlp"
    assert cli.main(["train", "--model", "mlp", "--dataset", "sample", "--limit", "64",
                     "--test-limit", "48", "--quiet", "--out", str(out)]) == 0
    return out


def test_evaluate_without_model_uses_the_trained_model_from_config_json(mlp_dir, capsys):
    with_flag = run(["evaluate", "--weights", str(mlp_dir / "weights.npz"), "--model", "mlp",
                     "--dataset", "sample", "--limit", "48"], capsys)
    without = run(["evaluate", "--weights", str(mlp_dir / "weights.npz"), "--dataset", "sample",
                   "--limit", "48"], capsys)
    assert with_flag[0] == 0 and without[0] == 0, without[2]
    assert RESULT.search(without[1]).groups() == RESULT.search(with_flag[1]).groups()
    assert "model: mlp (from " in without[2] and "config.json" in without[2]


def test_predict_without_model_uses_config_json(mlp_dir, capsys, tmp_path):
    (_, _), (x_test, _) = cli.load_dataset("sample")[0]
    Image.fromarray(x_test[0]).save(tmp_path / "img.png")
    with_flag = run(["predict", str(tmp_path / "img.png"), "--weights", str(mlp_dir / "weights.npz"),
                     "--model", "mlp"], capsys)
    without = run(["predict", str(tmp_path / "img.png"), "--weights", str(mlp_dir / "weights.npz")], capsys)
    assert without[0] == 0, without[2]
    assert without[1].strip().splitlines()[-1] == with_flag[1].strip().splitlines()[-1]


def test_an_explicit_model_overrides_config_json(mlp_dir, capsys):
    status, _, err = run(["evaluate", "--weights", str(mlp_dir / "weights.npz"), "--model", "lenet",
                          "--dataset", "sample", "--limit", "48"], capsys)
    assert_one_line_error(status, err, "weights.npz")  # lenet's weights are not the mlp's


def test_without_config_json_the_default_is_lenet(mlp_dir, capsys, tmp_path):
    weights = tmp_path / "weights.npz"
    weights.write_bytes((mlp_dir / "weights.npz").read_bytes())
    status, _, err = run(["evaluate", "--weights", str(weights), "--dataset", "sample", "--limit", "48"], capsys)
    assert_one_line_error(status, err, "weights.npz")


@pytest.mark.parametrize("text", ["{not json", '["mlp"]', '{"model": 3}'])
def test_a_broken_config_json_is_one_clear_error(mlp_dir, capsys, tmp_path, text):
    weights = tmp_path / "weights.npz"
    weights.write_bytes((mlp_dir / "weights.npz").read_bytes())
    (tmp_path / "config.json").write_text(text)
    status, _, err = run(["evaluate", "--weights", str(weights), "--dataset", "sample"], capsys)
    assert_one_line_error(status, err, "config.json", "--model")


@pytest.mark.parametrize("command", ["train", "evaluate", "predict"])
def test_model_help_says_a_python_file_is_executed(command, capsys):
    status, out, _ = run([command, "--help"], capsys)
    assert status == 0
    assert "executed as Python code" in " ".join(out.split())


def test_readme_says_a_model_file_is_executed():
    with open(os.path.join(REPO, "README.md"), encoding="utf-8") as fh:
        text = " ".join(fh.read().split())
    assert "executed as Python code" in text
