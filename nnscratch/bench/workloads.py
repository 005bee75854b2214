"""The workloads: the course's seed models (MLP 784-128-10, LeNet) and a larger conv net, for
training (one epoch, Adam(1e-3), sparse categorical cross-entropy) and inference (predict on the
10,000 test images at batch 1000). Every engine builds the same architecture from these specs.

A model spec is a list of layers; each engine translates it (nnscratch/Keras channels-last,
PyTorch channels-first as its users write it):
    ("conv", filters, kernel, padding)   Conv2D + ReLU
    ("avgpool_same", 2)                  AveragePooling2D(2, strides=2, padding='same')
    ("maxpool", 2)                       MaxPooling2D(2)
    ("flatten",)
    ("dense", units, activation)         activation 'relu' or 'softmax' (the output layer)
"""
from __future__ import annotations

from dataclasses import dataclass

MODELS = {
    "mlp": {"input": (784,), "layers": [("dense", 128, "relu"), ("dense", 10, "softmax")]},
    "lenet": {"input": (28, 28, 1), "layers": [
        ("conv", 6, 3, "valid"), ("avgpool_same", 2), ("conv", 16, 3, "valid"), ("avgpool_same", 2),
        ("flatten",), ("dense", 120, "relu"), ("dense", 84, "relu"), ("dense", 10, "softmax")]},
    "convnet": {"input": (28, 28, 1), "layers": [
        ("conv", 32, 3, "same"), ("conv", 32, 3, "same"), ("maxpool", 2),
        ("conv", 64, 3, "same"), ("conv", 64, 3, "same"), ("maxpool", 2),
        ("flatten",), ("dense", 256, "relu"), ("dense", 10, "softmax")]},
}


@dataclass(frozen=True)
class Workload:
    name: str
    model: str
    kind: str  # 'train' (one epoch of fit) or 'infer' (predict over the test set)
    batch: int
    images: int  # training images per epoch, or test images predicted
    quick_images: int
    note: str = ""

    def n_images(self, quick):
        return self.quick_images if quick else self.images


WORKLOADS = [
    Workload("mlp_train_b32", "mlp", "train", 32, 60000, 10000),
    Workload("mlp_train_b128", "mlp", "train", 128, 60000, 10000),
    Workload("lenet_train_b64", "lenet", "train", 64, 60000, 10000),
    Workload("mlp_infer_b1000", "mlp", "infer", 1000, 10000, 10000),
    Workload("lenet_infer_b1000", "lenet", "infer", 1000, 10000, 10000),
    Workload("convnet_train_b64", "convnet", "train", 64, 10000, 2000,
             note="first 10,000 training images (2,000 with --quick): a full epoch takes minutes"),
]
BY_NAME = {w.name: w for w in WORKLOADS}

#: The targets of issue 6: nnscratch time / PyTorch time must be at most this.
TARGETS = {"mlp_train_b32": 0.8, "mlp_train_b128": 1.0, "lenet_train_b64": 1.0,
           "mlp_infer_b1000": 1.0, "lenet_infer_b1000": 1.0}


def shapes_after(model):
    """[(layer spec, input shape (H, W, C) or (D,), output shape)] for a model spec."""
    spec = MODELS[model]
    shape = spec["input"]
    out = []
    for layer in spec["layers"]:
        kind = layer[0]
        if kind == "conv":
            H, W, _ = shape
            k = layer[2]
            Ho, Wo = (H, W) if layer[3] == "same" else (H - k + 1, W - k + 1)
            new = (Ho, Wo, layer[1])
        elif kind in ("avgpool_same", "maxpool"):
            H, W, C = shape
            p = layer[1]
            new = ((H + p - 1) // p, (W + p - 1) // p, C) if kind == "avgpool_same" else (H // p, W // p, C)
        elif kind == "flatten":
            n = 1
            for d in shape:
                n *= d
            new = (n,)
        else:
            new = (layer[1],)
        out.append((layer, shape, new))
        shape = new
    return out


def gemms(model, batch, train):
    """The matrix products one step performs, as (M, K, N) triples (an (M, K) @ (K, N)): the
    forward product of every conv (im2col) and dense layer, and for training the weight
    gradient and (except for the first layer) the input gradient."""
    out = []
    first = True
    for layer, shp_in, shp_out in shapes_after(model):
        if layer[0] == "conv":
            Ho, Wo, F = shp_out
            M, K, N = batch * Ho * Wo, layer[2] * layer[2] * shp_in[2], F
        elif layer[0] == "dense":
            M, K, N = batch, shp_in[0], layer[1]
        else:
            continue
        out.append((M, K, N))
        if train:
            out.append((K, M, N))  # dW = col^T @ dz
            if not first:
                out.append((M, N, K))  # dx = dz @ W^T
        first = False
    return out


def flops(model, batch, train):
    return sum(2 * M * K * N for M, K, N in gemms(model, batch, train))
