"""Keras's object form ``{"module", "class_name", "config", "registered_name"}``: making one,
and checking that one read from a file is a built-in class (custom objects are refused by name)."""
from __future__ import annotations

from nnscratch.saving.bounded import fail, need


def keras_object(module, class_name, config):
    return {"module": module, "class_name": class_name, "config": config, "registered_name": None}


def check_object(obj, path, where, modules):
    """``obj`` is a Keras object of a built-in module; custom objects are refused by name."""
    class_name = need(obj, "class_name", str, path, where)
    registered = obj.get("registered_name")
    module = obj.get("module")
    if module is not None and not isinstance(module, str):
        raise fail(path, f"{where}: 'module' must be a string")
    custom = (registered not in (None, class_name) or (module is not None and not any(
        module == m or module.startswith(m + ".") for m in modules)))
    if custom:
        raise fail(path, f"{where} is a custom object {registered or class_name!r} (module {module!r}); nnscratch "
                         "loads only built-in Keras classes and never runs code from a file")
    return class_name
