"""Keras 3's serialization of layers, optimizers, schedules and losses, both ways.

Keras writes every object as ``{"module", "class_name", "config", "registered_name"}`` (plus
``build_config`` for built layers). Its layer configs carry keys nnscratch's layers do not take
(a dtype policy, regularizers, constraints, ``groups``, quantization...). Reading, each such key
must hold the one value nnscratch honours (its Keras default), else the file is refused with a
ValueError naming the layer and the key; writing, they are filled in with those defaults.
Unknown classes and custom objects (a ``registered_name`` such as ``"my_pkg>MyLayer"``) are
refused by name before anything is built. Nothing from a file is ever executed.
"""
from __future__ import annotations

from nnscratch import backend, initializers, layers as layers_mod, losses, optimizers
from nnscratch.saving import keras_metrics
from nnscratch.saving.keras_objects import check_object, keras_object as _obj  # noqa: F401 (check_object: re-exported)
from nnscratch.optimizers import schedules
from nnscratch.saving.bounded import fail, need

# Keras-only layer keys, each with the only value nnscratch can honour (None: must be None).
_FIXED = {"kernel_regularizer": None, "bias_regularizer": None, "activity_regularizer": None,
          "kernel_constraint": None, "bias_constraint": None, "beta_regularizer": None, "gamma_regularizer": None,
          "beta_constraint": None, "gamma_constraint": None, "quantization_config": None, "lora_rank": None,
          "lora_alpha": None, "groups": 1, "synchronized": False, "renorm": False, "renorm_clipping": None,
          "sparse": False, "ragged": False, "optional": False}
_REGULARIZER_KEYS = ("kernel_regularizer", "bias_regularizer", "activity_regularizer")
_REGULARIZERS = ("L1", "L2", "L1L2")  # Keras's built-in weight regularizers, which nnscratch has
_IGNORED = ("renorm_momentum", "build_config")  # no effect when the fixed keys hold their defaults
# the Keras-only keys written for each class (their defaults)
_EXTRAS = {
    "Dense": ("kernel_regularizer", "bias_regularizer", "kernel_constraint", "bias_constraint", "quantization_config"),
    "Conv2D": ("groups", "kernel_regularizer", "bias_regularizer", "activity_regularizer", "kernel_constraint",
               "bias_constraint"),
    "BatchNormalization": ("beta_regularizer", "gamma_regularizer", "beta_constraint", "gamma_constraint",
                           "synchronized", "renorm", "renorm_clipping"),
}
_KERAS_OPT_EXTRAS = {"use_ema": False, "ema_momentum": None, "ema_overwrite_frequency": None,
                     "loss_scale_factor": None, "gradient_accumulation_steps": None}
_FLOAT_DTYPES = ("float32", "float64")


def dtype_policy():
    return _obj("keras", "DTypePolicy", {"name": backend.floatx()})


# ---------------------------------------------------------------------------------- writing
def _initializer_to_keras(value):
    if isinstance(value, str):
        cls = initializers._REGISTRY[value]
        return _obj("keras.initializers", cls.__name__, cls().get_config())
    if isinstance(value, dict):  # nnscratch's {"class_name": key, "config": cfg}
        cls = initializers._REGISTRY[value["class_name"]]
        return _obj("keras.initializers", cls.__name__, dict(value["config"]))
    return value


