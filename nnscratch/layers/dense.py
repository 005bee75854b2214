"""Dense: the fully connected layer."""
from __future__ import annotations

from nnscratch import activations, backend, initializers, regularizers
from nnscratch.layers.base import Layer, named_lookup, positive_int, shape_str


class Dense(Layer):
    """Fully connected layer: ``y = f(x @ W + b)``.

    Math:
        forward:   z = x @ W + b            (N, D_in) @ (D_in, units) + (units,)
                   y = f(z)                 f = activation (linear by default)
        backward:  dz = f'(z) * dy          (through the activation, from the cached y)
                   dW = x^T @ dz            (D_in, units)
                   db = sum_N dz            (units,)
                   dx = dz @ W^T            (N, D_in)

    Inputs of rank > 2, (N, ..., D_in), are contracted on the last axis, as in Keras.

    Args:
        units: int, positive. Number of output features.
        activation: name or None (linear). 'relu', 'sigmoid', 'tanh', 'softmax', ...
        use_bias: bool, default True.
        kernel_initializer: default 'glorot_uniform'.
        bias_initializer: default 'zeros'.

    Input shape:  (N, D_in) (or (N, ..., D_in)).
    Output shape: (N, units).
    Weights (Keras order and layout): kernel (D_in, units), bias (units,).
    Cache: x (N, D_in); y (N, units) for the activation's derivative; z (N, units) only when
        the activation is softmax or sigmoid (the model may need the logits).
    """

    input_ndim = None

    def __init__(self, units, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None,
                 bias_regularizer=None, activity_regularizer=None, **kwargs):
        super().__init__(**kwargs)
        self.units = positive_int(units, f"Dense '{self.name}': units", floats=False)  # NumPy ints too; not 3.0 (Keras)
        self.activation = named_lookup(f"Dense '{self.name}'", activations.get, activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = named_lookup(f"Dense '{self.name}'", initializers.get, kernel_initializer)
        self.bias_initializer = named_lookup(f"Dense '{self.name}'", initializers.get, bias_initializer)
        self._keep_logits = self.activation.name in ("softmax", "sigmoid")
        self.kernel_regularizer = named_lookup(f"Dense '{self.name}'", regularizers.get, kernel_regularizer)
        self.bias_regularizer = named_lookup(f"Dense '{self.name}'", regularizers.get, bias_regularizer)
        self.activity_regularizer = named_lookup(f"Dense '{self.name}'", regularizers.get, activity_regularizer)


    def check_input_shape(self, input_shape):
        if len(input_shape) < 2:
            raise ValueError(
                f"Dense '{self.name}': expected input of rank >= 2 (N, D_in), received shape {shape_str(input_shape)}"
            )
        if input_shape[-1] is None:
            raise ValueError(f"Dense '{self.name}': the last axis of the input must be known, received {shape_str(input_shape)}")

    def build(self, input_shape):
        D_in = input_shape[-1]
        self.add_param("kernel", (D_in, self.units), self.kernel_initializer)
        if self.use_bias:
            self.add_param("bias", (self.units,), self.bias_initializer)
        super().build(input_shape)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    def forward(self, x, training=False):
        xp = backend.get_array_module(x)
        W = self.params["kernel"]  # (D_in, units)
        z = x @ W  # (N, units)
        if self.use_bias:
            z += self.params["bias"]  # z is a fresh array: adding in place saves a copy
        if isinstance(self.activation, activations.ReLU):
            y = xp.maximum(z, 0, out=z)  # relu in place (performance): z is not needed afterwards
        else:
            y = self.activation(z)
        self.cache = {"x": x, "y": y}
        if self._keep_logits:
            self.cache["z"] = z
        return y

    def backward(self, dy):
        y = self.cache["y"]
        dz = self.activation.backward(dy, y)  # dL/dz = f'(z) * dL/dy
        return self.backward_logits(dz)

    def backward_logits(self, dz):
        """Backward from dL/dz (the gradient at the pre-activation), skipping the activation.
        Used by the model when a softmax/sigmoid output is fused with its cross-entropy."""
        xp = backend.get_array_module(dz)
        x = self.cache["x"]
        W = self.params["kernel"]
        x2 = x if x.ndim == 2 else x.reshape(-1, x.shape[-1])  # (N, D_in)
        dz2 = dz if dz.ndim == 2 else dz.reshape(-1, self.units)  # (N, units)
        xp.matmul(x2.T, dz2, out=self.grads["kernel"])  # dW = x^T @ dz, written into the buffer
        if self.use_bias:
            dz2.sum(axis=0, out=self.grads["bias"])  # db = sum over the batch
        if not self.need_input_grad:  # the first trainable layer: nobody needs dL/dx
            return None
        return dz @ W.T  # (N, D_in)

    @property
    def logits(self):
        return self.cache.get("z")

    def get_config(self):
        cfg = super().get_config()
        cfg.update(
            units=self.units,
            activation=self.activation.name,
            use_bias=self.use_bias,
            kernel_initializer=initializers.serialize(self.kernel_initializer) or "glorot_uniform",
            bias_initializer=initializers.serialize(self.bias_initializer) or "zeros",
            kernel_regularizer=regularizers.serialize(self.kernel_regularizer),
            bias_regularizer=regularizers.serialize(self.bias_regularizer),
            activity_regularizer=regularizers.serialize(self.activity_regularizer),
        )
        return cfg
