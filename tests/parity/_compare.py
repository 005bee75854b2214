"""assert_close: the one comparison of the parity suite, with a message that names the culprit.

TensorFlow is an oracle that can be wrong too (its oneDNN kernels have been), so where
nnscratch and TensorFlow disagree, a third answer breaks the tie: the plain-loop reference
kernels of ``nnscratch.debug.reference`` (computed in float64, each output value by looping
over its window exactly as the layer docstrings' math says). The failure message then says
which side is wrong: nnscratch, TensorFlow, or both.
"""
from __future__ import annotations

import numpy as np


def to_numpy(a):
    """A host numpy array from a TF tensor, a CuPy/NumPy array or a Python number."""
    if hasattr(a, "numpy"):
        return np.asarray(a.numpy())
    if hasattr(a, "get"):
        return np.asarray(a.get())
    return np.asarray(a)


def errors(ours, theirs):
    """(max abs error, max rel error) between two arrays."""
    a = to_numpy(ours).astype(np.float64)
    b = to_numpy(theirs).astype(np.float64)
    if a.shape != b.shape:
        raise AssertionError(f"shape mismatch: ours {a.shape}, TensorFlow {b.shape}")
    if a.size == 0:
        return 0.0, 0.0
    diff = np.abs(a - b)
    both_nan = np.isnan(a) & np.isnan(b)
    diff = np.where(both_nan, 0.0, diff)
    diff = np.where(np.isnan(diff), np.inf, diff)
    # relative error only where the reference is not ~0 (1e-6 of its largest magnitude): a
    # relative error of an element that cancels to 0 says nothing; the absolute error covers it
    finite = np.abs(b[np.isfinite(b)])
    floor = 1e-6 * max(1.0, float(finite.max()) if finite.size else 1.0)
    rel = np.where(np.abs(b) > floor, diff / np.maximum(np.abs(b), floor), 0.0)
    rel = np.where(diff == 0, 0.0, rel)
    return float(diff.max()), float(rel.max())


def within(ours, theirs, tol):
    """True where |ours - theirs| <= atol * max(1, max|theirs|) + rtol * |theirs| everywhere."""
    a = to_numpy(ours).astype(np.float64)
    b = to_numpy(theirs).astype(np.float64)
    if a.shape != b.shape:
        return False
    if a.size == 0:
        return True
    scale = max(1.0, float(np.nanmax(np.abs(b))) if np.isfinite(b).any() else 1.0)
    allowed = tol.atol * scale + tol.rtol * np.abs(b)
    same = (a == b) | (np.isnan(a) & np.isnan(b))
    return bool(np.all(same | (np.abs(a - b) <= allowed)))


def verdict(ours, theirs, ref, tol):
    """Which side the loop reference ``ref`` says is wrong, as a sentence."""
    if ref is None:
        return "no loop reference for this quantity, so which side is wrong is not known"
    ref = to_numpy(ref)
    ours_ok, theirs_ok = within(ours, ref, tol), within(theirs, ref, tol)
    e_ours, e_theirs = errors(ours, ref)[0], errors(theirs, ref)[0]
    detail = f"(max abs err against the loop reference: nnscratch {e_ours:.3e}, TensorFlow {e_theirs:.3e})"
    if ours_ok and not theirs_ok:
        return f"TensorFlow is wrong: the loop reference agrees with nnscratch {detail}"
    if theirs_ok and not ours_ok:
        return f"nnscratch is wrong: the loop reference agrees with TensorFlow {detail}"
    if not ours_ok and not theirs_ok:
        return f"both nnscratch and TensorFlow differ from the loop reference {detail}"
    return f"each is within tolerance of the loop reference, on opposite sides {detail}"


def assert_close(name, config, ours, theirs, tol, reference=None):
    """Fail with a message naming the component, its configuration, and the largest absolute
    and relative error, unless ``ours`` matches TensorFlow's ``theirs`` within ``tol``.

    ``reference``: the loop reference kernels' answer, or a function computing it (called only
    on a disagreement, as the loops are slow); the message then says which side is wrong."""
    a, b = to_numpy(ours), to_numpy(theirs)
    if a.shape != b.shape:
        raise AssertionError(f"{name} [{config}]: shape mismatch: nnscratch {a.shape}, TensorFlow {b.shape}")
    if not within(a, b, tol):
        abs_err, rel_err = errors(a, b)
        idx = np.unravel_index(np.argmax(np.abs(a.astype(np.float64) - b.astype(np.float64))), a.shape) if a.ndim else ()
        ref = reference() if callable(reference) else reference
        raise AssertionError(
            f"{name} [{config}] differs from TensorFlow: max abs err {abs_err:.3e}, max rel err {rel_err:.3e} "
            f"(tolerance {tol}); worst element {tuple(int(i) for i in idx)}: nnscratch {a[idx]!r}, TensorFlow {b[idx]!r}"
            f"{'' if ref is None else f', loop reference {to_numpy(ref)[idx]!r}'}; verdict: {verdict(a, b, ref, tol)}"
        )
    return errors(a, b)
