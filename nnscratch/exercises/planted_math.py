"""The classic mistakes of the activation, loss and optimizer exercises, planted: subclasses
of the real classes with one bug each. ``mistakes.py`` names them and gives the hints."""
from __future__ import annotations

from nnscratch import activations, backend, losses, optimizers


# ------------------------------------------------------------------ activations, loss
def _activation_derivative_forgotten(base):
    class DerivativeForgotten(base):
        def backward(self, dy, y):
            return dy

    DerivativeForgotten.__name__ = base.__name__
    return DerivativeForgotten


class SigmoidDerivativeOfOutput(activations.Sigmoid):
    def backward(self, dy, y):
        s = self(y)
        return dy * s * (1 - s)


class TanhDerivativeNotSquared(activations.Tanh):
    def backward(self, dy, y):
        return dy * (1 - y)


class SoftmaxCEMissingOneOverN(losses.SparseCategoricalCrossentropy):
    def backward(self):
        return super().backward() * self.cache["y"].shape[0]


class SoftmaxCESignFlipped(losses.SparseCategoricalCrossentropy):
    def backward(self):
        return -super().backward()


class SoftmaxCENoMaxShift(losses.SparseCategoricalCrossentropy):
    def forward_logits(self, z, y_true):
        xp = backend.get_array_module(z)
        y = y_true.reshape(-1)
        z2 = z.reshape(-1, z.shape[-1])
        log_p = z2 - xp.log(xp.exp(z2).sum(axis=-1, keepdims=True))  # exp overflows for large z
        rows = xp.arange(z2.shape[0])
        self.cache = {"mode": "logits", "log_p": log_p, "y": y, "shape": z.shape}
        return self._reduce(xp, (-log_p[rows, y]).reshape(z.shape[:-1]))


# ------------------------------------------------------------------ optimizers
class SGDVelocityRebound(optimizers.SGD):
    def update_step(self, param, grad, state, lr):
        if self.momentum == 0.0:
            return super().update_step(param, grad, state, lr)
        m = state["momentum"]
        m = self.momentum * m - lr * grad  # a NEW array: state["momentum"] stays zero
        param += (self.momentum * m - lr * grad) if self.nesterov else m


class SGDNesterovIgnored(optimizers.SGD):
    def update_step(self, param, grad, state, lr):
        nesterov, self.nesterov = self.nesterov, False
        try:
            super().update_step(param, grad, state, lr)
        finally:
            self.nesterov = nesterov


class RMSpropEpsOutsideSqrt(optimizers.RMSprop):
    def update_step(self, param, grad, state, lr):
        xp = backend.get_array_module(param)
        v = state["velocity"]
        v *= self.rho
        v += (1 - self.rho) * grad * grad
        den = v
        if self.centered:
            a = state["average_gradient"]
            a *= self.rho
            a += (1 - self.rho) * grad
            den = v - a * a
        inc = lr * grad / (xp.sqrt(den) + self.epsilon)
        if self.momentum > 0:
            mom = state["momentum"]
            mom *= self.momentum
            mom += inc
            inc = mom
        param -= inc


class AdamNoBiasCorrection(optimizers.Adam):
    def _t(self):
        return float("inf")  # b^t -> 0: alpha = lr, as if the moments were never corrected


class AdamEpsInsideSqrt(optimizers.Adam):
    def update_step(self, param, grad, state, lr):
        xp = backend.get_array_module(param)
        t = self._t()
        m, v = state["momentum"], state["velocity"]
        m += (grad - m) * (1 - self.beta_1)
        v += (grad * grad - v) * (1 - self.beta_2)
        if self.amsgrad:
            xp.maximum(state["velocity_hat"], v, out=state["velocity_hat"])
            v = state["velocity_hat"]
        alpha = lr * (1 - self.beta_2 ** t) ** 0.5 / (1 - self.beta_1 ** t)
        param -= alpha * m / xp.sqrt(v + self.epsilon)
