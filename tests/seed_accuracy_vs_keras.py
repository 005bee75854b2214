"""Run the four seed programs of issue 2 with nnscratch and with tf.keras on Fashion-MNIST and
print their test accuracies side by side (issue 2: ours may be at most 1 point below Keras's).

    python tests/seed_accuracy_vs_keras.py                 # 60,000 images, 1 epoch each
    python tests/seed_accuracy_vs_keras.py --n-train 10000 --programs mlp lenet
    python tests/seed_accuracy_vs_keras.py --seeds 0 1 2 3   # one-epoch runs vary by ~1.5 points
                                                             # between seeds: compare the means

Not collected by pytest (no test_ prefix): it takes minutes. TensorFlow is limited to 2 threads.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import helpers  # noqa: E402  (tests/ is this script's directory, so it is on sys.path)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-train", type=int, default=60000, help="training images used (default all 60,000)")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--programs", nargs="+", default=list(helpers.SEED_PROGRAMS), choices=list(helpers.SEED_PROGRAMS))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0], help="one run per seed (default: 0)")
    parser.add_argument("--threads", type=int, default=2, help="TensorFlow intra/inter-op threads")
    args = parser.parse_args(argv)
    if not helpers.fashion_mnist_available():
        sys.exit(f"Fashion-MNIST not found in {helpers.FASHION_DIR}")
    data = helpers.load_fashion_mnist()

    import nnscratch as nn
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    keras = tf.keras

    rows = []
    for name in args.programs:
        for seed in args.seeds:
            nn.utils.set_random_seed(seed)
            t0 = time.perf_counter()
            ours, _ = helpers.run_seed_program(name, nn, data, args.n_train, args.epochs)
            t_ours = time.perf_counter() - t0
            keras.utils.set_random_seed(seed)
            t0 = time.perf_counter()
            theirs, _ = helpers.run_seed_program(name, keras, data, args.n_train, args.epochs)
            t_keras = time.perf_counter() - t0
            rows.append((name, seed, ours, theirs, t_ours, t_keras))
            print(f"  done {name} seed {seed}: nnscratch {ours:.4f}  keras {theirs:.4f}", flush=True)

    print(f"\nFashion-MNIST, {args.n_train} training images, {args.epochs} epoch(s); "
          "test accuracy on the 10,000 test images")
    print(f"{'program':<20}{'seed':>6}{'nnscratch':>11}{'keras':>9}{'diff (pts)':>12}{'t ours':>9}{'t keras':>9}")
    for name, seed, ours, theirs, t1, t2 in rows:
        print(f"{name:<20}{seed:>6}{ours:>11.4f}{theirs:>9.4f}{100 * (ours - theirs):>+12.2f}{t1:>8.1f}s{t2:>8.1f}s")
    print(f"\n{'program':<20}{'runs':>6}{'mean ours':>11}{'mean keras':>12}{'diff (pts)':>12}{'within 1 pt':>13}")
    for name in args.programs:
        mine = [r for r in rows if r[0] == name]
        ours = sum(r[2] for r in mine) / len(mine)
        theirs = sum(r[3] for r in mine) / len(mine)
        diff = 100 * (ours - theirs)
        print(f"{name:<20}{len(mine):>6}{ours:>11.4f}{theirs:>12.4f}{diff:>+12.2f}{'yes' if diff >= -1.0 else 'NO':>13}")


if __name__ == "__main__":
    main()
