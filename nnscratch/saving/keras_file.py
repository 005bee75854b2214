"""Keras 3's ``.keras`` model file, written and read by nnscratch.

The file is a zip archive (what ``keras.saving.saving_lib`` writes)::

    metadata.json      {"keras_version", "date_saved"}
    config.json        the model in Keras's serialization: {"module", "class_name", "config",
                       "registered_name", "build_config", "compile_config"}
    model.weights.h5   layers/<group>/vars/<i>   each layer's weights (Keras order, see keras_layout)
                       optimizer/vars/<i>        iteration, learning_rate (if constant), slots
                       vars                      the model's own variables (none)

``keras.models.load_model`` opens what ``save_keras`` writes, and ``read_keras`` reads what Keras
writes for the layers nnscratch has. Reading checks every size first (config.json length, the
weights member's declared size, each dataset's shape and dtype against the model) and builds
nothing until the whole config has been validated.
"""
from __future__ import annotations

import datetime
import io
import json
import zipfile

from nnscratch import backend
from nnscratch.saving import bounded, keras_config, keras_layout, keras_metrics
from nnscratch.saving.bounded import fail, need

KERAS_VERSION = "3.15.1"  # the Keras version whose layout this writes (and the version we test against)


# ---------------------------------------------------------------------------------- writing
def _tensor(t):
    return {"class_name": "__keras_tensor__", "config": {
        "shape": [None] + list(t.shape[1:]), "dtype": backend.floatx(), "keras_history": [t.layer.name, 0, 0]}}


def model_config(model):
    """Keras's serialization of ``model`` (without compile_config)."""
    if getattr(model, "_graph", None) is None:  # a Sequential: a plain stack
        shape = [None] + list(model.input_shape[1:])
        from_layers = [keras_config.layer_to_keras(l) for l in model.layers]
        inp = {"module": "keras.layers", "class_name": "InputLayer", "registered_name": None, "config": {
            "batch_shape": shape, "dtype": backend.floatx(), "sparse": False, "ragged": False,
            "name": f"{model.name}_input", "optional": False}}
        cfg = {"name": model.name, "trainable": True, "dtype": keras_config.dtype_policy(),
               "layers": [inp] + from_layers, "build_input_shape": shape}
        return {"module": "keras", "class_name": "Sequential", "config": cfg, "registered_name": None,
                "build_config": {"input_shape": shape}}
    layers = []
    for t in keras_layout.keras_nodes(model):
        if type(t.layer).__name__ == "InputLayer":
            nodes = []
        else:
            args = [_tensor(p) for p in t.inbound]
            nodes = [{"args": [args] if getattr(t.layer, "_multi_input", False) else args, "kwargs": {}}]
        layers.append(keras_config.layer_to_keras(t.layer, inbound_nodes=nodes))

    def ends(ts, multi):
        refs = [[t.layer.name, 0, 0] for t in ts]
        return refs if multi else refs[0]
    cfg = {"name": model.name, "trainable": True, "layers": layers,
           "input_layers": ends(model.inputs, model._multi_in), "output_layers": ends(model.outputs, model._multi_out)}
    return {"module": "keras.src.models.functional", "class_name": "Functional", "config": cfg,
            "registered_name": "Functional", "build_config": {"input_shape": None}}


def compile_config(model):
    if not model.compiled or model.loss is None:  # no loss, or one per output: not written (loads uncompiled)
        return None
    metrics = [e for e in (keras_metrics.metric_to_keras(m) for m in model._metric_specs) if e is not None] or None
    return {"optimizer": keras_config.optimizer_to_keras(model.optimizer),
            "loss": keras_config.loss_to_keras(model.loss), "loss_weights": None, "metrics": metrics,
            "weighted_metrics": None, "run_eagerly": False, "steps_per_execution": 1, "jit_compile": False}


