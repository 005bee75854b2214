"""The commands: ``train``, ``evaluate`` and ``predict``."""
from __future__ import annotations

import datetime
import json
import os
import sys

import numpy as np

import nnscratch as nn
from nnscratch import datasets
from nnscratch.cli.setup import CLIError, _atomic_write_text, _StepRecorder, load_dataset, _input_shape, Setup, _common, _limit


# ----------------------------------------------------------------------------- commands
def cmd_train(args):
    _common(args)
    data, class_names, source = load_dataset(args.dataset)
    (x_train, y_train), (x_test, y_test) = _limit(data[0], args.limit), _limit(data[1], args.test_limit)
    num_classes = len(class_names)
    setup = Setup(args, _input_shape(x_train), num_classes)
    setup.compile(args)
    out = args.out or os.path.join("runs", datetime.datetime.now().strftime("%Y%m%d-%H%M%S"))
    os.makedirs(out, exist_ok=True)
    print(f"data: {source}")
    print(f"using {len(x_train)} training images and {len(x_test)} test images, {num_classes} classes")
    print(f"model: {setup.name}, batch size {setup.batch_size}, {args.epochs} epoch(s) -> {out}")
    if args.verbose:
        setup.model.summary()

    xtr, ytr = setup.inputs(x_train), setup.labels(y_train)
    xte, yte = setup.inputs(x_test), setup.labels(y_test)
    fit_kwargs = dict(batch_size=setup.batch_size, epochs=args.epochs, verbose=0 if args.quiet else 1)
    if args.model == "dropout-mlp":
        fit_kwargs["validation_data"] = (xte, yte)
    recorder = _StepRecorder()
    csv_logger = nn.callbacks.CSVLogger(os.path.join(out, "history.csv"))  # Keras's layout, written atomically
    history = setup.model.fit(xtr, ytr, callbacks=[recorder, csv_logger], **fit_kwargs)
    test_loss, test_acc = setup.model.evaluate(xte, yte, batch_size=setup.batch_size, verbose=0)
    print(f"test loss {float(test_loss):.4f} - test accuracy {float(test_acc):.4f}")

    hist = {k: [float(v) for v in vs] for k, vs in history.history.items()}
    setup.model.save_weights(os.path.join(out, "weights.npz"))
    _atomic_write_text(os.path.join(out, "history.json"), json.dumps(hist, indent=2) + "\n")
    y_pred = setup.probabilities(xte).argmax(axis=1)
    y_true = np.asarray(y_test).reshape(-1)
    nn.plot.plot_history(hist, path=os.path.join(out, "learning_curves.png"), batch_history=recorder.steps)
    nn.plot.plot_samples(x_test, y_true, y_pred, class_names=class_names,
                         path=os.path.join(out, "samples.png"))
    nn.plot.plot_confusion_matrix(y_true, y_pred, class_names=class_names, num_classes=num_classes,
                                  path=os.path.join(out, "confusion_matrix.png"))
    config = dict(vars(args), command="train", out=out, data_source=source,
                  train_images=len(x_train), test_images=len(x_test), num_classes=num_classes,
                  batch_size=setup.batch_size, backend=nn.backend.current(),
                  test_loss=float(test_loss), test_accuracy=float(test_acc))
    config.pop("func", None)
    _atomic_write_text(os.path.join(out, "config.json"), json.dumps(config, indent=2) + "\n")
    print(f"wrote weights, history, plots and config to {out}")
    return 0


def _model_from_config(args):
    """No --model: the model that ``train`` recorded in the config.json beside the weights
    (lenet, the train default, when there is no config.json)."""
    if args.model is not None:
        return
    path = os.path.join(os.path.dirname(os.path.abspath(args.weights)), "config.json")
    if not os.path.isfile(path):
        args.model = "lenet"
        return
    try:
        with open(path, encoding="utf-8") as fh:
            model = json.load(fh).get("model")
    except (ValueError, AttributeError) as exc:  # bad JSON or UTF-8, or not an object
        model = exc
    if not isinstance(model, str) or not model:
        found = str(model).splitlines()[0] if isinstance(model, Exception) else f"model: {model!r}"
        raise CLIError(f"{path}: no model name found ({found}); pass --model")
    args.model = model
    print(f"model: {model} (from {path})", file=sys.stderr)


def _load_weights(setup, args, example):
    """Build the model, load the weights, then compile (for the loss and metrics).

    Loading before ``compile`` skips the optimizer state stored in the file, which evaluating
    and predicting do not need."""
    if not os.path.isfile(args.weights):
        raise FileNotFoundError(f"weights file {args.weights!r} not found")
    if not setup.model.built:
        setup.model.predict(example[:1], verbose=0)  # a model without a declared input shape builds on data
    try:
        setup.model.load_weights(args.weights)
    except (KeyError, AttributeError, IndexError, RecursionError, UnicodeDecodeError) as exc:  # a reader's slip
        raise ValueError(f"{args.weights}: not a valid weights file ({type(exc).__name__}: {exc})") from None
    setup.compile(args)


def cmd_evaluate(args):
    _common(args)
    _model_from_config(args)
    data, class_names, source = load_dataset(args.dataset)
    x_test, y_test = _limit(data[1], args.limit)
    setup = Setup(args, _input_shape(x_test), len(class_names))
    xte, yte = setup.inputs(x_test), setup.labels(y_test)
    _load_weights(setup, args, xte)
    print(f"data: {source}")
    print(f"using {len(x_test)} test images")
    loss, acc = setup.model.evaluate(xte, yte, batch_size=setup.batch_size, verbose=0)
    print(f"test loss {float(loss):.4f} - test accuracy {float(acc):.4f}")
    return 0


def _read_image(path, color_mode, size):
    if not os.path.isfile(path):
        raise FileNotFoundError(f"image {path!r} not found")
    img = nn.utils.load_img(path, color_mode=color_mode, target_size=size)
    return np.asarray(nn.utils.img_to_array(img), dtype=np.float32)


def cmd_predict(args):
    _common(args)
    _model_from_config(args)
    shape, names = {"cifar10": ((32, 32, 3), 10), "cifar100": ((32, 32, 3), 100)}.get(
        args.dataset, ((28, 28, 1), 10))
    class_names = _class_names(args.dataset) if not args.class_names else args.class_names.split(",")
    setup = Setup(args, shape, names)
    color = "rgb" if shape[2] == 3 else "grayscale"
    pixels = np.stack([_read_image(p, color, shape[:2]) for p in args.images])  # (N, H, W, C) 0..255
    if args.invert:
        pixels = 255.0 - pixels
    x = setup.inputs(pixels / 255.0)
    _load_weights(setup, args, x)
    probs = setup.probabilities(x)
    for path, p in zip(args.images, probs):
        k = int(p.argmax())
        label = class_names[k] if class_names and k < len(class_names) else str(k)
        print(f"{path}: {label} ({p[k]:.4f})")
    return 0


def _class_names(dataset):
    return list(datasets.CLASS_NAMES["fashion_mnist" if dataset == "sample" else dataset])
