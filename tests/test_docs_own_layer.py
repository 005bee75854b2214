"""docs/writing-your-own-layer.md runs: every python block, in order, in one namespace (its asserts
are the gradient checks the page shows)."""
import pathlib
import re

import pytest

import nnscratch as nn

PAGE = pathlib.Path(__file__).resolve().parents[1] / "docs" / "writing-your-own-layer.md"


def blocks():
    return re.findall(r"```python\n(.*?)```", PAGE.read_text(), flags=re.S)


def test_the_page_has_both_forms_and_a_gradient_check():
    text = "".join(blocks())
    assert "def backward(self, dy)" in text and "def call(self" in text and "gradient_check" in text


def test_every_block_runs(capsys):
    namespace = {}
    for code in blocks():
        exec(compile(code, str(PAGE), "exec"), namespace)
    printed = capsys.readouterr().out
    assert "passed" in printed and "no autograd" in printed


def test_the_broken_example_really_fails():
    namespace = {}
    for code in blocks()[:2]:
        exec(compile(code, str(PAGE), "exec"), namespace)
    exec(compile(blocks()[3].split("try:")[0], str(PAGE), "exec"), namespace)
    with pytest.raises(nn.layers.NoBackwardError, match="numpy.exp"):
        namespace["Broken"]()(namespace["np"].ones((2, 3), dtype="float32"))
