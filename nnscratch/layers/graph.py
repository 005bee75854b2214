"""Running a graph of nodes forward and backward: the functional Model and traced ``call`` layers.

    forward:   for each node in topological order:
                   value[out] = layer(values of its inputs)      or  out, ctx = op.forward(...)
                   cache[node] = the layer's cache after that call (or the op's ctx)
    backward:  for each node in REVERSE order:
                   put cache[node] back into the layer, d_inputs = layer.call_backward(grad[out])
                   (or d_inputs = op.backward(ctx, grad[out]))
                   grad[input] += d_input        a tensor used by several nodes gets the SUM of
                                                 their gradients (the chain rule for fan-out)

Keeping one cache per *node* is what lets one layer be called several times (a shared layer):
its ``self.cache`` holds the cache of whichever call ran last, so the graph swaps each node's
cache in around that node's backward, and ``Layer.call_backward`` adds the gradients of the
parameters over the calls of one backward pass. The layers' code is unchanged.
"""
from __future__ import annotations

import contextlib

from nnscratch.layers.eager import internal_calls
from nnscratch.layers.symbolic import SymbolicTensor, as_list, topological_nodes
from nnscratch.layers.variable import Variable

_PASS = {"depth": 0, "written": set()}


@contextlib.contextmanager
def backward_pass():
    """One backward pass of a model: a layer reached more than once (a shared layer) ADDS the
    gradients of its later calls to those of its first (each call of ``backward`` overwrites
    ``self.grads``, so ``call_backward`` keeps the earlier sum and adds it back). Nested
    passes (a model inside a model) join the outermost one."""
    outer = _PASS["depth"] == 0
    if outer:
        _PASS["written"] = set()
    _PASS["depth"] += 1
    try:
        yield
    finally:
        _PASS["depth"] -= 1
        if outer:
            _PASS["written"] = set()


def has_trainable(fn):
    """True if ``fn`` (a layer, a model or an op) owns trainable parameters anywhere inside it."""
    owners = getattr(fn, "_param_owners", None)
    if owners is None:
        return False
    return any(layer.trainable and layer.params for layer in owners())


