"""Every public layer, loss and optimizer teaches its math: the class docstring states the
forward and backward formulas (a 'Math' section, or 'forward' and 'backward') and the shapes."""
import inspect
import re

import pytest

import nnscratch as nn

# abstract bases and plumbing, not math: documented in their modules instead
NOT_MATH = {"Layer", "InputLayer", "SymbolicTensor", "Loss", "Optimizer", "LearningRateSchedule",
            "NoBackwardError", "Variable"}


def public_classes(module):
    names = getattr(module, "__all__", None) or [n for n in dir(module) if not n.startswith("_")]
    seen = {}
    for name in names:
        obj = getattr(module, name, None)
        if inspect.isclass(obj) and obj.__module__.startswith("nnscratch") and obj.__name__ not in NOT_MATH:
            seen[obj.__name__] = obj  # aliases (MaxPool2D) collapse onto their class
    return sorted(seen.values(), key=lambda c: c.__name__)


CLASSES = [c for m in (nn.layers, nn.losses, nn.optimizers) for c in public_classes(m)]


def test_the_scan_finds_the_core_classes():
    names = {c.__name__ for c in CLASSES}
    assert {"Dense", "Conv2D", "MaxPooling2D", "SparseCategoricalCrossentropy", "MeanSquaredError",
            "SGD", "Adam", "RMSprop"} <= names, names


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_docstring_states_formulas_and_shapes(cls):
    doc = inspect.getdoc(cls) or ""
    assert doc, f"{cls.__name__} has no docstring"
    has_math = "Math" in doc or ("forward" in doc and "backward" in doc)
    assert has_math, f"{cls.__name__}: the docstring needs a 'Math:' section with the forward/backward formulas"
    assert "=" in doc or "<-" in doc, f"{cls.__name__}: the 'Math' section should contain formulas"
    assert re.search(r"\bshapes?\b", doc, re.IGNORECASE), f"{cls.__name__}: the docstring needs the shapes"