def write_weights_h5(model, fileobj, include_optimizer=True):
    """Keras 3's model.weights.h5 layout into ``fileobj`` (a path or a binary file object)."""
    import h5py
    layers = keras_layout.keras_layers(model)
    with h5py.File(fileobj, "w") as f:
        lg = f.create_group("layers")
        for layer, group in zip(layers, keras_layout.group_names(layers)):
            vg = lg.create_group(group).create_group("vars")
            vg.attrs["name"] = layer.name
            for i, w in enumerate(layer.weights):
                vg.create_dataset(str(i), data=backend.to_host(w))
        if include_optimizer and model.compiled and model.optimizer is not None:
            og = f.create_group("optimizer").create_group("vars")
            og.attrs["name"] = model.optimizer.name
            for i, (_, a) in enumerate(keras_layout.optimizer_variables(model, model.optimizer)):
                og.create_dataset(str(i), data=a)
        f.create_group("vars").attrs["name"] = model.name


def keras_bytes(model):
    """The bytes of a Keras 3 ``.keras`` archive for ``model``."""
    config = model_config(model)
    comp = compile_config(model)
    if comp is not None:
        config["compile_config"] = comp
    weights = io.BytesIO()
    write_weights_h5(model, weights)
    meta = {"keras_version": KERAS_VERSION, "date_saved": datetime.datetime.now().strftime("%Y-%m-%d@%H:%M:%S")}
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as zf:
        zf.writestr("metadata.json", json.dumps(meta))
        zf.writestr("config.json", json.dumps(config))
        zf.writestr("model.weights.h5", weights.getvalue())
    return buf.getvalue()


# ---------------------------------------------------------------------------------- reading
def _ref(value, path, where):
    """A Keras tensor reference [layer_name, node_index, tensor_index] -> layer_name."""
    if (not isinstance(value, list) or len(value) != 3 or not isinstance(value[0], str)
            or value[1:] != [0, 0]):
        raise fail(path, f"{where}: expected a reference [layer_name, 0, 0], found {value!r} "
                         "(shared layers and multi-output layers are not supported)")
    return value[0]


def _ends(value, path, where):
    """(names, multi) of input_layers/output_layers."""
    if isinstance(value, list) and value and isinstance(value[0], list):
        return [_ref(v, path, where) for v in value], True
    return [_ref(value, path, where)], False


def _inbound(node_list, path, where):
    """(names of the layers feeding a layer, multi_input) from Keras's inbound_nodes."""
    if not isinstance(node_list, list) or len(node_list) != 1:
        raise fail(path, f"{where}: must be called exactly once (shared layers are not supported), "
                         f"found {len(node_list) if isinstance(node_list, list) else node_list!r} calls")
    node = node_list[0]
    args = need(node, "args", list, path, where)
    kwargs = node.get("kwargs", {})
    if kwargs not in ({}, None) and not (isinstance(kwargs, dict) and set(kwargs) <= {"mask", "training"}
                                         and all(v is None for v in kwargs.values())):
        raise fail(path, f"{where}: call arguments {kwargs!r} are not supported")
    if len(args) != 1:
        raise fail(path, f"{where}: expected one positional argument, found {len(args)}")
    arg, multi = args[0], isinstance(args[0], list)
    tensors = arg if multi else [arg]
    names = []
    for t in tensors:
        if not isinstance(t, dict) or t.get("class_name") != "__keras_tensor__":
            raise fail(path, f"{where}: its input must be a Keras tensor, found {t!r:.80}")
        cfg = need(t, "config", dict, path, where)
        names.append(_ref(cfg.get("keras_history"), path, where))
    return names, multi


