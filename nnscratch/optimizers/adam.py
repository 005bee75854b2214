"""Adam and Adamax, Keras's forms (bias correction folded into the step size)."""
from __future__ import annotations

from nnscratch import backend, kernels
from nnscratch.optimizers.base import Optimizer


def adam_update(param, grad, m, v, vhat, c1, c2, alpha, eps, s1, s2):
    """One Adam update in place, in Keras's order of operations (c1 = 1 - b1, c2 = 1 - b2):
        m += (g - m) * c1;  v += (g*g - v) * c2;  amsgrad: vhat = max(vhat, v), used as v
        w -= alpha * m / (sqrt(v) + eps)
    written with out= into two scratch arrays s1, s2, so that a step allocates nothing.
    Returns True (the update is done; the fast tier's version may decline with False)."""
    xp = backend.get_array_module(param)
    xp.subtract(grad, m, out=s1)
    s1 *= c1
    m += s1  # m += (g - m) * (1 - b1)
    xp.multiply(grad, grad, out=s1)
    s1 -= v
    s1 *= c2
    v += s1  # v += (g^2 - v) * (1 - b2)
    if vhat is not None:
        xp.maximum(vhat, v, out=vhat)
        v = vhat
    xp.multiply(m, alpha, out=s2)  # alpha * m
    xp.sqrt(v, out=s1)
    s1 += eps  # Keras: eps outside the sqrt, unscaled
    s2 /= s1
    param -= s2
    return True


class Adam(Optimizer):
    """Adam.

    Math (t = iterations + 1; b1^t and b2^t computed in the parameter's precision):
        m <- m + (g - m) * (1 - b1)
        v <- v + (g^2 - v) * (1 - b2)
        amsgrad:  vhat <- max(vhat, v), and vhat replaces v below
        alpha = lr * sqrt(1 - b2^t) / (1 - b1^t)
        w <- w - alpha * m / (sqrt(v) + eps)
    Keras's epsilon-hat form: eps is added to sqrt(v), NOT to sqrt(v_hat) as in the paper's
    pseudo-code, and defaults to 1e-7 (PyTorch: 1e-8). For tiny gradients the two differ by
    tens of percent.
    Args: learning_rate (0.001), beta_1 (0.9), beta_2 (0.999), epsilon (1e-7), amsgrad (False).
    State: momentum (m), velocity (v), velocity_hat (amsgrad only), each the same shape as w.
    """

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False,
                 name="adam", **kwargs):
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        self.beta_1, self.beta_2, self.epsilon, self.amsgrad = float(beta_1), float(beta_2), float(epsilon), bool(amsgrad)
        self.slot_names = ("momentum", "velocity") + (("velocity_hat",) if self.amsgrad else ())

    def coefficients(self, lr, like):
        """(1 - b1, 1 - b2, alpha, eps) of this step in ``like``'s dtype (float32 scalar math, as
        Keras): alpha = lr * sqrt(1 - b2^t) / (1 - b1^t). The same for every parameter of one
        dtype in a step, so computed once per step and dtype (speed only)."""
        key = (self.iterations, like.dtype.char, lr, self.beta_1, self.beta_2, self.epsilon)
        if getattr(self, "_coeff_key", None) != key:
            t = self._t()
            b1, b2 = self._f(self.beta_1, like), self._f(self.beta_2, like)
            alpha = self._f(lr, like) * (1 - b2 ** t) ** 0.5 / (1 - b1 ** t)
            self._coeff_key, self._coeff = key, (1 - b1, 1 - b2, alpha, self._f(self.epsilon, like))
        return self._coeff

    def update_step(self, param, grad, state, lr):
        c1, c2, alpha, eps = self.coefficients(lr, param)
        m, v = state["momentum"], state["velocity"]
        vhat = state["velocity_hat"] if self.amsgrad else None
        s1, s2 = self.scratch(param, 2)
        # the kernel tier's update (nn.kernels): 'fast' is one compiled pass when Numba is
        # installed and declines (returns False) what it does not handle; this file's is the math
        if not kernels.get(adam_update)(param, grad, m, v, vhat, c1, c2, alpha, eps, s1, s2):
            adam_update(param, grad, m, v, vhat, c1, c2, alpha, eps, s1, s2)

    def get_config(self):
        cfg = super().get_config()
        cfg.update(beta_1=self.beta_1, beta_2=self.beta_2, epsilon=self.epsilon, amsgrad=self.amsgrad)
        return cfg


class Adamax(Optimizer):
    """Adamax (Adam with the infinity norm).

    Math (t = iterations + 1):
        m <- m + (g - m) * (1 - b1)
        u <- max(b2 * u, |g|)
        w <- w - lr * m / ((1 - b1^t) * (u + eps))        (Keras: eps added to u)
    Args: learning_rate (0.001), beta_1 (0.9), beta_2 (0.999), epsilon (1e-7).
    State: m, u, each the same shape as w.
    """

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, name="adamax", **kwargs):
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        self.beta_1, self.beta_2, self.epsilon = float(beta_1), float(beta_2), float(epsilon)
        self.slot_names = ("m", "u")

    def update_step(self, param, grad, state, lr):
        xp = backend.get_array_module(param)
        t = self._t()
        b1 = self._f(self.beta_1, param)
        m, u = state["m"], state["u"]
        m += (grad - m) * (1 - b1)
        xp.maximum(u * self.beta_2, xp.abs(grad), out=u)
        param -= (self._f(lr, param) * m) / ((1 - b1 ** t) * (u + self.epsilon))

    def get_config(self):
        cfg = super().get_config()
        cfg.update(beta_1=self.beta_1, beta_2=self.beta_2, epsilon=self.epsilon)
        return cfg
