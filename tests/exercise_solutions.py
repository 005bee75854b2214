"""Student-style solutions of four exercises, as text appended to the generated student files
(tests/test_exercises.py). Each is written the way a student would, from the docstring in the
generated file, without the library's performance paths. ``PLANTED`` lists the classic
mistakes as (exercise, mistake key, old text, new text) edits of these solutions."""

CONV2D = '''

def same_padding(n, k, stride, dilation=1):
    out = -(-n // stride)
    total = max((out - 1) * stride + (k - 1) * dilation + 1 - n, 0)
    return total // 2, total - total // 2


def im2col(x_pad, KH, KW, SH, SW, H_out, W_out, DH=1, DW=1, out=None):
    xp = backend.get_array_module(x_pad)
    N, _, _, C = x_pad.shape
    col = xp.empty((N, H_out, W_out, KH, KW, C), dtype=x_pad.dtype)
    for i in range(KH):
        for j in range(KW):
            col[:, :, :, i, j, :] = x_pad[:, i * DH:i * DH + SH * (H_out - 1) + 1:SH,
                                          j * DW:j * DW + SW * (W_out - 1) + 1:SW, :]
    return col


def col2im(dcol, padded_shape, SH, SW, DH=1, DW=1):
    xp = backend.get_array_module(dcol)
    N, H_out, W_out, KH, KW, C = dcol.shape
    dx_pad = xp.zeros(padded_shape, dtype=dcol.dtype)
    for i in range(KH):
        for j in range(KW):
            dx_pad[:, i * DH:i * DH + SH * (H_out - 1) + 1:SH,
                   j * DW:j * DW + SW * (W_out - 1) + 1:SW, :] += dcol[:, :, :, i, j, :]
    return dx_pad


class Conv2D(Conv2D):
    def forward(self, x, training=False):
        xp = backend.get_array_module(x)
        if self.data_format == "channels_first":
            x = x.transpose(0, 2, 3, 1)
        N, H, W, C = x.shape
        KH, KW, _, F = self.params["kernel"].shape
        (SH, SW), (DH, DW) = self.strides, self.dilation_rate
        if self.padding == "same":
            (top, bottom), (left, right) = same_padding(H, KH, SH, DH), same_padding(W, KW, SW, DW)
        else:
            top = bottom = left = right = 0
        x_pad = xp.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)))
        H_out = (H + top + bottom - (KH - 1) * DH - 1) // SH + 1
        W_out = (W + left + right - (KW - 1) * DW - 1) // SW + 1
        col = im2col(x_pad, KH, KW, SH, SW, H_out, W_out, DH, DW).reshape(N * H_out * W_out, -1)
        z = col @ self.params["kernel"].reshape(-1, F)
        if self.use_bias:
            z = z + self.params["bias"]
        y = self.activation(z.reshape(N, H_out, W_out, F))
        self.cache = {"col": col, "x_pad_shape": x_pad.shape, "pads": (top, left), "hw": (H, W), "y": y}
        return y.transpose(0, 3, 1, 2) if self.data_format == "channels_first" else y

    def backward(self, dy):
        if self.data_format == "channels_first":
            dy = dy.transpose(0, 2, 3, 1)
        N, H_out, W_out, F = dy.shape
        KH, KW, C, _ = self.params["kernel"].shape
        dz = self.activation.backward(dy, self.cache["y"]).reshape(-1, F)
        self.grads["kernel"][...] = (self.cache["col"].T @ dz).reshape(KH, KW, C, F)
        if self.use_bias:
            self.grads["bias"][...] = dz.sum(axis=0)
        dcol = (dz @ self.params["kernel"].reshape(-1, F).T).reshape(N, H_out, W_out, KH, KW, C)
        dx_pad = col2im(dcol, self.cache["x_pad_shape"], *self.strides, *self.dilation_rate)
        (top, left), (H, W) = self.cache["pads"], self.cache["hw"]
        dx = dx_pad[:, top:top + H, left:left + W, :]
        return dx.transpose(0, 3, 1, 2) if self.data_format == "channels_first" else dx
'''

