"""ONNX export: ``model.export("net.onnx", format="onnx")`` writes an inference graph that
onnxruntime (or any ONNX runtime) runs with the same outputs as ``model.predict``.

Every layer becomes a few standard ONNX operators (opset 17), built with the ``onnx`` package and
checked with ``onnx.checker``; weights are stored as float32 initializers. Data stays in the
layer's own layout (NHWC for channels_last), so Flatten/Reshape keep Keras's element order:

* Conv2D/pooling (channels_last): Transpose to NCHW, Conv/MaxPool/AveragePool, Transpose back.
  TF's 'same' padding is asymmetric (the extra row/column goes at the end): explicit ``pads``
  total = max((ceil(n/s) - 1)*s + (k - 1)*d + 1 - n, 0), before = total // 2. 'same' average
  pooling divides by the window's real elements (count_include_pad=0), as TF does.
* BatchNormalization (inference): y = x*scale + shift with scale = gamma/sqrt(var + eps),
  shift = beta - mean*scale, broadcast along its axis. Dropout is Identity.
* Dense: MatMul + Add; activations map to Relu/Sigmoid/Tanh/Softmax/LeakyRelu/Elu/Softplus.

A layer without an ONNX form is named in the error. Needs ``pip install nnscratch[onnx]``.
"""
from __future__ import annotations

import math
import os

import numpy as np

from nnscratch import backend
from nnscratch.saving.atomic import atomic_write_bytes

OPSET = 17


def _onnx():
    try:
        import onnx
        from onnx import helper, numpy_helper
    except ImportError as exc:
        raise ImportError(f"model.export(format='onnx') needs the onnx package: pip install 'nnscratch[onnx]' ({exc})") from None
    return onnx, helper, numpy_helper


class _Graph:
    """Nodes and initializers being collected, with fresh names."""

    def __init__(self, helper, numpy_helper):
        self.helper, self.numpy_helper = helper, numpy_helper
        self.nodes, self.inits, self.count = [], [], 0

    def name(self, hint):
        self.count += 1
        return f"{hint}_{self.count}"

    def const(self, value, hint, dtype=np.float32):
        name = self.name(hint)
        self.inits.append(self.numpy_helper.from_array(np.asarray(value, dtype=dtype), name))
        return name

    def op(self, op_type, inputs, hint, **attrs):
        out = self.name(hint)
        self.nodes.append(self.helper.make_node(op_type, list(inputs), [out], name=out, **attrs))
        return out


def _weights(layer):
    return dict(zip(layer.weight_names, (backend.to_host(w) for w in layer.weights)))


def _activation(g, x, act, hint):
    name = getattr(act, "name", act)
    if name in (None, "linear"):
        return x
    simple = {"relu": "Relu", "sigmoid": "Sigmoid", "tanh": "Tanh", "softplus": "Softplus"}
    if name in simple:
        return g.op(simple[name], [x], f"{hint}_{name}")
    if name == "softmax":
        return g.op("Softmax", [x], f"{hint}_softmax", axis=int(getattr(act, "axis", -1)))
    if name == "leaky_relu":
        return g.op("LeakyRelu", [x], f"{hint}_leaky_relu", alpha=float(act.negative_slope))
    if name == "elu":
        return g.op("Elu", [x], f"{hint}_elu", alpha=float(act.alpha))
    raise ValueError(f"ONNX export: activation {name!r} of layer '{hint}' has no ONNX form")


