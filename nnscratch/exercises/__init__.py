"""nnscratch.exercises: backprop exercises that grade themselves.

    nn.exercises.list_exercises()               # [(name, title), ...]
    path = nn.exercises.start("conv2d", "hw3")  # hw3/conv2d.py + hw3/README_conv2d.md
    result = nn.exercises.check(path)           # or check(MyConv2D), check(nn.layers.Conv2D)
    print(result); result.passed

The student file is generated from nnscratch's own class (its docstring, signatures and
shapes) and graded against it: forward and backward values on several cases, a float64
gradient check, TensorFlow parity when TensorFlow is installed, and a few training steps beside
the reference. A failure names the output, the element, the expected and the received value,
and the classic mistake when it recognises one (``mistakes.py``).
"""
from nnscratch.exercises import catalog, mistakes
from nnscratch.exercises.catalog import CATALOG, EXERCISES, Exercise
from nnscratch.exercises.grader import check
from nnscratch.exercises.report import Check, CheckResult
from nnscratch.exercises.template import readme, source, start


def list_exercises():
    """[(name, title)] of every exercise, in catalogue order."""
    return [(e.name, e.title) for e in EXERCISES]


__all__ = ["check", "start", "source", "readme", "list_exercises", "CATALOG", "EXERCISES", "Exercise",
           "Check", "CheckResult", "catalog", "mistakes"]
