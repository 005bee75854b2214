"""PyTorch, written as its users write it: nn.Sequential in NCHW, logits + F.cross_entropy (the
softmax is fused into the loss, as Keras does inside fit; one-hot float targets for the
categorical workloads, which F.cross_entropy takes as class probabilities), Adam with Keras's
epsilon (1e-7), a randperm shuffle and index batches each epoch, and, with a validation split,
Keras's split (the last fraction, before shuffling) evaluated under ``torch.no_grad`` at the end.

``device`` is 'cpu' for the side-by-side CPU suite and 'cuda' for ``python -m benchmarks gpu``;
host arrays are copied to the device inside the timed epoch, as nnscratch's ``fit`` does."""
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


def build(model_name, seed, device="cpu"):
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
        elif kind == "dropout":
            mods.append(nn.Dropout(layer[1]))
        else:
            mods.append(nn.LazyLinear(layer[1]))
            if layer[2] == "relu":
                mods.append(nn.ReLU())  # the softmax output is fused into F.cross_entropy
    model = nn.Sequential(*mods).to(device)
    x0 = torch.zeros((1,) + ((shape[-1],) + tuple(shape[:-1]) if len(shape) == 3 else tuple(shape)), device=device)
    model(x0)  # materialise the lazy layers
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
    return {"model": model, "opt": opt, "image": len(shape) == 3, "device": device}


def _tensor(x, image, device):
    import torch

    t = torch.from_numpy(x).to(device)  # shares the NumPy memory on the CPU
    if image:
        t = t.reshape(t.shape[0], 1, 28, 28) if t.ndim == 3 else t.permute(0, 3, 1, 2)
    return t


def _labels_match(logits, yb):
    return logits.argmax(1) == (yb.argmax(1) if yb.ndim == 2 else yb)


def train_epoch(m, x, y, batch, validation_split=0.0):
    import torch
    import torch.nn.functional as F

    model, opt = m["model"], m["opt"]
    X, Y = _tensor(x, m["image"], m["device"]), torch.from_numpy(y).to(m["device"])
    n = X.shape[0]
    if validation_split:
        split = int(n * (1.0 - validation_split))  # Keras: the last fraction, before shuffling
        X, Y, Xv, Yv, n = X[:split], Y[:split], X[split:], Y[split:], split
    model.train()
    perm = torch.randperm(n, device=m["device"])
    loss_sum = torch.zeros((), device=m["device"])
    correct = torch.zeros((), dtype=torch.int64, device=m["device"])
    for start in range(0, n, batch):
        idx = perm[start:start + batch]
        xb, yb = X[idx], Y[idx]
        opt.zero_grad(set_to_none=True)
        logits = model(xb)
        loss = F.cross_entropy(logits, yb)
        loss.backward()
        opt.step()
        with torch.no_grad():  # the running loss and accuracy Keras's fit reports
            loss_sum += loss.detach() * xb.shape[0]
            correct += _labels_match(logits, yb).sum()
    if validation_split:  # Keras evaluates the validation part after the epoch, at batch_size
        model.eval()
        with torch.no_grad():
            val_loss = torch.zeros((), device=m["device"])
            val_correct = torch.zeros((), dtype=torch.int64, device=m["device"])
            for start in range(0, Xv.shape[0], batch):
                xb, yb = Xv[start:start + batch], Yv[start:start + batch]
                logits = model(xb)
                val_loss += F.cross_entropy(logits, yb) * xb.shape[0]
                val_correct += _labels_match(logits, yb).sum()
            float(val_loss)  # Keras's fit reports val_loss: wait for it
    return float(loss_sum) / n


def predict(m, x, batch):
    import torch

    model = m["model"]
    model.eval()
    X = _tensor(x, m["image"], m["device"])
    with torch.inference_mode():
        out = [torch.softmax(model(X[s:s + batch]), dim=1) for s in range(0, X.shape[0], batch)]
    return torch.cat(out).cpu().numpy()