def _same_pads(in_hw, kernel, strides, dilation):
    before, after = [], []
    for n, k, s, d in zip(in_hw, kernel, strides, dilation):
        total = max((math.ceil(n / s) - 1) * s + (k - 1) * d + 1 - n, 0)
        before.append(total // 2)
        after.append(total - total // 2)
    return before + after


def _spatial(layer, shape):
    """(H, W) of a 4-D input shape in the layer's data format."""
    return tuple(shape[2:4]) if layer.data_format == "channels_first" else tuple(shape[1:3])


def _nchw(g, layer, x, make):
    """Run ``make(x_nchw) -> y_nchw`` in NCHW whatever the layer's data format."""
    if layer.data_format == "channels_first":
        return make(x)
    t = g.op("Transpose", [x], f"{layer.name}_to_nchw", perm=[0, 3, 1, 2])
    return g.op("Transpose", [make(t)], f"{layer.name}_to_nhwc", perm=[0, 2, 3, 1])


def _conv(g, layer, x):
    w = _weights(layer)
    kernel = np.ascontiguousarray(w["kernel"].transpose(3, 2, 0, 1))  # (KH, KW, Cin, Cout) -> (Cout, Cin, KH, KW)
    ks, st, dl = list(layer.kernel_size), list(layer.strides), list(layer.dilation_rate)
    pads = (_same_pads(_spatial(layer, layer.input_shape), ks, st, dl) if layer.padding == "same" else [0, 0, 0, 0])
    inputs = [g.const(kernel, f"{layer.name}_kernel")]
    if layer.use_bias:
        inputs.append(g.const(w["bias"], f"{layer.name}_bias"))
    y = _nchw(g, layer, x, lambda t: g.op("Conv", [t] + inputs, layer.name, kernel_shape=ks, strides=st,
                                          dilations=dl, pads=pads))
    return _activation(g, y, layer.activation, layer.name)


def _pool(g, layer, x):
    ks, st = list(layer.pool_size), list(layer.strides)
    pads = (_same_pads(_spatial(layer, layer.input_shape), ks, st, (1, 1)) if layer.padding == "same"
            else [0, 0, 0, 0])
    if type(layer).__name__ == "MaxPooling2D":
        return _nchw(g, layer, x, lambda t: g.op("MaxPool", [t], layer.name, kernel_shape=ks, strides=st, pads=pads))
    return _nchw(g, layer, x, lambda t: g.op("AveragePool", [t], layer.name, kernel_shape=ks, strides=st,
                                             pads=pads, count_include_pad=0))


def _dense(g, layer, x):
    w = _weights(layer)
    y = g.op("MatMul", [x, g.const(w["kernel"], f"{layer.name}_kernel")], layer.name)
    if layer.use_bias:
        y = g.op("Add", [y, g.const(w["bias"], f"{layer.name}_bias")], f"{layer.name}_bias_add")
    return _activation(g, y, layer.activation, layer.name)


def _batchnorm(g, layer, x):
    w = _weights(layer)
    var = w["moving_variance"].astype(np.float64)
    scale = (w["gamma"].astype(np.float64) if layer.scale else 1.0) / np.sqrt(var + layer.epsilon)
    shift = (w["beta"].astype(np.float64) if layer.center else 0.0) - w["moving_mean"] * scale
    rank = len(layer.input_shape)
    axis = layer.axis if layer.axis >= 0 else rank + layer.axis
    bshape = [1] * (rank - 1)
    bshape[axis - 1] = -1
    y = g.op("Mul", [x, g.const(scale.reshape(bshape), f"{layer.name}_scale")], layer.name)
    return g.op("Add", [y, g.const(shift.reshape(bshape), f"{layer.name}_shift")], f"{layer.name}_shift")


def _flatten(g, layer, x):
    if layer.data_format == "channels_first" and len(layer.input_shape) == 4:
        x = g.op("Transpose", [x], f"{layer.name}_to_nhwc", perm=[0, 2, 3, 1])
    return g.op("Flatten", [x], layer.name, axis=1)


def _reshape(g, layer, x):
    shape = g.const([0] + list(layer.target_shape), f"{layer.name}_shape", dtype=np.int64)
    return g.op("Reshape", [x, shape], layer.name)


def _zero_padding(g, layer, x):
    (top, bottom), (left, right) = layer.padding
    if layer.data_format == "channels_first":
        pads = [0, 0, top, left, 0, 0, bottom, right]
    else:
        pads = [0, top, left, 0, 0, bottom, right, 0]
    return g.op("Pad", [x, g.const(pads, f"{layer.name}_pads", dtype=np.int64)], layer.name)


def _relu_layer(g, layer, x):
    slope, threshold, top = float(layer.negative_slope), float(layer.threshold), layer.max_value
    if slope == 0 and threshold == 0:
        y = g.op("Relu", [x], layer.name)
    else:  # x >= threshold ? x : slope * (x - threshold)
        t = g.const(threshold, f"{layer.name}_threshold")
        low = g.op("Mul", [g.op("Sub", [x, t], f"{layer.name}_shifted"), g.const(slope, f"{layer.name}_slope")],
                   f"{layer.name}_low")
        y = g.op("Where", [g.op("GreaterOrEqual", [x, t], f"{layer.name}_ge"), x, low], layer.name)
    if top is not None:
        y = g.op("Min", [y, g.const(float(top), f"{layer.name}_max")], f"{layer.name}_clip")
    return y


def _global_pool(g, layer, x):
    axes = [2, 3] if layer.data_format == "channels_first" else [1, 2]
    op = "ReduceMean" if type(layer).__name__ == "GlobalAveragePooling2D" else "ReduceMax"
    return g.op(op, [x], layer.name, axes=axes, keepdims=int(bool(layer.keepdims)))


def _merge(g, layer, xs):
    cls = type(layer).__name__
    if cls == "Add":
        return g.op("Sum", xs, layer.name)
    if cls == "Subtract":
        return g.op("Sub", xs, layer.name)
    if cls == "Multiply":
        y = xs[0]
        for other in xs[1:]:
            y = g.op("Mul", [y, other], layer.name)
        return y
    if cls == "Average":
        return g.op("Div", [g.op("Sum", xs, f"{layer.name}_sum"), g.const(float(len(xs)), f"{layer.name}_k")],
                    layer.name)
    return g.op("Concat", xs, layer.name, axis=int(layer.axis))


_SINGLE = {"Dense": _dense, "Conv2D": _conv, "MaxPooling2D": _pool, "AveragePooling2D": _pool,
           "BatchNormalization": _batchnorm, "Flatten": _flatten, "Reshape": _reshape, "ZeroPadding2D": _zero_padding,
           "ReLU": _relu_layer, "GlobalAveragePooling2D": _global_pool, "GlobalMaxPooling2D": _global_pool,
           "Dropout": lambda g, layer, x: g.op("Identity", [x], layer.name),
           "InputLayer": lambda g, layer, x: x,
           "Activation": lambda g, layer, x: _activation(g, x, layer.activation, layer.name),
           "Softmax": lambda g, layer, x: g.op("Softmax", [x], layer.name, axis=int(layer.axis)),
           "LeakyReLU": lambda g, layer, x: g.op("LeakyRelu", [x], layer.name, alpha=float(layer.negative_slope))}
_MERGES = ("Add", "Subtract", "Multiply", "Average", "Concatenate")


def _emit_layer(g, layer, inputs):
    cls = type(layer).__name__
    if getattr(layer, "_is_model", False):
        return _emit_model(g, layer, inputs)
    if cls in _MERGES:
        return _merge(g, layer, inputs)
    if cls not in _SINGLE:
        raise ValueError(f"ONNX export: layer '{layer.name}' ({cls}) has no ONNX form; exportable layers: "
                         f"{', '.join(sorted(set(_SINGLE) | set(_MERGES)))}")
    return _SINGLE[cls](g, layer, inputs[0])


def _emit_model(g, model, inputs):
    """Emit ``model``'s layers on the ONNX value names ``inputs``; returns its output names."""
    graph = getattr(model, "_graph", None)
    if graph is None:  # Sequential: a chain
        x = inputs[0]
        for layer in model.layers:
            out = _emit_layer(g, layer, [x])
            x = out[0] if isinstance(out, list) else out  # a nested model returns its output names
        return [x]
    values = {id(t): name for t, name in zip(model.inputs, inputs)}
    for node in graph.nodes[graph.n_inputs:]:  # each call of a layer, in topological order
        if node.kind == "op":
            raise ValueError(f"ONNX export: the nn.ops node {node.name} in model '{model.name}' has no ONNX form; "
                             "wrap it in a layer")
        ins = [values[id(a)] for a in node.inbound]
        out = _emit_layer(g, node.fn, ins)
        outs = out if isinstance(out, list) else [out]
        for t, name in zip(node.outputs, outs):
            values[id(t)] = name
    return [values[id(t)] for t in model.outputs]


def to_onnx(model):
    """The ``onnx.ModelProto`` of ``model`` (checked with onnx.checker)."""
    onnx, helper, numpy_helper = _onnx()
    if not getattr(model, "built", False):
        raise ValueError(f"ONNX export: build model '{model.name}' first (give it an input shape)")
    g = _Graph(helper, numpy_helper)
    if getattr(model, "_graph", None) is not None:
        in_shapes = [(t.layer.name, t.shape) for t in model.inputs]
    else:
        in_shapes = [("input", tuple(model.input_shape))]
    in_names = [name for name, _ in in_shapes]
    outs = _emit_model(g, model, in_names)
    out_names = []
    for i, name in enumerate(outs):  # give outputs stable names
        out_names.append(g.op("Identity", [name], f"output_{i}"))
    graph_inputs = [helper.make_tensor_value_info(n, onnx.TensorProto.FLOAT, ["batch"] + list(s[1:]))
                    for n, s in in_shapes]
    out_shapes = ([t.shape for t in model.outputs] if getattr(model, "_graph", None) is not None
                  else [tuple(model.output_shape)])
    graph_outputs = [helper.make_tensor_value_info(n, onnx.TensorProto.FLOAT, ["batch"] + list(s[1:]))
                     for n, s in zip(out_names, out_shapes)]
    graph = helper.make_graph(g.nodes, model.name, graph_inputs, graph_outputs, initializer=g.inits)
    proto = helper.make_model(graph, producer_name="nnscratch", opset_imports=[helper.make_opsetid("", OPSET)])
    proto.ir_version = min(proto.ir_version, 8)  # readable by older onnxruntime releases too
    onnx.checker.check_model(proto, full_check=True)
    return proto


def export(model, filepath, format="onnx", verbose=None, input_signature=None, **kwargs):
    """Keras 3's ``model.export(filepath, format=...)``; nnscratch writes ``format="onnx"``."""
    if format != "onnx":
        raise ValueError(f"model.export: format {format!r} is not supported by nnscratch; use format='onnx'")
    if input_signature is not None or kwargs:
        raise ValueError("model.export: input_signature and extra arguments are not supported (the model's own "
                         "input shapes are used, with a dynamic batch axis)")
    proto = to_onnx(model)
    path = os.fspath(filepath)
    atomic_write_bytes(path, proto.SerializeToString())
    if verbose:
        print(f"Saved ONNX model to {path} ({len(proto.graph.node)} nodes, opset {OPSET})")
    return path