def layer_to_keras(layer, inbound_nodes=None):
    """Keras's serialization of one nnscratch layer (``inbound_nodes`` for functional models)."""
    cls = type(layer).__name__
    if cls == "InputLayer":
        out = _obj("keras.layers", "InputLayer", {
            "batch_shape": [layer.batch_size] + list(layer._declared_input_shape), "dtype": backend.floatx(),
            "sparse": False, "ragged": False, "name": layer.name, "optional": False})
    else:
        if getattr(layer, "_is_model", False):
            raise ValueError(f"saving a model nested in a model ('{layer.name}') in Keras's format is not supported; "
                             "save it as '.nnscratch' (nnscratch's own file), or flatten the model")
        if layers_mod._LAYER_CLASSES.get(cls) is not type(layer) or cls not in KNOWN_LAYERS:
            raise ValueError(f"layer '{layer.name}' is a {cls}, which has no Keras counterpart nnscratch can write")
        cfg = dict(layer.get_config())
        cfg.pop("input_shape", None)
        cfg["dtype"] = dtype_policy()
        for key in ("kernel_initializer", "bias_initializer", "beta_initializer", "gamma_initializer",
                    "moving_mean_initializer", "moving_variance_initializer"):
            if key in cfg:
                cfg[key] = _initializer_to_keras(cfg[key])
        for key in _EXTRAS.get(cls, ()):
            if key in _REGULARIZER_KEYS and cfg.get(key) is not None:
                continue  # an nnscratch regularizer: written below in Keras's form
            cfg[key] = _FIXED[key]
        for key in _REGULARIZER_KEYS:
            if cfg.get(key) is not None:
                cfg[key] = _obj("keras.regularizers", cfg[key]["class_name"], dict(cfg[key]["config"]))
        if cls == "BatchNormalization":
            cfg["renorm_momentum"] = 0.99
        out = _obj("keras.layers", cls, cfg)
        if layer.built and getattr(layer, "input_shape", None) is not None:
            shape = layer.input_shape
            shape = [list(s) for s in shape] if shape and isinstance(shape[0], (tuple, list)) else list(shape)
            out["build_config"] = {"input_shape": shape}
    if inbound_nodes is not None:
        out["name"] = layer.name
        out["inbound_nodes"] = inbound_nodes
    return out


def optimizer_to_keras(opt):
    cfg = dict(opt.get_config())
    lr = cfg.get("learning_rate")
    if isinstance(lr, dict):
        cfg["learning_rate"] = _obj("keras.optimizers.schedules", lr["class_name"], dict(lr["config"]))
    for key, value in _KERAS_OPT_EXTRAS.items():
        cfg[key] = 0.99 if key == "ema_momentum" else value
    return _obj("keras.optimizers", type(opt).__name__, cfg)


def loss_to_keras(loss):
    cfg = loss.get_config()
    default = type(loss)().get_config()
    if cfg == default:
        return cfg["name"]  # Keras accepts the alias: 'sparse_categorical_crossentropy'
    return _obj("keras.losses", type(loss).__name__, cfg)


# ---------------------------------------------------------------------------------- reading
KNOWN_LAYERS = ("Activation", "ReLU", "LeakyReLU", "Softmax", "Conv2D", "Dense", "Dropout", "AveragePooling2D",
                "MaxPooling2D", "Flatten", "Add", "Subtract", "Multiply", "Average", "Concatenate",
                "BatchNormalization", "GlobalAveragePooling2D", "GlobalMaxPooling2D", "Reshape", "ZeroPadding2D")
_ALIASES = {"Convolution2D": "Conv2D", "MaxPool2D": "MaxPooling2D", "AvgPool2D": "AveragePooling2D",
            "GlobalAvgPool2D": "GlobalAveragePooling2D", "GlobalMaxPool2D": "GlobalMaxPooling2D"}


def _check_dtype(value, path, where):
    if value is None:
        return
    if isinstance(value, dict):
        name = value.get("config", {}).get("name") if isinstance(value.get("config"), dict) else None
        cls = value.get("class_name")
        if cls not in ("DTypePolicy", "FloatDTypePolicy") or not isinstance(name, str):
            raise fail(path, f"{where}: dtype policy {cls!r} is not supported (nnscratch computes in one float dtype)")
        value = name
    if not isinstance(value, str) or value not in _FLOAT_DTYPES:
        raise fail(path, f"{where}: dtype {value!r} is not supported; nnscratch computes in float32 or float64")
    if value != backend.floatx():
        raise fail(path, f"{where}: the file's layers compute in {value}, nnscratch in {backend.floatx()}; call "
                         f"nn.backend.set_floatx({value!r}) before loading")


def _initializer_from_keras(value, path, where):
    if value is None or isinstance(value, str):
        return value
    class_name = check_object(value, path, where, ("keras",))
    cfg = value.get("config") or {}
    if not isinstance(cfg, dict):
        raise fail(path, f"{where}: 'config' must be a JSON object")
    key = initializers._CLASS_NAMES.get(class_name)
    if key is None:
        raise fail(path, f"{where}: initializer {class_name!r} is not available in nnscratch")
    cfg = {k: v for k, v in cfg.items() if not (k in ("input_axes", "output_axes") and v is None)}
    if all(v is None for v in cfg.values()):
        return key
    try:
        return initializers._REGISTRY[key](**cfg)
    except (TypeError, ValueError) as exc:
        raise fail(path, f"{where}: initializer {class_name} with {cfg} is not supported ({exc})") from None