DENSE = '''

class Dense(Dense):
    def forward(self, x, training=False):
        z = x @ self.params["kernel"]
        if self.use_bias:
            z = z + self.params["bias"]
        y = self.activation(z)
        self.cache = {"x": x, "y": y}
        return y

    def backward(self, dy):
        x, y = self.cache["x"], self.cache["y"]
        dz = self.activation.backward(dy, y)
        x2, dz2 = x.reshape(-1, x.shape[-1]), dz.reshape(-1, self.units)
        self.grads["kernel"][...] = x2.T @ dz2
        if self.use_bias:
            self.grads["bias"][...] = dz2.sum(axis=0)
        return dz @ self.params["kernel"].T
'''

SOFTMAX_CE = '''

class SparseCategoricalCrossentropy(SparseCategoricalCrossentropy):
    def forward_logits(self, z, y_true):
        xp = backend.get_array_module(z)
        z = z - z.max(axis=-1, keepdims=True)
        log_p = z - xp.log(xp.exp(z).sum(axis=-1, keepdims=True))
        y = y_true.reshape(-1)
        N = z.shape[0]
        self.cache = {"p": xp.exp(log_p), "y": y}
        return -log_p[xp.arange(N), y].sum() / N

    def backward(self):
        xp = backend.get_array_module(self.cache["p"])
        p, y = self.cache["p"], self.cache["y"]
        N = p.shape[0]
        onehot = xp.zeros_like(p)
        onehot[xp.arange(N), y] = 1.0
        return (p - onehot) / N
'''

ADAM = '''

class Adam(Adam):
    def update_step(self, param, grad, state, lr):
        xp = backend.get_array_module(param)
        t = self.iterations + 1
        m, v = state["momentum"], state["velocity"]
        m[...] = self.beta_1 * m + (1 - self.beta_1) * grad
        v[...] = self.beta_2 * v + (1 - self.beta_2) * grad * grad
        if self.amsgrad:
            state["velocity_hat"][...] = xp.maximum(state["velocity_hat"], v)
            v = state["velocity_hat"]
        alpha = lr * (1 - self.beta_2 ** t) ** 0.5 / (1 - self.beta_1 ** t)
        param -= alpha * m / (xp.sqrt(v) + self.epsilon)
'''

SOLUTIONS = {"conv2d": CONV2D, "dense": DENSE, "softmax_cross_entropy": SOFTMAX_CE, "adam": ADAM}

PLANTED = [
    ("conv2d", "kernel_flipped", 'self.params["kernel"].reshape(-1, F)\n        if self.use_bias:\n            z = z',
     'self.params["kernel"][::-1, ::-1].reshape(-1, F)\n        if self.use_bias:\n            z = z'),
    ("conv2d", "same_padding_odd_before", "return total // 2, total - total // 2",
     "return total - total // 2, total // 2"),
    ("conv2d", "stride_ignored_in_col2im",
     "dx_pad[:, i * DH:i * DH + SH * (H_out - 1) + 1:SH,\n                   j * DW:j * DW + SW * (W_out - 1) + 1:SW, :]",
     "dx_pad[:, i * DH:i * DH + H_out,\n                   j * DW:j * DW + W_out, :]"),
    ("conv2d", "activation_derivative_forgotten", 'dz = self.activation.backward(dy, self.cache["y"]).reshape(-1, F)',
     "dz = dy.reshape(-1, F)"),
    ("dense", "activation_derivative_forgotten", "dz = self.activation.backward(dy, y)", "dz = dy"),
    ("dense", "bias_grad_averaged", "dz2.sum(axis=0)", "dz2.mean(axis=0)"),
    ("softmax_cross_entropy", "missing_one_over_n", "return (p - onehot) / N", "return p - onehot"),
    ("softmax_cross_entropy", "no_max_shift", "z = z - z.max(axis=-1, keepdims=True)", "z = z"),
    ("adam", "no_bias_correction", "alpha = lr * (1 - self.beta_2 ** t) ** 0.5 / (1 - self.beta_1 ** t)", "alpha = lr"),
    ("adam", "eps_inside_sqrt", "(xp.sqrt(v) + self.epsilon)", "xp.sqrt(v + self.epsilon)"),
]
