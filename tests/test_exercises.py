"""nnscratch.exercises: the library's own classes pass every exercise; generated student files
are importable, fail cleanly until solved, pass once solved; every planted classic mistake is
caught and named with its hint; the CLI's exit status follows the result."""
import os
import subprocess
import sys

import pytest

import nnscratch as nn
from nnscratch import exercises
from nnscratch.exercises import catalog, mistakes
from tests.exercise_solutions import PLANTED, SOLUTIONS

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NAMES = [n for n, _ in exercises.list_exercises()]
CLASS_MISTAKES = [(name, m) for name, ms in mistakes.MISTAKES.items() for m in ms if not m.function]
FUNCTION_MISTAKES = [(name, m) for name, ms in mistakes.MISTAKES.items() for m in ms if m.function]


def test_catalogue_has_every_exercise_the_course_needs():
    for name in ("dense", "relu", "sigmoid", "tanh", "softmax_cross_entropy", "dropout", "conv2d",
                 "max_pooling2d", "average_pooling2d", "batch_normalization", "sgd", "rmsprop", "adam"):
        assert name in NAMES, name
    assert catalog.get("maxpool").name == "max_pooling2d" and catalog.get("BatchNorm").name == "batch_normalization"
    with pytest.raises(ValueError, match="unknown exercise 'conv3d'"):
        catalog.get("conv3d")


@pytest.mark.parametrize("name", NAMES)
def test_the_library_solution_passes(name):
    result = exercises.check(catalog.get(name).target, tf=False)
    assert result.passed, result.report()
    assert result["training"].status == "pass" and result["forward" if name not in ("sgd", "rmsprop", "adam")
                                                            else "update_step"].status == "pass"


@pytest.mark.parametrize("name,mistake", CLASS_MISTAKES, ids=[f"{n}-{m.key}" for n, m in CLASS_MISTAKES])
def test_planted_mistake_is_caught_and_named(name, mistake):
    result = exercises.check(mistake.impl, exercise=name, tf=False, train=False)
    assert not result.passed, f"{name}: planted mistake {mistake.key} was not caught\n{result}"
    assert mistake.key in result.mistakes, f"{name}: {mistake.key} caught but not named\n{result}"
    assert mistake.hint in result.report()


@pytest.mark.parametrize("name,mistake", FUNCTION_MISTAKES, ids=[f"{n}-{m.key}" for n, m in FUNCTION_MISTAKES])
def test_planted_helper_mistake_is_caught_and_named(name, mistake, tmp_path):
    path = exercises.start(name, tmp_path)
    with open(path, "a") as f:  # the library's helpers, with the planted one instead of the real one
        for fn in catalog.get(name).functions:
            f.write(f"\nfrom nnscratch.layers.im2col import {fn.__name__}\n")
        f.write(f"\nfrom nnscratch.exercises.mistakes import {mistake.impl.__name__} as {mistake.function}\n")
    check = exercises.check(path, tf=False, train=False)[f"function {mistake.function}"]
    assert check.status == "fail" and mistake.key in check.mistakes, "\n".join(check.details)


@pytest.mark.parametrize("name", NAMES)
def test_generated_file_is_the_real_class_with_stubs(name, tmp_path):
    ex = catalog.get(name)
    path = exercises.start(name, tmp_path)
    text = open(path).read()
    assert f'EXERCISE = "{ex.name}"' in text
    if "Math:" in (ex.target.__doc__ or ""):
        assert "Math:" in text  # the docstring's math block comes along
    for method in ex.methods:
        assert f"def {method}(" in text
    assert text.count('raise NotImplementedError("') == len(ex.methods) + len(ex.functions)
    assert os.path.isfile(tmp_path / f"README_{ex.name}.md")
    result = exercises.check(path, tf=False, train=False)
    assert not result.passed
    assert "NotImplementedError" in result.report()
    with pytest.raises(FileExistsError, match="may hold your work"):
        exercises.start(name, tmp_path)