def layer_from_keras(obj, path, index):
    """A new nnscratch layer from Keras's serialization (not an InputLayer)."""
    where = f"layer {index}"
    class_name = check_object(obj, path, where, ("keras.layers", "keras.src.layers"))
    class_name = _ALIASES.get(class_name, class_name)
    cfg = need(obj, "config", dict, path, where)
    name = cfg.get("name", f"#{index}")
    where = f"layer '{name}' ({class_name})"
    if class_name in ("Sequential", "Functional", "Model"):
        raise fail(path, f"{where}: a model nested in a model is not supported by nnscratch; flatten it into one model")
    if class_name not in KNOWN_LAYERS:
        raise fail(path, f"{where}: nnscratch has no layer {class_name!r} (it has {', '.join(KNOWN_LAYERS)})")
    cfg = dict(cfg)
    _check_dtype(cfg.pop("dtype", None), path, where)
    for key in _IGNORED:
        cfg.pop(key, None)
    for key in _REGULARIZER_KEYS:  # L1/L2/L1L2 on Dense and Conv2D: nnscratch has them
        value = cfg.get(key)
        if class_name in ("Dense", "Conv2D") and isinstance(value, dict) and value.get("class_name") in _REGULARIZERS:
            check_object(value, path, f"{where} {key}", ("keras.regularizers", "keras.src.regularizers"))
            cfg[key] = {"class_name": value["class_name"], "config": need(value, "config", dict, path, f"{where} {key}")}
    for key, default in _FIXED.items():
        if key in _REGULARIZER_KEYS and class_name in ("Dense", "Conv2D") and isinstance(cfg.get(key), dict):
            continue
        if key in cfg:
            value = cfg.pop(key)
            if value != default and not (default is None and value in ({}, [])):
                raise fail(path, f"{where}: {key}={value!r} is not supported by nnscratch (only {default!r})")
    for key in list(cfg):
        if key.endswith("_initializer"):
            cfg[key] = _initializer_from_keras(cfg[key], path, f"{where} {key}")
    act = cfg.get("activation")
    if act is not None and not isinstance(act, str):
        raise fail(path, f"{where}: activation {act!r} is not a built-in activation name")
    try:
        return layers_mod.get_layer_class(class_name).from_config(cfg)
    except (TypeError, ValueError, KeyError, AttributeError) as exc:
        raise fail(path, f"{where}: config not accepted by nnscratch ({exc})") from None


def input_from_keras(obj, path, index):
    """(name, per-sample shape, batch_size) of a Keras InputLayer."""
    cfg = need(obj, "config", dict, path, f"layer {index}")
    name = need(cfg, "name", str, path, f"layer {index} (InputLayer)")
    where = f"input layer '{name}'"
    shape = cfg.get("batch_shape", cfg.get("batch_input_shape"))
    if not isinstance(shape, list) or len(shape) < 2 or any(
            d is not None and (not isinstance(d, int) or isinstance(d, bool) or d <= 0) for d in shape):
        raise fail(path, f"{where}: batch_shape must be a list [batch, dims...] of positive integers, found {shape!r}")
    for key in ("sparse", "ragged", "optional"):
        if cfg.get(key, False) is not False:
            raise fail(path, f"{where}: {key}={cfg[key]!r} is not supported by nnscratch")
    dt = cfg.get("dtype")
    if dt is not None and dt not in _FLOAT_DTYPES:
        raise fail(path, f"{where}: input dtype {dt!r} is not supported")
    if any(d is None for d in shape[1:]):
        raise fail(path, f"{where}: nnscratch needs every non-batch dimension known, found {shape!r}")
    return name, tuple(shape[1:]), shape[0]


