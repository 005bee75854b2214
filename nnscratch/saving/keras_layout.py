"""Keras 3's ordering of layers, weights and optimizer variables, computed for an nnscratch model.

Keras matches weights files by position, so the order must be Keras's own:

* layers: a Sequential lists its layers (no InputLayer); a functional model lists its
  operations as ``keras.src.ops.function.map_graph`` does: by decreasing depth (distance to the
  outputs), ties broken by the order a depth-first walk from the outputs first reaches them;
  InputLayers included. Weight groups are the snake_case class names made unique in that order.
* trainable variables: each layer's trainable weights, layers in that order.
* optimizer variables (``optimizer.variables``): ``iteration`` (int64), then ``learning_rate``
  when it is a constant (a schedule is not a variable), then the slots, one ``add_optimizer_variables``
  call at a time; a call with several names interleaves them per variable (Adam: m0, v0, m1, v1, ...).
"""
from __future__ import annotations

import numpy as np

from nnscratch import backend
from nnscratch.naming import snake_case


def keras_layers(model):
    """The model's layers in Keras's ``model.layers`` order."""
    if getattr(model, "_graph", None) is None:  # a Sequential: a plain stack
        return [l for l in model.layers if type(l).__name__ != "InputLayer"]
    return [t.layer for t in keras_nodes(model)]


def keras_nodes(model):
    """The functional model's nodes (SymbolicTensors) in Keras's map_graph order."""
    index, finished, order = {}, set(), []
    input_ids = {id(t) for t in model.inputs}

    def visit(t):  # iterative DFS from an output: pre-order indices, post-order list
        stack = [(t, False)]
        while stack:
            node, done = stack.pop()
            if done:
                finished.add(id(node))
                order.append(node)
                continue
            if id(node) in finished:
                continue
            index.setdefault(id(node.layer), len(index))
            stack.append((node, True))
            if id(node) in input_ids:
                continue
            for parent in reversed(node.inbound):
                if id(parent) not in finished:
                    stack.append((parent, False))

    for out in model.outputs:
        visit(out)
    depth = {}
    for node in reversed(order):
        d = depth.setdefault(id(node), 0)
        for parent in node.inbound:
            depth[id(parent)] = max(d + 1, depth.get(id(parent), 0))
    seen, unique = set(), []
    for node in order:
        if id(node) not in seen:
            seen.add(id(node))
            unique.append(node)
    for t in model.inputs:
        if id(t) not in seen:
            unique.append(t)
            depth[id(t)], index[id(t.layer)] = 0, -1
    return sorted(unique, key=lambda n: (-depth[id(n)], index[id(n.layer)]))


def group_names(layers):
    used, names = {}, []
    for layer in layers:
        base = snake_case(type(layer).__name__)
        n = used.get(base, 0)
        used[base] = n + 1
        names.append(base if n == 0 else f"{base}_{n}")
    return names


def trainable(model):
    """[(param key, param array, layer, weight name)] in Keras's trainable_variables order."""
    out = []
    for layer in keras_layers(model):
        if layer.trainable:
            for name in layer.weight_names:
                if name in layer.params:
                    out.append((f"{layer.name}/{name}", layer.params[name], layer, name))
    return out


def slot_groups(opt):
    """Keras's add_optimizer_variables calls for ``opt``: a list of lists of slot names."""
    cls = type(opt).__name__
    if cls == "Adam":
        return [["momentum", "velocity"]] + ([["velocity_hat"]] if opt.amsgrad else [])
    if cls == "Adamax":
        return [["m", "u"]]
    if cls == "RMSprop":
        return ([["velocity"]] + ([["momentum"]] if opt.momentum > 0 else [])
                + ([["average_gradient"]] if opt.centered else []))
    if cls == "SGD":
        return [["momentum"]] if opt.momentum > 0 else []
    if cls == "Adagrad":
        return [["accumulator"]]
    raise ValueError(f"optimizer {cls} has no known Keras variable layout")


def optimizer_variables(model, opt):
    """[(keras name, host array)] = Keras's ``optimizer.variables`` for nnscratch's state (a
    never-stepped optimizer gets its fresh state: zeros, Adagrad's initial accumulator)."""
    floatx = backend.floatx()
    out = [("iteration", np.asarray(opt.iterations, dtype=np.int64))]
    if opt.schedule is None:
        out.append(("learning_rate", np.asarray(opt.learning_rate, dtype=floatx)))
    params = trainable(model)
    for group in slot_groups(opt):
        for key, p, layer, wname in params:
            for slot in group:
                state = opt.state.get(key)
                if state is not None and slot in state:
                    a = backend.to_host(state[slot])
                else:
                    fill = getattr(opt, "initial_accumulator_value", 0.0) if slot == "accumulator" else 0.0
                    a = np.full(tuple(p.shape), fill, dtype=backend.to_host(p).dtype)
                out.append((f"{model.name}_{layer.name}_{wname}_{slot}", a))
    return out


def expected_optimizer_shapes(model, opt):
    """[(keras name, shape)] of ``optimizer_variables`` (for checking a file before reading it)."""
    shapes = [("iteration", ())]
    if opt.schedule is None:
        shapes.append(("learning_rate", ()))
    params = trainable(model)
    for group in slot_groups(opt):
        for key, p, layer, wname in params:
            for slot in group:
                shapes.append((f"{layer.name}/{wname} {slot}", tuple(p.shape)))
    return shapes


def optimizer_plan(model, opt, arrays, path):
    """The nnscratch optimizer state ({'iterations', 'slots'}, learning rate or None) for Keras's
    variable list ``arrays`` (already shape-checked against ``expected_optimizer_shapes``)."""
    arrays = list(arrays)
    it = int(arrays.pop(0))
    if it < 0:
        raise ValueError(f"{path}: the optimizer's iteration count is negative ({it})")
    lr = float(arrays.pop(0)) if opt.schedule is None else None
    slots = {}
    params = trainable(model)
    for group in slot_groups(opt):
        for key, p, layer, wname in params:
            for slot in group:
                slots.setdefault(key, {})[slot] = arrays.pop(0)
    return {"iterations": it, "slots": slots}, lr


def apply_optimizer(model, opt, plan):
    state, lr = plan
    like = {key: p for key, p, _, _ in trainable(model)}
    opt.set_state(state, like=like)
    if lr is not None:
        opt.learning_rate = lr
