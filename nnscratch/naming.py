"""Names, Keras's way: automatic layer and model names, and the one by-name lookup that every
registry (activations, initializers, losses, optimizers, layer classes) uses."""
from __future__ import annotations

import re
from collections import defaultdict

_NAME_COUNTS: dict = defaultdict(int)


def snake_case(name: str) -> str:
    """'MaxPooling2D' -> 'max_pooling2d', 'Dense' -> 'dense' (Keras's auto-naming rule)."""
    s = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", s).lower()


def unique_name(prefix: str) -> str:
    """Per-process unique names: dense, dense_1, dense_2, ... (as Keras; models too:
    sequential, sequential_1, functional, ...)."""
    n = _NAME_COUNTS[prefix]
    _NAME_COUNTS[prefix] += 1
    return prefix if n == 0 else f"{prefix}_{n}"


def reset_names() -> None:
    """Forget the automatic-name counters (``nn.backend.clear_session()``)."""
    _NAME_COUNTS.clear()


def lookup(kind: str, table: dict, name: str, plural: str = None):
    """``table[name]``, trying the name as given and then lower-cased; an unknown name is a
    ValueError that lists the valid ones: "unknown activation 'relux'; valid activations: ..."."""
    if name in table:
        return table[name]
    if isinstance(name, str) and name.lower() in table:
        return table[name.lower()]
    plural = plural or kind + "s"
    raise ValueError(f"unknown {kind} {name!r}; valid {plural}: {', '.join(sorted(table))}")