def spec_from_config(config, path):
    """A validated, layout-neutral description of the model in a Keras config (layers created,
    no model built): {'kind', 'name', 'inputs': [(name, shape, batch)], 'layers': [...]}."""
    class_name = keras_config.check_object(config, path, "the model", ("keras",))
    cfg = need(config, "config", dict, path, "the model")
    name = cfg.get("name")
    if name is not None and not isinstance(name, str):
        raise fail(path, "the model's name must be a string")
    entries = need(cfg, "layers", list, path, "the model config")
    if class_name == "Sequential":
        layers, inputs = [], []
        for i, obj in enumerate(entries):
            if isinstance(obj, dict) and obj.get("class_name") == "InputLayer":
                if i != 0:
                    raise fail(path, f"layer {i}: an InputLayer inside a Sequential must come first")
                inputs.append(keras_config.input_from_keras(obj, path, i))
            else:
                layers.append(keras_config.layer_from_keras(obj, path, i))
        if not inputs:
            shape = cfg.get("build_input_shape")
            if not isinstance(shape, list) or len(shape) < 2:
                raise fail(path, "the Sequential model has no InputLayer and no build_input_shape; nnscratch needs "
                                 "the input shape")
            inputs.append(keras_config.input_from_keras({"config": {"name": "input", "batch_shape": shape}}, path, 0))
        return {"kind": "sequential", "name": name, "inputs": inputs, "layers": layers}
    if class_name not in ("Functional", "Model"):
        raise fail(path, f"model class {class_name!r} is not supported (nnscratch loads Sequential and functional "
                         "models; subclassed models cannot be rebuilt from a config)")
    inputs, nodes, seen = [], [], set()
    for i, obj in enumerate(entries):
        lname = obj.get("name") if isinstance(obj, dict) else None
        where = f"layer {i} ({lname!r})"
        if isinstance(obj, dict) and obj.get("class_name") == "InputLayer":
            inputs.append(keras_config.input_from_keras(obj, path, i))
            seen.add(inputs[-1][0])
            continue
        layer = keras_config.layer_from_keras(obj, path, i)
        names, multi = _inbound(obj.get("inbound_nodes"), path, where)
        missing = [n for n in names if n not in seen]
        if missing:
            raise fail(path, f"layer '{layer.name}' is fed by {missing}, which come later or do not exist")
        nodes.append((layer, names, multi))
        seen.add(layer.name)
    in_names, multi_in = _ends(cfg.get("input_layers"), path, "input_layers")
    out_names, multi_out = _ends(cfg.get("output_layers"), path, "output_layers")
    known_inputs = {n for n, _, _ in inputs}
    if any(n not in known_inputs for n in in_names) or any(n not in seen for n in out_names):
        raise fail(path, f"input_layers {in_names} / output_layers {out_names} name layers the model does not have")
    return {"kind": "functional", "name": name, "inputs": inputs, "layers": nodes, "input_names": in_names,
            "output_names": out_names, "multi_in": multi_in, "multi_out": multi_out}


def _weight_count(layer, shape):
    """Weights ``layer`` will allocate for input ``shape`` (an upper bound), without building it."""
    cls = type(layer).__name__
    if cls == "Dense":
        return shape[-1] * layer.units + layer.units
    if cls == "Conv2D":
        cin = shape[1] if layer.data_format == "channels_first" else shape[-1]
        kh, kw = layer.kernel_size
        return kh * kw * cin * layer.filters + layer.filters
    if cls == "BatchNormalization":
        return 4 * shape[layer.axis]
    return 0


def check_weights_fit(spec, available, path):
    """Refuse a config whose layers would allocate more weight bytes than the file holds, before
    any layer is built (a 1 KB config can describe a Dense layer of 10^10 weights)."""
    itemsize = 8 if backend.floatx() == "float64" else 4
    shapes = {name: (None,) + tuple(shape) for name, shape, _ in spec["inputs"]}
    total = 0
    try:
        if spec["kind"] == "sequential":
            shape = shapes[spec["inputs"][0][0]]
            for layer in spec["layers"]:
                layer.check_input_shape(shape)
                total += _weight_count(layer, shape)
                shape = tuple(layer.compute_output_shape(shape))
        else:
            for layer, names, multi in spec["layers"]:
                ins = [shapes[n] for n in names]
                arg = ins if multi else ins[0]
                layer.check_input_shape(arg)
                total += 0 if multi else _weight_count(layer, arg)
                shapes[layer.name] = tuple(layer.compute_output_shape(arg))
    except (TypeError, ValueError, KeyError, IndexError, AttributeError) as exc:
        raise fail(path, f"the architecture cannot be built: {exc}") from None
    if total * itemsize > available:
        raise fail(path, f"the config describes {total} weights ({total * itemsize} bytes), more than the "
                         f"{available} bytes of weights the file holds")


