"""PyTorch (CPU), written as its users write it: nn.Sequential in NCHW, logits +
F.cross_entropy (the softmax is fused into the loss, as Keras does inside fit), Adam with
Keras's epsilon (1e-7), a randperm shuffle and index batches each epoch."""
import importlib.util

from nnscratch.bench.workloads import MODELS


def available():
    return importlib.util.find_spec("torch") is not None, "torch is not installed"


def setup(threads):
    import torch

    torch.set_num_threads(threads)


def versions():
    import torch

    return {"torch": torch.__version__}


def build(model_name, seed):
    import torch
    from torch import nn

    torch.manual_seed(seed)
    spec = MODELS[model_name]
    shape = spec["input"]
    channels = shape[-1] if len(shape) == 3 else None
    mods = []
    for layer in spec["layers"]:
        kind = layer[0]
        if kind == "conv":
            pad = layer[2] // 2 if layer[3] == "same" else 0  # odd kernel, stride 1: TF 'same' is symmetric
            mods += [nn.Conv2d(channels, layer[1], layer[2], padding=pad), nn.ReLU()]
            channels = layer[1]
        elif kind == "avgpool_same":
            # ceil_mode windows that run past the edge average only the real cells: TF 'same'
            # for pool 2 / stride 2 (the missing cell is at the bottom/right in both).
            mods.append(nn.AvgPool2d(layer[1], stride=layer[1], ceil_mode=True))
        elif kind == "maxpool":
            mods.append(nn.MaxPool2d(layer[1]))
        elif kind == "flatten":
            mods.append(nn.Flatten())
        else:
            mods.append(nn.LazyLinear(layer[1]))
            if layer[2] == "relu":
                mods.append(nn.ReLU())  # the softmax output is fused into F.cross_entropy
    model = nn.Sequential(*mods)
    x0 = torch.zeros((1,) + ((shape[-1],) + tuple(shape[:-1]) if len(shape) == 3 else tuple(shape)))
    model(x0)  # materialise the lazy layers
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
    return {"model": model, "opt": opt, "image": len(shape) == 3}


def _tensor(x, image):
    import torch

    t = torch.from_numpy(x)  # shares the NumPy memory
    if image:
        t = t.reshape(t.shape[0], 1, 28, 28) if t.ndim == 3 else t.permute(0, 3, 1, 2)
    return t


def train_epoch(m, x, y, batch):
    import torch
    import torch.nn.functional as F

    model, opt = m["model"], m["opt"]
    X, Y = _tensor(x, m["image"]), torch.from_numpy(y)
    model.train()
    perm = torch.randperm(X.shape[0])
    loss_sum = torch.zeros(())
    correct = torch.zeros((), dtype=torch.int64)
    for start in range(0, X.shape[0], batch):
        idx = perm[start:start + batch]
        xb, yb = X[idx], Y[idx]
        opt.zero_grad(set_to_none=True)
        logits = model(xb)
        loss = F.cross_entropy(logits, yb)
        loss.backward()
        opt.step()
        with torch.no_grad():  # the running loss and accuracy Keras's fit reports
            loss_sum += loss.detach() * xb.shape[0]
            correct += (logits.argmax(1) == yb).sum()
    return float(loss_sum) / X.shape[0]


def predict(m, x, batch):
    import torch

    model = m["model"]
    model.eval()
    X = _tensor(x, m["image"])
    with torch.inference_mode():
        out = [torch.softmax(model(X[s:s + batch]), dim=1) for s in range(0, X.shape[0], batch)]
    return torch.cat(out).numpy()
