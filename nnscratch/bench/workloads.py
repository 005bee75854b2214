"""The workloads: the course's seed models (MLP 784-128-10, LeNet), a larger conv net, and the
Keras example "Simple MNIST convnet" (keras-io examples/vision/mnist_convnet.py), for training
(one epoch, Adam(1e-3)) and inference (predict on the 10,000 test images at batch 1000). Every
engine builds the same architecture from these specs.

A model spec is an input shape, a loss, and a list of layers; each engine translates it
(nnscratch/Keras channels-last, PyTorch channels-first as its users write it):
    ("conv", filters, kernel, padding)   Conv2D + ReLU
    ("avgpool_same", 2)                  AveragePooling2D(2, strides=2, padding='same')
    ("maxpool", 2)                       MaxPooling2D(2)
    ("flatten",)
    ("dropout", rate)                    Dropout(rate)
    ("dense", units, activation)         activation 'relu' or 'softmax' (the output layer)
The loss is 'sparse_categorical_crossentropy' (integer labels) or 'categorical_crossentropy'
(one-hot float32 labels, as the Keras example writes it).
"""
from __future__ import annotations

from dataclasses import dataclass

SPARSE = "sparse_categorical_crossentropy"
ONE_HOT = "categorical_crossentropy"

MODELS = {
    "mlp": {"input": (784,), "loss": SPARSE, "layers": [("dense", 128, "relu"), ("dense", 10, "softmax")]},
    "lenet": {"input": (28, 28, 1), "loss": SPARSE, "layers": [
        ("conv", 6, 3, "valid"), ("avgpool_same", 2), ("conv", 16, 3, "valid"), ("avgpool_same", 2),
        ("flatten",), ("dense", 120, "relu"), ("dense", 84, "relu"), ("dense", 10, "softmax")]},
    "convnet": {"input": (28, 28, 1), "loss": SPARSE, "layers": [
        ("conv", 32, 3, "same"), ("conv", 32, 3, "same"), ("maxpool", 2),
        ("conv", 64, 3, "same"), ("conv", 64, 3, "same"), ("maxpool", 2),
        ("flatten",), ("dense", 256, "relu"), ("dense", 10, "softmax")]},
    # keras-io examples/vision/mnist_convnet.py, layer for layer: compile(loss="categorical_crossentropy",
    # optimizer="adam") on to_categorical labels, fit(batch_size=128, validation_split=0.1).
    "mnist_convnet": {"input": (28, 28, 1), "loss": ONE_HOT, "layers": [
        ("conv", 32, 3, "valid"), ("maxpool", 2), ("conv", 64, 3, "valid"), ("maxpool", 2),
        ("flatten",), ("dropout", 0.5), ("dense", 10, "softmax")]},
}


@dataclass(frozen=True)
class Workload:
    name: str
    model: str
    kind: str  # 'train' (one epoch of fit) or 'infer' (predict over the test set)
    batch: int
    images: int  # training images per epoch (validation included), or test images predicted
    quick_images: int
    validation_split: float = 0.0  # fit(validation_split=...): the last fraction is evaluated, not trained on
    note: str = ""

    def n_images(self, quick):
        return self.quick_images if quick else self.images

    def split(self, quick):
        """(images trained on, images validated on) in one epoch (Keras: int(n * (1 - split)))."""
        n = self.n_images(quick)
        if self.kind != "train" or not self.validation_split:
            return (n, 0) if self.kind == "train" else (0, n)
        n_train = int(n * (1.0 - self.validation_split))
        return n_train, n - n_train

    def warmup_images(self):
        """Images for the untimed warm-up fit: 4.5 batches, so that Keras traces its step for the
        full and the partial batch; with a validation split, enough that the validation part also
        has a full and a partial batch."""
        n = 4 * self.batch + self.batch // 2
        while self.validation_split and n - int(n * (1.0 - self.validation_split)) <= self.batch:
            n += self.batch // 2
        return n


WORKLOADS = [
    Workload("mlp_train_b32", "mlp", "train", 32, 60000, 10000),
    Workload("mlp_train_b128", "mlp", "train", 128, 60000, 10000),
    Workload("lenet_train_b64", "lenet", "train", 64, 60000, 10000),
    Workload("mnist_convnet_train_b128", "mnist_convnet", "train", 128, 60000, 4000, validation_split=0.1,
             note="the Keras example's epoch: fit on 54,000 images, validate on the last 6,000"),
    Workload("convnet_train_b64", "convnet", "train", 64, 10000, 2000,
             note="first 10,000 training images (2,000 with --quick): a full epoch takes minutes"),
    Workload("mlp_infer_b1000", "mlp", "infer", 1000, 10000, 10000),
    Workload("lenet_infer_b1000", "lenet", "infer", 1000, 10000, 10000),
    Workload("mnist_convnet_infer_b1000", "mnist_convnet", "infer", 1000, 10000, 2000),
    Workload("convnet_infer_b1000", "convnet", "infer", 1000, 10000, 2000),
]
BY_NAME = {w.name: w for w in WORKLOADS}

#: The targets of issue 17: nnscratch time / PyTorch time must be at most this.
TARGETS = {"mlp_train_b32": 0.5, "mlp_train_b128": 1.0, "lenet_train_b64": 0.8,
           "mnist_convnet_train_b128": 1.0, "convnet_train_b64": 1.0,
           "mlp_infer_b1000": 1.0, "lenet_infer_b1000": 1.0,
           "mnist_convnet_infer_b1000": 1.0, "convnet_infer_b1000": 1.0}


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
        elif kind == "dropout":
            new = shape
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


def epoch_plan(workload, quick=False):
    """One timed run's matrix products: [(steps, batch, train)] covering the full and the partial
    batch of the trained part and of the predicted (test or validation) part."""
    n_train, n_eval = workload.split(quick)
    plan = []
    for n, train in ((n_train, True), (n_eval, False)):
        full, rem = divmod(n, workload.batch)
        plan += [(steps, b, train) for steps, b in ((full, workload.batch), (1, rem)) if steps and b]
    return plan


def epoch_flops(workload, quick=False):
    """GEMM FLOPs of one timed run (an epoch of fit, validation included, or one predict)."""
    return sum(steps * flops(workload.model, b, train) for steps, b, train in epoch_plan(workload, quick))
