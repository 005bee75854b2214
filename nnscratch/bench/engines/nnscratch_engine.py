"""nnscratch through its public API: Sequential + compile + fit/predict on NumPy arrays."""
import importlib.util

from nnscratch.bench.workloads import MODELS


def available():
    return (importlib.util.find_spec("nnscratch") is not None, "nnscratch is not importable")


def setup(threads):
    pass  # NumPy's BLAS threads come from OPENBLAS_NUM_THREADS/OMP_NUM_THREADS in the environment


def versions():
    import numpy

    import nnscratch

    try:
        import threadpoolctl
    except ImportError:  # optional for nnscratch itself (e.g. on a GPU machine that installs nothing)
        blas = ["unknown (threadpoolctl is not installed)"]
    else:
        blas = [f"{i.get('internal_api')} {i.get('version')} ({i.get('architecture')}, {i.get('num_threads')} threads)"
                for i in threadpoolctl.threadpool_info() if i.get("user_api") == "blas"]
    return {"nnscratch": getattr(nnscratch, "__version__", "dev"), "numpy": numpy.__version__, "blas": "; ".join(blas),
            "nnscratch_backend": nnscratch.backend.current()}


def build(model_name, seed):
    import nnscratch as nn

    L = nn.layers
    nn.utils.set_random_seed(seed)
    spec = MODELS[model_name]
    layers = [L.Input(spec["input"])]
    for layer in spec["layers"]:
        kind = layer[0]
        if kind == "conv":
            layers.append(L.Conv2D(layer[1], layer[2], padding=layer[3], activation="relu"))
        elif kind == "avgpool_same":
            layers.append(L.AveragePooling2D(layer[1], strides=layer[1], padding="same"))
        elif kind == "maxpool":
            layers.append(L.MaxPooling2D(layer[1]))
        elif kind == "flatten":
            layers.append(L.Flatten())
        elif kind == "dropout":
            layers.append(L.Dropout(layer[1]))
        else:
            layers.append(L.Dense(layer[1], activation=layer[2]))
    model = nn.Sequential(layers)
    model.compile(optimizer=nn.optimizers.Adam(1e-3), loss=spec["loss"], metrics=["accuracy"])
    return model


def train_epoch(model, x, y, batch, validation_split=0.0):
    history = model.fit(x, y, batch_size=batch, epochs=1, verbose=0, shuffle=True, validation_split=validation_split)
    return history.history["loss"][-1]


def predict(model, x, batch):
    return model.predict(x, batch_size=batch, verbose=0)