class Graph:
    """The nodes between ``inputs`` and ``outputs`` (lists of SymbolicTensors), runnable."""

    def __init__(self, inputs, outputs):
        self.inputs, self.outputs = list(inputs), list(outputs)
        self.nodes = topological_nodes(self.inputs, self.outputs)
        self.n_inputs = len(self.inputs)

    def layers(self):
        """Every layer or model called in the graph, once each, in order (inputs first)."""
        seen, out = set(), []
        for node in self.nodes:
            if node.kind != "op" and id(node.fn) not in seen:
                seen.add(id(node.fn))
                out.append(node.fn)
        return out

    def variables(self):
        """The Variables (``add_weight``) that the nodes read, once each."""
        seen, out = set(), []
        for node in self.nodes:
            for a in node.args:
                if isinstance(a, Variable) and id(a) not in seen:
                    seen.add(id(a))
                    out.append(a)
        return out

    # ------------------------------------------------------------------ forward
    def forward(self, xs, training=False):
        """(outputs, record): the output arrays, and the per-node caches backward needs."""
        with internal_calls():  # the layers' outputs stay plain arrays inside the graph
            return self._forward(xs, training)

    def _forward(self, xs, training):
        values, record = {}, {"losses": []}  # losses: add_loss terms of the layers called
        for t, x in zip(self.inputs, xs):
            values[id(t)] = t.node.fn(x, training=training) if t.node.fn is not None else x
        for node in self.nodes[self.n_inputs:]:
            args = [values[id(a)] if isinstance(a, SymbolicTensor) else a.value if isinstance(a, Variable) else a
                    for a in node.args]
            if node.kind == "op":
                out, record[id(node)] = node.fn.forward(*args, **node.attrs)
                outs = out if isinstance(out, tuple) else (out,)
            else:
                out = node.fn(args if node.multi_input else args[0], training=training)
                record[id(node)] = node.fn._cache_state()
                record["losses"].extend(getattr(node.fn, "_last_added_losses", ()))
                outs = out if len(node.outputs) > 1 else (out,)
            for t, o in zip(node.outputs, outs):
                values[id(t)] = o
        return [values[id(t)] for t in self.outputs], record

    # ------------------------------------------------------------------ backward
    def needs_dx(self):
        """{id(node): True if some node before it has something trainable} (its dx is used)."""
        up = {}
        for node in self.nodes:
            up[id(node)] = any(
                up.get(id(a.node), False) or has_trainable(a.node.fn) if isinstance(a, SymbolicTensor)
                else isinstance(a, Variable) and a.trainable
                for a in node.args)
        return up

    def backward(self, record, dys, need_input_grad=True, from_logits=False):
        """(d_inputs, d_variables): dL/d(each input) (None where nothing flowed) and
        {id(variable): (variable, dL/dvariable)}. ``dys`` has one entry per output (None: the
        output does not reach the loss). ``from_logits``: True means ``dys[0]`` is dL/dz at the
        first output layer's pre-activation; a list of flags (one per output) says this for
        each output (several outputs fused with their cross-entropies). With
        ``need_input_grad=False``, layers with nothing trainable before them compute no dx
        (the plan is per call: a layer may sit in several models)."""
        grads, var_grads = {}, {}

        def accumulate(a, g):
            if isinstance(a, SymbolicTensor):
                grads[id(a)] = g if id(a) not in grads else grads[id(a)] + g  # a new array: no aliasing
            elif isinstance(a, Variable) and a.trainable:
                old = var_grads.get(id(a))
                var_grads[id(a)] = (a, g if old is None else old[1] + g)

        flags = self.logits_flags(from_logits)
        fused_at = {id(t.node): i for i, (t, f) in enumerate(zip(self.outputs, flags)) if f}  # node -> its output
        for t, g, fused in zip(self.outputs, dys, flags):
            if g is not None and not fused:
                accumulate(t, g)
        plan = None if need_input_grad else self.needs_dx()
        for node in reversed(self.nodes[self.n_inputs:]):
            ups = [grads.get(id(t)) for t in node.outputs]
            fused = id(node) in fused_at
            if fused and any(u is not None for u in ups):
                raise ValueError(f"the fused output '{node.name}' also feeds other layers; compute the loss "
                                 "from probabilities (from_logits=False) or make the output layer a leaf")
            adds_loss = node.kind != "op" and node.fn._adds_loss()
            if not fused and all(u is None for u in ups) and not adds_loss:
                continue  # this node's outputs do not reach the loss
            if node.kind == "op":
                if not node.fn.differentiable:
                    continue  # a constant for the gradient (argmax, one_hot, ...), as in Keras
                upstream = tuple(ups) if node.fn.n_outputs != 1 else ups[0]
                d_args = node.fn.backward(record[id(node)], upstream)
            else:
                d_args = self._layer_backward(node, record, dys[fused_at[id(node)]] if fused else ups, fused, plan)
                if d_args is None:
                    continue
            for a, g in zip(node.args, d_args):
                if g is not None:
                    accumulate(a, g)
        return [grads.get(id(t)) for t in self.inputs], var_grads

    def logits_flags(self, from_logits):
        """One flag per output: ``from_logits`` as a list, or True for the first output only."""
        if isinstance(from_logits, (list, tuple)):
            if len(from_logits) != len(self.outputs):
                raise ValueError(f"from_logits: expected one flag per output ({len(self.outputs)}), "
                                 f"received {len(from_logits)}")
            return [bool(f) for f in from_logits]
        return [bool(from_logits) and i == 0 for i in range(len(self.outputs))]

    def is_leaf_output(self, index):
        """True when output ``index`` is the only call of its layer and feeds no other node (so the
        layer's cache after a forward is that output's, and dL/dz at its logits is all it gets)."""
        node = self.outputs[index].node
        if node.kind == "op" or len(node.outputs) != 1 or sum(t.node is node for t in self.outputs) != 1:
            return False
        calls = sum(1 for n in self.nodes if n.kind != "op" and n.fn is node.fn)
        consumed = any(isinstance(a, SymbolicTensor) and a.node is node for n in self.nodes for a in n.args)
        return calls == 1 and not consumed

    def _layer_backward(self, node, record, ups, fused, plan):
        layer = node.fn
        needs_dx = True if plan is None else plan[id(node)]
        if not needs_dx and not has_trainable(layer) and not layer._adds_loss():
            return None  # nothing to learn here or upstream
        if not fused and len(node.outputs) == 1:
            dy = ups[0]
        elif not fused:  # a model with several outputs used as a layer: None = that output is unused
            dy = list(ups)
        else:
            dy = ups
        layer._set_cache_state(record[id(node)])
        saved = layer.need_input_grad
        layer.need_input_grad = needs_dx
        try:
            dx = layer.call_backward(dy, from_logits=fused)
        finally:
            layer.need_input_grad = saved
        if not needs_dx or dx is None:
            return [None] * len(node.args)
        return as_list(dx) if node.multi_input else [dx]