def read_archive(path):
    """(config dict, weights bytes getter) of a Keras ``.keras`` archive, sizes checked."""
    zf = bounded.open_zip(path)
    with zf:
        config = bounded.parse_json(bounded.read_member(zf, "config.json", path, bounded.MAX_CONFIG_BYTES), path)
        if "metadata.json" in zf.namelist():
            meta = bounded.parse_json(bounded.read_member(zf, "metadata.json", path, bounded.MAX_META_BYTES),
                                      path, "metadata.json", bounded.MAX_META_BYTES)
            if not isinstance(meta, dict):
                raise fail(path, "metadata.json must be a JSON object")
        if "model.weights.h5" not in zf.namelist():
            raise fail(path, "has no member 'model.weights.h5'")
        weights_size = zf.getinfo("model.weights.h5").file_size
    if not isinstance(config, dict):
        raise fail(path, f"config.json must be a JSON object, found {type(config).__name__}")

    def weights(max_bytes):
        with bounded.open_zip(path) as z:
            return bounded.read_member(z, "model.weights.h5", path, max_bytes)
    weights.size = weights_size
    return config, weights


def weights_budget(model):
    """The most bytes a model.weights.h5 for ``model`` may take (weights, 3 slots each, overhead)."""
    n = sum(int(w.nbytes) for w in model.weights)  # no device-to-host copy just to size them
    return 5 * n + 16 * 2**20


def read_weights_h5(model, data, path, with_optimizer):
    """[(layer, arrays)] and the optimizer plan (or None) from model.weights.h5 bytes, every
    dataset's shape and dtype checked before it is read. Nothing is assigned."""
    f = bounded.h5_open(path, io.BytesIO(data))
    with f:
        lg = bounded.h5_child(f, "layers", path)
        if lg is None:
            raise fail(path, "model.weights.h5 has no 'layers' group")
        layers = keras_layout.keras_layers(model)
        groups = keras_layout.group_names(layers)
        extra = sorted(set(bounded.h5_keys(lg, path)) - set(groups))
        if extra:
            raise fail(path, f"model.weights.h5 holds layer groups {extra[:10]} the model does not have")
        plan = []
        for layer, group in zip(layers, groups):
            node = bounded.h5_child(lg, group, path)
            vg = bounded.h5_child(node, "vars", path) if node is not None else None
            if vg is None:
                if layer.weights:
                    raise fail(path, f"model.weights.h5 has no 'layers/{group}/vars' for layer '{layer.name}'")
                continue
            keys = bounded.h5_keys(vg, path)
            if sorted(keys) != sorted(str(i) for i in range(len(layer.weights))):
                raise fail(path, f"layer '{layer.name}' has {len(layer.weights)} weights, the file's group "
                                 f"'layers/{group}/vars' holds {len(keys)}")
            arrays = [bounded.h5_array(vg, str(i), path, tuple(w.shape)) for i, w in enumerate(layer.weights)]
            plan.append((layer, arrays))
        opt_plan = None
        og = bounded.h5_child(f, "optimizer", path) if with_optimizer else None
        if og is not None and with_optimizer:
            opt_plan = _read_optimizer(model, bounded.h5_child(og, "vars", path), path)
    return plan, opt_plan


def _read_optimizer(model, vg, path):
    opt = model.optimizer
    if vg is None:
        return None
    keys = bounded.h5_keys(vg, path)
    expected = keras_layout.expected_optimizer_shapes(model, opt)
    n_fixed = 1 + (opt.schedule is None)
    if len(keys) <= n_fixed and len(expected) > n_fixed:
        return None  # the optimizer was never built (compiled, not trained): fresh state
    if sorted(keys) != sorted(str(i) for i in range(len(expected))):
        raise fail(path, f"the optimizer ({type(opt).__name__}) has {len(expected)} variables for this model, "
                         f"the file holds {len(keys)}; the optimizer or the architecture differs")
    arrays = [bounded.h5_array(vg, str(i), path, shape) for i, (_, shape) in enumerate(expected)]
    return keras_layout.optimizer_plan(model, opt, arrays, path)


def apply(model, plan, opt_plan):
    for layer, arrays in plan:
        if arrays:
            layer.set_weights(arrays)
    if opt_plan is not None:
        keras_layout.apply_optimizer(model, model.optimizer, opt_plan)
