"""The engine's architecture, checked: imports run one way (from the model down to the layers,
the kernels and the backend), no import circles, no function-level imports that dodge one, and
no engine module over about 300 lines (issue 12)."""
from __future__ import annotations

import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1] / "nnscratch"

#: Each module's rank in the architecture: a module may import only modules of a rank lower than
#: or equal to its own (equal: within one package). Longest prefix wins.
RANKS = {
    "nnscratch.backend": 0,
    "nnscratch.naming": 0,  # a leaf: it imports nothing of nnscratch
    "nnscratch.config": 1,
    "nnscratch.activations": 2, "nnscratch.initializers": 2, "nnscratch.regularizers": 2,
    "nnscratch.kernels": 3, "nnscratch.ops": 3,
    "nnscratch.layers": 4,
    "nnscratch.losses": 5, "nnscratch.metrics": 5, "nnscratch.optimizers": 5,
    "nnscratch.saving": 6, "nnscratch.callbacks": 7,
    "nnscratch.models": 8, "nnscratch.export": 8,
    "nnscratch.data": 9, "nnscratch.datasets": 9, "nnscratch.utils": 9, "nnscratch.preprocessing": 9,
    "nnscratch.debug": 10, "nnscratch.plot": 10, "nnscratch.exercises": 11, "nnscratch.bench": 11,
    "nnscratch.presets": 11, "nnscratch.cli": 12, "nnscratch.version": 0,
    "nnscratch.__main__": 13, "nnscratch": 13,
}

#: Modules from this rank up are applications of the library: they may ``import nnscratch as nn``.
APPLICATION_RANK = 11

#: Allowed exceptions, each with its reason.
ALLOWED_UPWARD = {
    # The top-level package re-exports everything (the public surface).
    ("nnscratch", "*"),
}


def module_name(path: pathlib.Path) -> str:
    rel = path.relative_to(ROOT.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def rank(name: str) -> int:
    best = None
    for prefix, r in RANKS.items():
        if name == prefix or name.startswith(prefix + "."):
            if best is None or len(prefix) > len(best[0]):
                best = (prefix, r)
    if best is None:
        raise AssertionError(f"module {name} has no rank in tests/test_architecture.py: add it to RANKS")
    return best[1]


def imports_of(path: pathlib.Path):
    """[(imported module, line, at module level?)] for every nnscratch import in the file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    me = module_name(path)
    is_pkg = path.name == "__init__.py"
    out = []
    top_level = {id(n) for n in tree.body}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:  # relative import
                base = me.split(".") if is_pkg else me.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            if not mod.startswith("nnscratch"):
                continue
            for alias in node.names:  # "from nnscratch import layers" imports a module
                candidate = f"{mod}.{alias.name}"
                target = candidate if _is_module(candidate) else mod
                out.append((target, node.lineno, id(node) in top_level))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("nnscratch"):
                    out.append((alias.name, node.lineno, id(node) in top_level))
    return out


def _is_module(name: str) -> bool:
    p = ROOT.parent.joinpath(*name.split("."))
    return p.with_suffix(".py").exists() or (p / "__init__.py").exists()


def engine_files():
    return sorted(p for p in ROOT.rglob("*.py") if "__pycache__" not in p.parts)


def test_no_import_runs_from_a_lower_layer_to_a_higher_one():
    bad = []
    for path in engine_files():
        me = module_name(path)
        if (me, "*") in ALLOWED_UPWARD:
            continue
        for target, line, _ in imports_of(path):
            if target == "nnscratch" and rank(me) >= APPLICATION_RANK:
                continue  # applications (presets, exercises, CLI) build models with the public API
            if rank(target) > rank(me):
                bad.append(f"{path.relative_to(ROOT.parent)}:{line} imports {target} "
                           f"(rank {rank(target)} > {me}'s rank {rank(me)})")
    assert not bad, "imports running upward:\n" + "\n".join(bad)


#: Packages whose function-level imports are deliberate, with the reason.
LAZY_IMPORTS_ALLOWED = {
    # each benchmark child process imports only the engine it measures (memory and start-up are measured)
    "nnscratch.bench",
}


def test_no_function_level_imports_of_nnscratch_inside_nnscratch():
    bad = []
    for path in engine_files():
        if any(module_name(path).startswith(p) for p in LAZY_IMPORTS_ALLOWED):
            continue
        for target, line, at_top in imports_of(path):
            if not at_top and module_name(path) != "nnscratch":  # the package's lazy __getattr__
                bad.append(f"{path.relative_to(ROOT.parent)}:{line} imports {target} inside a function")
    assert not bad, "function-level imports (move the code instead):\n" + "\n".join(bad)


def test_no_import_circle_among_engine_modules():
    graph = {}
    for path in engine_files():
        me = module_name(path)
        graph.setdefault(me, set())
        for target, _, at_top in imports_of(path):
            if at_top and target != me:
                graph[me].add(target)
    # a package's __init__ re-exporting its own submodules is not a circle with them
    def edges(m):
        return {t for t in graph.get(m, ()) if not (m != "nnscratch" and t.startswith(m + ".")
                                                     and (ROOT.parent / m.replace(".", "/") / "__init__.py").exists())}

    state, stack, cycles = {}, [], []

    def visit(m):
        state[m] = 1
        stack.append(m)
        for t in edges(m):
            if t == "nnscratch" or t not in graph:
                continue
            if state.get(t) == 1:
                cycles.append(stack[stack.index(t):] + [t])
            elif state.get(t) is None:
                visit(t)
        stack.pop()
        state[m] = 2

    for m in sorted(graph):
        if state.get(m) is None:
            visit(m)
    assert not cycles, "import circles:\n" + "\n".join(" -> ".join(c) for c in cycles)


@pytest.mark.parametrize("path", engine_files(), ids=lambda p: str(p.relative_to(ROOT.parent)))
def test_engine_module_stays_under_about_300_lines(path):
    n = len(path.read_text(encoding="utf-8").splitlines())
    assert n <= 330, f"{path.relative_to(ROOT.parent)} has {n} lines; split it along its responsibilities"


def test_config_is_the_one_source_of_image_data_format():
    import nnscratch as nn

    try:
        nn.config.set_image_data_format("channels_first")
        assert nn.layers.Conv2D(2, 3).data_format == "channels_first"
        assert nn.layers.MaxPooling2D().data_format == "channels_first"
    finally:
        nn.config.set_image_data_format("channels_last")
    assert nn.layers.Conv2D(2, 3).data_format == "channels_last"
    with pytest.raises(ValueError, match="channels_last"):
        nn.config.set_image_data_format("nhwc")
