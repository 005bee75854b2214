"""Optimizer paths on classic 2-D test surfaces (Rosenbrock, Beale, an elongated bowl)."""
from __future__ import annotations

import numpy as np

from nnscratch import backend
from nnscratch.plot._figure import _new_figure, _finish


def rosenbrock(p, a=1.0, b=100.0):
    """f = (a - x)^2 + b (y - x^2)^2; minimum 0 at (a, a^2), at the end of a curved valley."""
    x, y = p[0], p[1]
    return (a - x) ** 2 + b * (y - x ** 2) ** 2


def rosenbrock_grad(p, a=1.0, b=100.0):
    """df/dx = -2 (a - x) - 4 b x (y - x^2);  df/dy = 2 b (y - x^2)."""
    x, y = p[0], p[1]
    return np.stack([-2 * (a - x) - 4 * b * x * (y - x ** 2), 2 * b * (y - x ** 2)])


_BEALE_C = (1.5, 2.25, 2.625)


def beale(p):
    """f = sum_k (c_k - x + x y^k)^2, k = 1..3, c = (1.5, 2.25, 2.625); minimum 0 at (3, 0.5)."""
    x, y = p[0], p[1]
    return sum((c - x + x * y ** k) ** 2 for k, c in enumerate(_BEALE_C, start=1))


def beale_grad(p):
    """df/dx = sum 2 r_k (y^k - 1);  df/dy = sum 2 r_k k x y^(k-1), with r_k = c_k - x + x y^k."""
    x, y = p[0], p[1]
    dx = dy = 0.0
    for k, c in enumerate(_BEALE_C, start=1):
        r = c - x + x * y ** k
        dx = dx + 2 * r * (y ** k - 1)
        dy = dy + 2 * r * k * x * y ** (k - 1)
    return np.stack([dx, dy])


def elongated_bowl(p):
    """f = x^2 / 20 + y^2 (Deep Learning from Scratch, ch. 6): 20 times steeper along y."""
    return p[0] ** 2 / 20.0 + p[1] ** 2


def elongated_bowl_grad(p):
    """df/dx = x / 10;  df/dy = 2 y."""
    return np.stack([p[0] / 10.0, 2.0 * p[1]])


#: name -> (f, grad, start, (xmin, xmax), (ymin, ymax), minimum)
SURFACES = {
    "rosenbrock": (rosenbrock, rosenbrock_grad, (-1.5, 2.0), (-2.0, 2.0), (-1.0, 3.0), (1.0, 1.0)),
    "beale": (beale, beale_grad, (1.0, 1.5), (-4.5, 4.5), (-4.5, 4.5), (3.0, 0.5)),
    "elongated_bowl": (elongated_bowl, elongated_bowl_grad, (-7.0, 2.0), (-10.0, 10.0),
                       (-5.0, 5.0), (0.0, 0.0)),
}


def optimizer_path(optimizer, grad_fn, start, steps=100):
    """Run ``optimizer`` on a 2-element point for ``steps`` updates; return the (steps+1, 2) path.

    Each step computes ``g = grad_fn(point)`` and calls ``optimizer.apply([g], [point])``, which
    updates ``point`` in place, exactly as ``fit`` updates a kernel.
    """
    point = backend.to_device(np.array(start, dtype=np.float64).reshape(2), dtype=backend.floatx())
    path = [backend.to_host(point).copy()]
    for _ in range(int(steps)):
        grad = backend.to_device(backend.to_host(grad_fn(backend.to_host(point))), dtype=point.dtype)
        optimizer.apply([grad], [point])
        path.append(backend.to_host(point).copy())
    return np.array(path, dtype=np.float64)


def plot_optimizer_paths(loss_fn, grad_fn, optimizers, start, steps=100, path=None,
                         xlim=None, ylim=None, minimum=None):
    """Contours of ``loss_fn`` with the path each optimizer takes from ``start``.

    ``optimizers`` maps a legend name to an optimizer instance (a fresh one per entry: they
    keep state). ``fig.nn_data = {'paths': {name: (steps+1, 2) array}}``.
    """
    if not isinstance(optimizers, dict) or not optimizers:
        raise TypeError("plot_optimizer_paths: optimizers must be a non-empty dict name -> optimizer")
    paths = {name: optimizer_path(opt, grad_fn, start, steps) for name, opt in optimizers.items()}
    # frame the paths, the start and the minimum (diverging paths are clipped by the limits)
    every = np.concatenate(list(paths.values()) + [np.reshape(np.asarray(start, float), (1, 2))]
                           + ([np.reshape(np.asarray(minimum, float), (1, 2))] if minimum is not None else []))
    finite = every[np.all(np.isfinite(every), axis=1)]
    finite = finite[np.all(np.abs(finite) < 1e6, axis=1)]

    def span(lim, col):
        if lim is not None:
            return lim
        lo, hi = finite[:, col].min(), finite[:, col].max()
        pad = 0.15 * (hi - lo) + 0.5
        return lo - pad, hi + pad

    (x0, x1), (y0, y1) = span(xlim, 0), span(ylim, 1)
    gx, gy = np.meshgrid(np.linspace(x0, x1, 240), np.linspace(y0, y1, 240))
    z = loss_fn(np.stack([gx, gy]))
    fig = _new_figure(7, 5.5)
    ax = fig.subplots()
    low, high = max(float(z.min()), 1e-3), float(z.max())
    levels = np.logspace(np.log10(low), np.log10(high), 25) if high > low * 10 else 25
    ax.contour(gx, gy, z, levels=levels, colors="0.6", linewidths=0.7)
    for name, p in paths.items():
        ax.plot(p[:, 0], p[:, 1], ".-", markersize=3, linewidth=1.2, label=name)
    ax.plot(*np.asarray(start, dtype=float), "ko", label="start")
    if minimum is not None:
        ax.plot(*minimum, "k*", markersize=12, label="minimum")
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.legend(fontsize=8)
    ax.set_title(f"{steps} steps from {tuple(float(s) for s in start)}")
    return _finish(fig, {"paths": paths}, path)