@pytest.mark.parametrize("name", sorted(SOLUTIONS))
def test_solved_student_file_passes(name, tmp_path):
    path = exercises.start(name, tmp_path)
    with open(path, "a") as f:
        f.write(SOLUTIONS[name])
    result = exercises.check(path, tf=False)
    assert result.passed, result.report()


@pytest.mark.parametrize("name,key,old,new", PLANTED, ids=[f"{n}-{k}" for n, k, _, _ in PLANTED])
def test_mistake_planted_in_a_student_file_is_named(name, key, old, new, tmp_path):
    assert SOLUTIONS[name].count(old) == 1, f"the planted edit must match the solution once: {old!r}"
    path = exercises.start(name, tmp_path)
    with open(path, "a") as f:
        f.write(SOLUTIONS[name].replace(old, new))
    result = exercises.check(path, tf=False, train=False)
    assert not result.passed and key in result.mistakes, result.report()


def test_report_names_output_element_expected_and_received():
    m = next(m for m in mistakes.MISTAKES["conv2d"] if m.key == "kernel_flipped")
    text = exercises.check(m.impl, exercise="conv2d", tf=False).report()
    assert "FAIL  forward vs nnscratch" in text and "output 'y' element (0, 0, 0, 0): expected" in text
    assert "received" in text and "hint (kernel flipped" in text and "RESULT: FAIL" in text


def test_check_rejects_what_is_no_exercise(tmp_path):
    with pytest.raises(TypeError, match="not a subclass of any exercise"):
        exercises.check(nn.layers.Flatten)
    empty = tmp_path / "empty.py"
    empty.write_text("x = 1\n")
    with pytest.raises(ValueError, match="names no exercise"):
        exercises.check(empty)


def _cli(*args, cwd=None):
    env = dict(os.environ, PYTHONPATH=ROOT)
    return subprocess.run([sys.executable, "-m", "nnscratch", *args], capture_output=True, text=True, cwd=cwd,
                          env=env, timeout=300)


def test_cli_exercise_list_start_check_exit_status(tmp_path):
    out = _cli("exercise", "list")
    assert out.returncode == 0 and "conv2d" in out.stdout and "adam" in out.stdout
    out = _cli("exercise", "start", "dense", str(tmp_path))
    assert out.returncode == 0, out.stderr
    path = tmp_path / "dense.py"
    out = _cli("exercise", "check", str(path), "--no-tf")
    assert out.returncode == 1 and "NotImplementedError" in out.stdout
    with open(path, "a") as f:
        f.write(SOLUTIONS["dense"])
    out = _cli("exercise", "check", str(path), "--no-tf")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "RESULT: PASS" in out.stdout


@pytest.mark.tf
def test_library_solutions_match_tensorflow():
    pytest.importorskip("tensorflow")
    for name in NAMES:
        result = exercises.check(catalog.get(name).target, tf=True, train=False)
        tf_check = result["TensorFlow parity"]
        assert tf_check.status == "pass", f"{name}: {tf_check.summary} {tf_check.details}"


@pytest.mark.tf
def test_tensorflow_parity_catches_a_planted_mistake():
    pytest.importorskip("tensorflow")
    m = next(m for m in mistakes.MISTAKES["average_pooling2d"] if m.key == "padded_cells_counted")
    tf_check = exercises.check(m.impl, exercise="average_pooling2d", tf=True, train=False)["TensorFlow parity"]
    assert tf_check.status == "fail" and "expected = TensorFlow" in " ".join(tf_check.details)


def test_a_file_that_does_not_import_is_a_failed_check(tmp_path):
    path = tmp_path / "broken.py"
    path.write_text("EXERCISE = 'dense'\ndef oops(:\n")
    result = exercises.check(path, tf=False)
    assert not result.passed and "SyntaxError" in result.report()


def test_required_tensorflow_that_does_not_import_fails(monkeypatch):
    from nnscratch.exercises import tf_parity

    def broken():
        raise ImportError("no TensorFlow here")

    monkeypatch.setattr(tf_parity, "_tf", broken)
    result = exercises.check(nn.activations.Tanh, tf=True, train=False)
    assert result["TensorFlow parity"].status == "fail" and not result.passed
