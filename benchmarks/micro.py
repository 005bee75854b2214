"""Per-layer micro-benchmarks of nnscratch: where one training step's time goes.

For each model (at its benchmark batch size) and each layer: forward and backward time (best of
several rounds), and how much of it is matrix products, measured by timing NumPy matmuls of the
layer's own GEMM shapes; "other" is the rest (im2col/col2im copies, activations, pooling,
bias, reshapes, Python). Then the loss, the Adam step and one whole train_step, so the layer
rows can be checked against the total. Run through ``python -m benchmarks micro`` (which sets
the same threads and environment as the side-by-side run).
"""
from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np

from nnscratch.bench import report
from nnscratch.models import cpu_threads, data_adapter
from nnscratch.bench.gemm import time_gemm
from nnscratch.bench.data import one_hot
from nnscratch.bench.workloads import BY_NAME, MODELS, ONE_HOT, gemms

BATCH = {"mlp": BY_NAME["mlp_train_b32"].batch, "lenet": BY_NAME["lenet_train_b64"].batch,
         "convnet": BY_NAME["convnet_train_b64"].batch, "mnist_convnet": BY_NAME["mnist_convnet_train_b128"].batch}


def best_ms(fn, budget=0.2, rounds=5):
    """Best time of ``fn`` in ms over ``rounds`` rounds of about budget/rounds seconds each."""
    fn()
    t0 = time.perf_counter()
    fn()
    once = max(time.perf_counter() - t0, 1e-6)
    inner = max(1, int(budget / rounds / once))
    best = float("inf")
    for _ in range(rounds):
        t0 = time.perf_counter()
        for _ in range(inner):
            fn()
        best = min(best, (time.perf_counter() - t0) / inner)
    return best * 1e3


def profile_model(name):
    from nnscratch.bench.engines import nnscratch_engine

    batch = BATCH[name]
    model = nnscratch_engine.build(name, seed=0)
    with cpu_threads.blas_scope(model, batch), model.fixed_parameters():  # the BLAS threading fit() uses for this model
        return _profile(model, name, batch)


def _profile(model, name, batch):
    rng = np.random.default_rng(0)
    x = rng.random((batch,) + tuple(model.input_shape[1:]), dtype=np.float32)
    y = rng.integers(0, 10, size=batch)
    if MODELS[name]["loss"] == ONE_HOT:
        y = one_hot(y)
    model.train_on_batch(x, y)  # builds optimizer state
    layer_gemms = _gemms_per_layer(model, name, batch)
    rows = []
    h = x
    trainable_seen = False
    for layer in model.layers:
        inp = h
        out = layer(inp, training=True)
        dy = rng.standard_normal(out.shape).astype(np.float32)
        first = bool(layer.params) and not trainable_seen
        trainable_seen = trainable_seen or bool(layer.params)
        layer.need_input_grad = not first  # as in fit: the first trainable layer computes no dx

        def fwd(layer=layer, inp=inp):
            layer.forward(inp, training=True)

        def bwd(layer=layer, inp=inp, dy=dy):
            layer.backward(dy)

        f_ms = best_ms(fwd)
        layer.forward(inp, training=True)
        b_ms = best_ms(bwd)
        layer.need_input_grad = True
        g = layer_gemms.get(layer.name, {"fwd": [], "bwd": []})
        gf = sum(time_gemm(*s, budget=0.02, reps=3) for s in g["fwd"]) * 1e3
        gb = sum(time_gemm(*s, budget=0.02, reps=3) for s in g["bwd"]) * 1e3
        rows.append({"layer": f"{type(layer).__name__} {layer.name}", "input": list(inp.shape), "fwd_ms": f_ms,
                     "bwd_ms": b_ms, "gemm_fwd_ms": gf, "gemm_bwd_ms": gb})
        h = out
    loss = model.loss
    logits = model.output_layer().logits
    yd = data_adapter.prepare_y(model, y, batch)
    loss_ms = best_ms(lambda: (loss.forward_logits(logits, yd), loss.backward()))
    opt_ms = best_ms(lambda: model.optimizer.step(model.parameters()))
    step_ms = best_ms(lambda: model.train_step(x, yd, model._metric_fns(yd.shape)))
    return {"model": name, "batch": batch, "layers": rows, "loss_ms": loss_ms, "adam_ms": opt_ms, "train_step_ms": step_ms}


def _gemms_per_layer(model, name, batch):
    """{layer name: {'fwd': [(M, K, N)], 'bwd': [...]}} following workloads.gemms's order."""
    names = [l.name for l in model.layers if l.params]
    shapes = gemms(name, batch, train=True)
    out, i = {}, 0
    for k, lname in enumerate(names):
        n = 2 if k == 0 else 3
        out[lname] = {"fwd": [shapes[i]], "bwd": shapes[i + 1:i + n]}
        i += n
    return out


def markdown(results):
    lines = []
    for r in results:
        lines += [f"### {r['model']} (batch {r['batch']}): one train_step {r['train_step_ms']:.2f} ms", "",
                  "| layer | input | forward ms (GEMM) | backward ms (GEMM) | other ms |", "|---|---|---|---|---|"]
        tot = tg = 0.0
        for row in r["layers"]:
            other = row["fwd_ms"] + row["bwd_ms"] - row["gemm_fwd_ms"] - row["gemm_bwd_ms"]
            tot += row["fwd_ms"] + row["bwd_ms"]
            tg += row["gemm_fwd_ms"] + row["gemm_bwd_ms"]
            lines.append(f"| {row['layer']} | {tuple(row['input'])} | {row['fwd_ms']:.3f} ({row['gemm_fwd_ms']:.3f}) | "
                         f"{row['bwd_ms']:.3f} ({row['gemm_bwd_ms']:.3f}) | {max(other, 0):.3f} |")
        lines.append(f"| loss (fused softmax + cross-entropy) | | {r['loss_ms']:.3f} | | |")
        lines.append(f"| Adam step (all parameters) | | {r['adam_ms']:.3f} | | |")
        total = tot + r["loss_ms"] + r["adam_ms"]
        lines += ["", f"Layers + loss + Adam: {total:.2f} ms (train_step measured: {r['train_step_ms']:.2f} ms); "
                  f"GEMM {tg:.2f} ms = {100 * tg / total:.0f}% of it.", ""]
    return "\n".join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m benchmarks.micro")
    p.add_argument("--models", default="mlp,lenet,convnet")
    p.add_argument("--out", default="benchmarks/results")
    a = p.parse_args(argv)
    models = [m for m in a.models.split(",") if m]
    for m in models:
        if m not in BATCH:
            raise SystemExit(f"unknown model {m!r}; choose from {', '.join(BATCH)}")
    results = [profile_model(m) for m in models]
    text = markdown(results)
    print(text)
    report.atomic_write(os.path.join(a.out, "micro.json"), json.dumps(results, indent=1) + "\n")
    report.atomic_write(os.path.join(a.out, "micro.md"), "# nnscratch per-layer micro-benchmarks\n\n" + text)


if __name__ == "__main__":
    main()
