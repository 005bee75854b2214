"""``check(obj)``: grade a student's class against nnscratch's own one.

The checks, in order (each runs even when an earlier one failed):

1. the helper functions the exercise asks for (im2col, col2im, same_padding), on a sweep;
2. forward: output shape and values on every case (shapes, strides, paddings, both data
   formats), and BatchNormalization's moving statistics;
3. backward: dx and every parameter gradient, same cases (optimizers: the parameters and
   the slots after each of a few steps, in one 'update' check);
4. the float64 gradient check (central differences, ``nnscratch.debug.gradient_check``);
5. TensorFlow parity, when TensorFlow is importable (``tf_parity.py``);
6. training: the class plugged into a small model, a few steps beside the reference model.
"""
from __future__ import annotations

import importlib.util
import inspect
import itertools
import os
import sys
import traceback

import numpy as np

from nnscratch import backend
from nnscratch.debug.gradcheck import check_layer, check_loss
from nnscratch.exercises import catalog, mistakes as mistakes_mod, runners, tf_parity, training_check  # tf_parity imports TensorFlow only when run
from nnscratch.exercises.report import Check, CheckResult, mismatch, relation_hint

GRADCHECK_TOL = 1e-6
_COUNTER = itertools.count()


# ------------------------------------------------------------------ loading
def load_file(path):
    """Import a student file as a fresh module (each call re-reads the file)."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"exercises.check: no file {path!r}")
    name = f"nnscratch_exercise_{next(_COUNTER)}_{os.path.splitext(os.path.basename(path))[0]}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses and pickling look modules up by name
    spec.loader.exec_module(module)
    return module


def resolve(obj, exercise=None):
    """(Exercise, class, where) for a path, a module or a class."""
    where = None
    if isinstance(obj, (str, os.PathLike)):
        where, obj = os.fspath(obj), load_file(obj)
    if inspect.ismodule(obj):
        where = where or getattr(obj, "__file__", obj.__name__)
        name = exercise or getattr(obj, "EXERCISE", None)
        ex = catalog.get(name) if name else None
        candidates = [v for v in vars(obj).values() if inspect.isclass(v) and v.__module__ == obj.__name__]
        if ex is None:
            for c in candidates:
                ex = catalog.for_class(c)
                if ex:
                    break
        if ex is None:
            raise ValueError(f"exercises.check: {where} names no exercise (EXERCISE = '...') and defines no "
                             f"subclass of an exercise's class; exercises: {', '.join(catalog.CATALOG)}")
        cls = getattr(obj, ex.target.__name__, None)
        if not (inspect.isclass(cls) and issubclass(cls, ex.target)):
            cls = next((c for c in candidates if issubclass(c, ex.target)), None)
        if cls is None:
            raise ValueError(f"exercises.check: {where} defines no subclass of {ex.target.__name__} "
                             f"(exercise {ex.name!r})")
        return ex, cls, where
    if not inspect.isclass(obj):
        obj = type(obj)
    ex = catalog.get(exercise) if exercise else catalog.for_class(obj)
    if ex is None or not issubclass(obj, ex.target):
        raise TypeError(f"exercises.check: {obj.__name__} is not a subclass of any exercise's class; "
                        f"exercises: {', '.join(catalog.CATALOG)}")
    return ex, obj, f"{obj.__module__}.{obj.__qualname__}"


def _functions(ex, cls):
    """{name: the student's function} for the exercise's helpers: from the class's module, or
    the library's own ones for a class of nnscratch (the model solution)."""
    module = sys.modules.get(cls.__module__)
    found = {}
    for fn in ex.functions:
        student = getattr(module, fn.__name__, None)
        if callable(student):
            found[fn.__name__] = student
        elif cls.__module__.startswith("nnscratch."):
            found[fn.__name__] = fn
    return found


def _error_text(phase, exc):
    last = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
    at = f" (at {os.path.basename(last.filename)}:{last.lineno})" if last else ""
    return f"{phase} raised {type(exc).__name__}: {exc}{at}"


# ------------------------------------------------------------------ diagnosis
def _diagnose(ex, data, quantity, received, expected, ref_out, function=None):
    """The planted mistake whose output equals the student's (and not the reference's)."""
    for m in mistakes_mod.for_exercise(ex.name):
        if bool(m.function) != bool(function) or (function and m.function != function):
            continue
        try:
            variant = function_outputs(m.impl, data)[quantity] if function else runners.run(ex, m.impl, data).get(quantity)
        except Exception:
            continue
        if variant is None or mismatch(quantity, variant, expected) is None:
            continue  # this case does not show that mistake
        if mismatch(quantity, received, variant) is None:
            return m
    return None


def _explain(check, ex, data, quantity, received, expected, ref_out, label, function=None):
    line = mismatch(quantity, received, expected)
    m = _diagnose(ex, data, quantity, received, expected, ref_out, function)
    lines = [label, line]
    if m is not None:
        lines.append(f"hint ({m.title}): {m.hint}")
    else:
        rel = relation_hint(received, expected)
        if rel:
            lines.append(f"hint: {rel}")
        classics = [k for k in mistakes_mod.for_exercise(ex.name) if bool(k.function) == bool(function)]
        if classics:
            lines.append("classic mistakes here: " + "; ".join(dict.fromkeys(k.title for k in classics)))
    check.fail(*lines, mistake=m)


# ------------------------------------------------------------------ helper functions
def function_cases(name):
    """Argument tuples for the helper functions (strides, dilations, odd totals)."""
    if name == "same_padding":
        return [(n, k, s, d) for n in (5, 6, 7) for k in (2, 3) for s in (1, 2) for d in (1, 2)]
    geoms = [((1, 6, 6, 2), 3, 3, 1, 1, 1, 1), ((2, 7, 6, 1), 3, 2, 2, 2, 1, 1), ((1, 8, 7, 3), 2, 3, 2, 1, 1, 1),
             ((1, 7, 7, 2), 3, 3, 1, 1, 2, 2)]
    return geoms


class _FnData:
    def __init__(self, name, args):
        self.name, self.args = name, args


def function_outputs(fn, data):
    """Run a helper on one argument set: {'out': array}."""
    if data.name == "same_padding":
        return {"out": np.asarray(fn(*data.args), dtype=np.float64)}
    shape, KH, KW, SH, SW, DH, DW = data.args
    N, Hp, Wp, C = shape
    H_out, W_out = (Hp - (KH - 1) * DH - 1) // SH + 1, (Wp - (KW - 1) * DW - 1) // SW + 1
    rng = np.random.default_rng(7)
    if data.name == "im2col":
        x_pad = backend.to_device(rng.standard_normal(shape))
        return {"out": runners.host(fn(x_pad, KH, KW, SH, SW, H_out, W_out, DH, DW))}
    dcol = backend.to_device(rng.standard_normal((N, H_out, W_out, KH, KW, C)))
    return {"out": runners.host(fn(dcol, shape, SH, SW, DH, DW))}


def check_functions(ex, cls):
    out = []
    found = _functions(ex, cls)
    for fn in ex.functions:
        check = Check(f"function {fn.__name__}")
        out.append(check)
        student = found.get(fn.__name__)
        if student is None:
            check.skip(f"not defined in {cls.__module__}")
            continue
        cases = function_cases(fn.__name__)
        for args in cases:
            data = _FnData(fn.__name__, args)
            expected = function_outputs(fn, data)["out"]
            try:
                received = function_outputs(student, data)["out"]
            except Exception as exc:
                check.fail(f"arguments {args}: " + _error_text(fn.__name__, exc))
                break
            if mismatch("out", received, expected) is not None:
                _explain(check, ex, data, "out", received, expected, None, f"arguments {args}:", function=fn.__name__)
                break
        if check.passed:
            check.summary = f"{len(cases)} argument sets"
    return out


# ------------------------------------------------------------------ values
def check_values(ex, cls):
    """The 'forward' and 'backward' checks (one 'update' check for optimizers)."""
    phases = ["update"] if ex.kind == "optimizer" else ["forward", "backward"]
    checks = {p: Check({"forward": "forward vs nnscratch", "backward": "backward vs nnscratch",
                        "update": "update_step vs nnscratch"}[p]) for p in phases}
    failed_cases = {p: 0 for p in phases}
    for i, case in enumerate(ex.cases):
        data = runners.CaseData(ex, case, i)
        ref = runners.run(ex, ex.target, data)
        if "_error" in ref:
            raise RuntimeError(f"exercises: the reference {ex.target.__name__} failed on case {case.describe()}: "
                               f"{ref['_error'][1]}")
        got = runners.run(ex, cls, data)
        label = f"case {i + 1} of {len(ex.cases)}: {ex.target.__name__}{case.describe()}:"
        for p in phases:
            names = [k for k in ref if not k.startswith("_")] if p == "update" else runners.quantities(ex, ref, p)
            err = got.get("_error")
            if err is not None and any(n not in got for n in names):
                failed_cases[p] += 1
                if checks[p].passed:
                    checks[p].fail(label, _error_text(*err))
                continue
            for name in names:
                if got.get(name) is None and ref.get(name) is not None:
                    bad = f"output '{name}' missing (None)"
                elif mismatch(name, got.get(name), ref[name]) is None:
                    continue
                else:
                    bad = None
                failed_cases[p] += 1
                if checks[p].passed:
                    if bad:
                        checks[p].fail(label, bad)
                    else:
                        _explain(checks[p], ex, data, name, got[name], ref[name], ref, label)
                break
    for p, check in checks.items():
        n = len(ex.cases)
        check.summary = f"{n} cases" if check.passed else f"{failed_cases[p]} of {n} cases wrong; the first:"
    return list(checks.values())


# ------------------------------------------------------------------ gradient check
def check_gradients(ex, cls):
    check = Check("gradient check (float64)")
    if ex.kind == "optimizer":
        check.skip("an optimizer has no backward pass")
        return check
    for i, case in enumerate(ex.cases):
        data = runners.CaseData(ex, case, i)
        label = f"case {i + 1} of {len(ex.cases)}: {ex.target.__name__}{case.describe()}:"
        try:
            if ex.kind == "loss":
                result = check_loss(cls(**case.config), data.x, data.labels)
            else:
                layer = runners.build_layer(ex, cls, data)
                result = check_layer(layer, data.x, dy=data.dy, training=case.training)
        except Exception as exc:
            check.fail(label, _error_text("the gradient check", exc))
            break
        bad = {k: v for k, v in result.items() if not v < GRADCHECK_TOL}
        if bad:
            errs = ", ".join(f"{k} {v:.2e}" for k, v in result.items())
            check.fail(label, f"backward disagrees with central differences for {', '.join(bad)} "
                              f"(relative errors: {errs}; a correct backward gives < {GRADCHECK_TOL:g})")
            break
    if check.passed:
        check.summary = f"{len(ex.cases)} cases, dx and every parameter, tolerance {GRADCHECK_TOL:g}"
    return check


# ------------------------------------------------------------------ entry point
def tf_wanted(tf):
    if tf == "auto":
        return importlib.util.find_spec("tensorflow") is not None
    return bool(tf)


def check(obj, exercise=None, tf="auto", train=True):
    """Grade ``obj`` (a student file's path, a module, or a class) against nnscratch's own
    implementation. ``tf``: 'auto' (TensorFlow parity when it is importable), True (required:
    the check fails when TensorFlow does not import) or False.
    Returns a ``CheckResult``; ``result.passed`` is True only when no check failed."""
    if isinstance(obj, (str, os.PathLike)) and os.path.isfile(obj):
        try:
            obj = load_file(obj)
        except Exception as exc:  # a syntax error or a failing import is a failed check, not a crash
            failed = Check("import the file")
            failed.fail(_error_text(f"importing {os.fspath(obj)}", exc))
            return CheckResult(exercise or "?", "?", os.fspath(obj), [failed])
    ex, cls, where = resolve(obj, exercise)
    result = CheckResult(ex.name, cls.__name__, where)
    with np.errstate(all="ignore"):
        result.checks.extend(check_functions(ex, cls))
        result.checks.extend(check_values(ex, cls))
        result.checks.append(check_gradients(ex, cls))
        tf_check = Check("TensorFlow parity")
        if tf_wanted(tf):
            tf_parity.run(ex, cls, tf_check, required=tf is True)
        else:
            tf_check.skip("TensorFlow is not importable" if tf == "auto" else "not requested (tf=False)")
        result.checks.append(tf_check)
        train_check = Check("training beside the reference")
        if train:
            training_check.run(ex, cls, train_check)
        else:
            train_check.skip("not requested (train=False)")
        result.checks.append(train_check)
    return result


__all__ = ["check", "resolve", "load_file"]
