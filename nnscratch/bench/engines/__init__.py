"""One module per engine, each with the same five functions, imported only in the child
process that measures it (so no engine's import or threads touch another's numbers):

    available() -> (bool, reason)     is the framework importable here?
    setup(threads)                    thread settings, before anything runs
    versions() -> dict
    build(model_name, seed) -> model  compiled, Adam(1e-3), the spec's loss
    train_epoch(model, x, y, batch, validation_split=0.0)
                                      one shuffled epoch (then the validation part, if any);
                                      returns the epoch's mean training loss
    predict(model, x, batch) -> probabilities (numpy)
"""
import importlib

ENGINES = ("nnscratch", "torch", "keras")


def get(name):
    if name not in ENGINES:
        raise ValueError(f"unknown engine {name!r}; choose from {', '.join(ENGINES)}")
    return importlib.import_module(f"nnscratch.bench.engines.{name}_engine")
