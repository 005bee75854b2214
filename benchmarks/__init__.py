"""Side-by-side CPU benchmarks: nnscratch vs PyTorch vs Keras (TensorFlow), same data, same
batch sizes, float32, the same thread count, each measurement in a fresh process.

    python -m benchmarks run [--quick] [--reps N] [--engines nnscratch,torch,keras] [--out DIR]
    python -m benchmarks micro [--models lenet,convnet,mlp] [--out DIR]

See benchmarks/README.md for what is measured and the latest table.
"""