def schedule_from_keras(obj, path):
    class_name = check_object(obj, path, "the learning-rate schedule", ("keras",))
    cfg = need(obj, "config", dict, path, "the learning-rate schedule")
    if class_name not in schedules._REGISTRY:
        raise fail(path, f"learning-rate schedule {class_name!r} is not available in nnscratch "
                         f"(it has {', '.join(schedules._REGISTRY)})")
    try:
        return schedules._REGISTRY[class_name].from_config(dict(cfg))
    except (TypeError, ValueError) as exc:
        raise fail(path, f"learning-rate schedule {class_name}: {exc}") from None


def optimizer_from_keras(obj, path):
    if isinstance(obj, str):
        try:
            return optimizers.get(obj)
        except (TypeError, ValueError) as exc:
            raise fail(path, str(exc)) from None
    class_name = check_object(obj, path, "the optimizer", ("keras",))
    cfg = dict(need(obj, "config", dict, path, "the optimizer"))
    if class_name not in optimizers._CLASSES:
        raise fail(path, f"optimizer {class_name!r} is not available in nnscratch "
                         f"(it has {', '.join(sorted(optimizers._CLASSES))})")
    for key, default in _KERAS_OPT_EXTRAS.items():
        value = cfg.pop(key, default)
        if key != "ema_momentum" and value != default and not (key == "gradient_accumulation_steps" and value in (0, 1)):
            raise fail(path, f"optimizer {class_name}: {key}={value!r} is not supported by nnscratch")
    if isinstance(cfg.get("learning_rate"), dict):
        cfg["learning_rate"] = schedule_from_keras(cfg["learning_rate"], path)
    elif isinstance(cfg.get("learning_rate"), (int, float)) and not isinstance(cfg.get("learning_rate"), bool):
        cfg["learning_rate"] = float(cfg["learning_rate"])
    try:
        return optimizers._CLASSES[class_name](**cfg)
    except (TypeError, ValueError) as exc:
        raise fail(path, f"optimizer {class_name}: {exc}") from None


_LOSS_EXTRAS = {"from_logits": False, "label_smoothing": 0.0, "ignore_class": None, "axis": -1, "dtype": None}


def loss_from_keras(obj, path):
    if isinstance(obj, dict) and obj.get("class_name") == "function" and obj.get("module") == "builtins":
        obj = obj.get("config")  # Keras's plain loss functions: {'class_name': 'function', 'config': 'mse'}
    if isinstance(obj, str):
        try:
            return losses.get(obj)
        except (TypeError, ValueError) as exc:
            raise fail(path, str(exc)) from None
    class_name = check_object(obj, path, "the loss", ("keras",))
    cfg = dict(need(obj, "config", dict, path, "the loss"))
    if class_name not in losses._CLASSES:
        raise fail(path, f"loss {class_name!r} is not available in nnscratch (it has {', '.join(sorted(losses._CLASSES))})")
    accepted = losses._CLASSES[class_name]().get_config()
    for key in list(cfg):
        if key not in accepted:
            value = cfg.pop(key)
            if key in _LOSS_EXTRAS and value != _LOSS_EXTRAS[key] and key != "dtype":
                raise fail(path, f"loss {class_name}: {key}={value!r} is not supported by nnscratch")
    try:
        return losses._CLASSES[class_name].from_config(cfg)
    except (TypeError, ValueError) as exc:
        raise fail(path, f"loss {class_name}: {exc}") from None


def compile_from_keras(cfg, path, key="optimizer"):
    """(optimizer, loss, metrics) from Keras's compile_config (or legacy training_config)."""
    if not isinstance(cfg, dict):
        raise fail(path, "compile_config must be a JSON object")
    for k in ("loss_weights", "weighted_metrics"):
        if cfg.get(k) is not None:
            raise fail(path, f"compile_config: {k} is not supported by nnscratch")
    if "loss" not in cfg or cfg["loss"] is None:
        raise fail(path, "compile_config has no loss")
    opt = optimizer_from_keras(cfg.get(key, "rmsprop"), path)
    loss = loss_from_keras(cfg["loss"], path)
    metrics = cfg.get("metrics") or []
    if isinstance(metrics, (str, dict)):
        metrics = [metrics]
    if not isinstance(metrics, list):
        raise fail(path, f"compile_config: metrics must be a list, found {metrics!r}")
    return opt, loss, [keras_metrics.metric_from_keras(m, path) for m in metrics]
