"""What ``check`` returns: one ``Check`` per graded aspect and a ``CheckResult`` over them.

A failure says which case, which output, which element, the expected and the received value,
and, when the received values equal those of a planted classic mistake (``mistakes.py``), its
name and hint; otherwise it lists the classic mistakes of the exercise.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

#: values are compared in float64 with these tolerances (|r - e| <= ATOL * scale + RTOL * |e|)
RTOL, ATOL = 1e-7, 1e-9


def close(received, expected):
    """True when the two arrays have the same shape and agree to RTOL/ATOL (NaN equals NaN)."""
    r, e = np.asarray(received, dtype=np.float64), np.asarray(expected, dtype=np.float64)
    if r.shape != e.shape:
        return False
    finite = e[np.isfinite(e)]
    scale = max(float(np.abs(finite).max(initial=0.0)), 1.0)
    return bool(np.allclose(r, e, rtol=RTOL, atol=ATOL * scale, equal_nan=True))


def mismatch(quantity, received, expected):
    """None when they agree, else a text naming the first wrong element."""
    r, e = np.asarray(received, dtype=np.float64), np.asarray(expected, dtype=np.float64)
    if r.shape != e.shape:
        return f"output '{quantity}' has shape {r.shape}, expected {e.shape}"
    if close(r, e):
        return None
    bad = ~np.isclose(r, e, rtol=RTOL, atol=ATOL * max(float(np.abs(e[np.isfinite(e)]).max(initial=0.0)), 1.0),
                      equal_nan=True)
    idx = tuple(int(i) for i in np.argwhere(bad)[0]) if r.ndim else ()
    where = f"element {idx}" if idx else "value"
    err = np.abs(r - e)
    finite = np.isfinite(err)
    tail = f"max |error| {err[finite].max(initial=0.0):.3g}" + ("" if finite.all() else
                                                               f", {int((~finite).sum())} non-finite")
    return (f"output '{quantity}' {where}: expected {e[idx]:.6g}, received {r[idx]:.6g}; "
            f"{int(bad.sum())} of {bad.size} elements differ, {tail}")


def relation_hint(received, expected):
    """A hint from a simple relation between the wrong and the right values, or ''."""
    r, e = np.asarray(received, dtype=np.float64), np.asarray(expected, dtype=np.float64)
    if r.shape != e.shape:
        return ""
    if not np.isfinite(r).all():
        return "the result has NaN or Inf: an overflow (exp of a large number?) or a division by zero"
    if not np.any(r) and np.any(e):
        return ("the result is all zeros: is it written into the right array (e.g. self.grads['kernel'][...] = "
                "..., not a new local name)?")
    mask = np.abs(e) > 1e-12
    if mask.sum() >= 2:
        ratio = r[mask] / e[mask]
        k = float(np.median(ratio))
        if abs(k - 1) > 1e-6 and np.allclose(ratio, k, rtol=1e-6):
            if np.isclose(k, -1):
                return "received = -expected: the sign is flipped"
            return (f"received = {k:.6g} x expected everywhere: a missing or extra constant factor "
                    "(a 1/N, a 1/(1 - rate), a window count?)")
    return ""


@dataclass
class Check:
    """One graded aspect. status: 'pass', 'fail' or 'skip'."""

    name: str
    status: str = "pass"
    summary: str = ""
    details: list = field(default_factory=list)
    mistakes: list = field(default_factory=list)  # keys of the diagnosed classic mistakes

    def fail(self, *lines, mistake=None):
        self.status = "fail"
        self.details.extend(lines)
        if mistake is not None and mistake.key not in self.mistakes:
            self.mistakes.append(mistake.key)

    def skip(self, reason):
        self.status = "skip"
        self.summary = reason

    @property
    def passed(self):
        return self.status != "fail"


class CheckResult:
    """The grade of one exercise: ``.passed`` (every check passed or was skipped), ``.checks``,
    ``.mistakes`` (the classic mistakes recognised), ``.report()`` (the text) and ``str()``."""

    def __init__(self, exercise, target_name, source, checks=None):
        self.exercise = exercise
        self.target_name = target_name
        self.source = source
        self.checks = list(checks or [])

    @property
    def passed(self) -> bool:
        return bool(self.checks) and all(c.passed for c in self.checks)

    @property
    def failed(self):
        return [c for c in self.checks if c.status == "fail"]

    @property
    def mistakes(self):
        return {m for c in self.checks for m in c.mistakes}

    def __getitem__(self, name):
        for c in self.checks:
            if c.name == name or c.name.startswith(name):
                return c
        raise KeyError(f"no check named {name!r}; checks: {', '.join(c.name for c in self.checks)}")

    def report(self) -> str:
        lines = [f"nnscratch exercise check: {self.exercise} ({self.target_name} from {self.source})"]
        width = max((len(c.name) for c in self.checks), default=10)
        for c in self.checks:
            lines.append(f"  {c.status.upper():4}  {c.name.ljust(width)}  {c.summary}".rstrip())
            lines.extend(f"        {d}" for d in c.details)
        n_fail = len(self.failed)
        skipped = sum(c.status == "skip" for c in self.checks)
        verdict = "PASS" if self.passed else f"FAIL ({n_fail} of {len(self.checks)} checks failed)"
        lines.append(f"RESULT: {verdict}" + (f"; {skipped} skipped" if skipped else ""))
        return "\n".join(lines)

    def __str__(self):
        return self.report()

    def __repr__(self):
        state = "passed" if self.passed else f"failed: {', '.join(c.name for c in self.failed)}"
        return f"CheckResult({self.exercise!r}, {state})"
