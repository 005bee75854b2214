"""The part of ``Layer`` that gathers weights across layers held inside a layer (a custom layer's
sublayers, a model's layers): ``weights``, ``get_weights``/``set_weights``, counts and casts, in
Keras's order (a layer's own weights, then each sublayer's, depth first; shared layers once)."""
from __future__ import annotations

from nnscratch import backend


class NestedWeights:
    """Mixed into Layer; reads ``params``, ``state``, ``grads`` and ``_weight_names``."""

    # ------------------------------------------------------------------ sublayers
    def _sublayers(self):
        """Layers held as attributes (or lists of them) and the layers a traced call used."""
        out, seen = [], {id(self)}
        candidates = []
        for key, value in vars(self).items():
            if key.startswith("_") and key not in ("_layers",):
                continue
            candidates.extend(value if isinstance(value, (list, tuple)) else [value])
        for tr in self._traces.values():
            candidates.extend(tr.graph.layers())
        for v in candidates:
            if isinstance(v, NestedWeights) and id(v) not in seen:
                seen.add(id(v))
                out.append(v)
        return out

    def _param_owners(self):
        """This layer and every layer inside it, once each (the owners of parameters)."""
        out, seen = [], set()

        def visit(layer):  # depth first: a layer's own weights, then each sublayer's (Keras's order)
            if id(layer) in seen:
                return
            seen.add(id(layer))
            out.append(layer)
            for sub in layer._sublayers():
                visit(sub)

        visit(self)
        return out

    def _trainable_owners(self):
        """Like ``_param_owners``, without frozen layers and everything inside them."""
        out, seen = [], set()

        def visit(layer):
            if id(layer) in seen or not layer.trainable:
                return
            seen.add(id(layer))
            out.append(layer)
            for sub in layer._sublayers():
                visit(sub)

        visit(self)
        return out

    # ------------------------------------------------------------------ weights
    def _weight_array(self, name, trainable):
        return self.params[name] if trainable else self.state[name]

    def _weight_slots(self):
        """[(owner layer, name, trainable)] in Keras order: this layer's weights (trainable, then
        non-trainable), then those of the layers inside it (a custom layer's sublayers)."""
        return [(layer, n, t) for layer in self._param_owners() for n, t in layer._ordered_weight_names()]

    @property
    def weights(self):
        return [layer._weight_array(n, t) for layer, n, t in self._weight_slots()]

    @property
    def trainable_weights(self):
        return [layer.params[n] for layer, n, t in self._weight_slots() if t and layer.trainable]

    @property
    def non_trainable_weights(self):
        return [layer._weight_array(n, t) for layer, n, t in self._weight_slots() if not (t and layer.trainable)]

    def _ordered_weight_names(self):
        trainable = [(n, t) for n, t in self._weight_names if t]
        frozen = [(n, t) for n, t in self._weight_names if not t]
        return trainable + frozen

    @property
    def weight_names(self):
        return [n for n, _ in self._ordered_weight_names()]

    def get_weights(self):
        """Host copies of the weights in Keras order (kernel, bias, ...)."""
        return [backend.to_host(w).copy() for w in self.weights]

    def set_weights(self, weights):
        """Copy a list of arrays (Keras order) into the weights, in place. Shapes must match."""
        slots = self._weight_slots()
        weights = list(weights)
        if len(weights) != len(slots):
            raise ValueError(
                f"{type(self).__name__} '{self.name}': expected {len(slots)} weight arrays "
                f"({', '.join(n for _, n, _ in slots)}), received {len(weights)}"
            )
        for (layer, name, trainable), value in zip(slots, weights):
            target = layer._weight_array(name, trainable)
            value = backend.to_host(value) if not backend.is_array(value) else value
            if tuple(value.shape) != tuple(target.shape):
                raise ValueError(
                    f"{type(layer).__name__} '{layer.name}': weight '{name}' has shape {tuple(target.shape)}, "
                    f"received {tuple(value.shape)}"
                )
        for (layer, name, trainable), value in zip(slots, weights):
            target = layer._weight_array(name, trainable)
            target[...] = backend.to_device(backend.to_host(value), dtype=target.dtype)

    def count_params(self) -> int:
        total = 0
        for w in self.weights:
            n = 1
            for d in w.shape:
                n *= d
            total += n
        return total

    def count_trainable_params(self) -> int:
        total = 0
        for layer in self._trainable_owners():
            for w in layer.params.values():
                n = 1
                for d in w.shape:
                    n *= d
                total += n
        return total

    def cast_params(self, dtype):
        """Cast parameters, gradients and state to ``dtype`` (e.g. float64 for gradient checks),
        those of the layers inside this one too."""
        for layer in self._param_owners():
            for d in (layer.params, layer.grads, layer.state):
                for k in d:
                    d[k] = d[k].astype(dtype)
